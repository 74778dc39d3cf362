"""DNS-rebinding guard for the HTTP port: the `Host` a browser sends must name this hub.

A page on `evil.example` whose name is made to resolve to 127.0.0.1 reaches a hub on loopback
with `Host: evil.example:8080`; the gateway takes its own origin from that header, so without
this check the page would pass as same-origin (and could mint dev tokens). Accepted hosts: the
listen address, loopback names and addresses (`localhost`, `*.localhost`, 127.0.0.0/8, ::1),
any IP address when listening on all interfaces (an address cannot be rebound), and the names
given with `--allowed-hosts` (`*` accepts any).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


def host_name(header: str) -> str:
    """`Host` header -> the host part, lower case: `[::1]:8080` -> `::1`, `a.b:80` -> `a.b`."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class HostPolicy:
    def __init__(self, listen: str, allowed: Iterable[str] = ()) -> None:
        self._listen = host_name(listen.rpartition(":")[0]) if ":" in listen else ""
        self._wildcard = self._listen in WILDCARDS
        self._names = frozenset(host_name(h) for h in allowed if h.strip())
        self._any = "*" in self._names

    def allows(self, header: str | None) -> bool:
        """No `Host` header (HTTP/1.0, not a browser) is allowed."""
        if header is None or self._any:
            return True
        name = host_name(header)
        if not name:
            return False
        if name == self._listen or name in self._names:
            return True
        address = _address(name)
        if address is not None:
            return address.is_loopback or self._wildcard
        return name == "localhost" or name.endswith(".localhost")


def host_guard(policy: HostPolicy) -> Middleware:
    """aiohttp middleware answering 421 to a request whose `Host` is not this hub."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Host")
        if not policy.allows(header):
            return web.Response(
                status=421,
                text=f"Host {header!r} is not served here; add it to --allowed-hosts if it names this hub\n",
            )
        return await handler(request)

    return guard
