"""The Host check (DNS rebinding) and the loopback test /dev/token uses."""

from __future__ import annotations

import pytest

from realtime.server.gateway.pages import _is_loopback
from realtime.server.platform.health import watcher_address
from realtime.server.platform.hosts import HostPolicy, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8080", "localhost"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        ("A.Example.:80", "a.example"),
        ("x", "x"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_listen_accepts_loopback_names_only() -> None:
    policy = HostPolicy("127.0.0.1:8080")
    for ok in (
        None,
        "127.0.0.1:8080",
        "127.0.0.2",
        "localhost:8080",
        "LOCALHOST",
        "app.localhost:1",
        "[::1]:8080",
    ):
        assert policy.allows(ok), ok
    for bad in (
        "evil.example:8080",
        "127.0.0.1.nip.io",
        "localhost.evil.example",
        "192.168.1.5:8080",
        "",
        ":80",
    ):
        assert not policy.allows(bad), bad


def test_named_listen_address_and_allowed_hosts() -> None:
    policy = HostPolicy("hub.internal:8080", allowed=("Hub.Example.Com",))
    assert policy.allows("hub.internal:8080") and policy.allows("hub.example.com")
    assert not policy.allows("other.example")
    assert HostPolicy("127.0.0.1:8080", allowed=("*",)).allows("anything.example")


def test_wildcard_listen_accepts_any_address_but_not_unknown_names() -> None:
    policy = HostPolicy("0.0.0.0:8080")
    assert policy.allows("10.1.2.3:8080") and policy.allows("[fe80::1]:8080")
    assert not policy.allows("evil.example")


def test_loopback_peer() -> None:
    for peer in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"):
        assert _is_loopback(peer)
    for peer in (None, "", "10.0.0.1", "::ffff:10.0.0.1", "not an ip"):
        assert not _is_loopback(peer)


class _Context:
    def __init__(self, peer: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self._peer, self._metadata = peer, metadata

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


def test_health_watchers_are_counted_per_address() -> None:
    xff = (("x-forwarded-for", "10.0.0.7"),)
    assert watcher_address(_Context("ipv4:127.0.0.1:5555", xff)) == "10.0.0.7"  # the gateway
    assert watcher_address(_Context("ipv6:[::1]:5555", xff)) == "10.0.0.7"
    assert watcher_address(_Context("ipv4:192.0.2.9:5555", xff)) == "192.0.2.9"  # remote: header ignored
    assert watcher_address(_Context("ipv4:127.0.0.1:5555", ())) == "127.0.0.1"
    assert watcher_address(_Context("unix:", xff)) == "10.0.0.7"  # the gateway's socket under TLS
