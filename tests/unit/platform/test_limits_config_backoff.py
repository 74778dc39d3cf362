"""Pure logic of the platform: token bucket, stream cap, settings, backoff."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from realtime.client.backoff import Backoff
from realtime.server.config import load_settings
from realtime.server.platform.errors import Code, HubError
from realtime.server.platform.limits import RateLimiter, StreamLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_rate_and_reports_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("alice")
    with pytest.raises(HubError) as caught:
        limiter.acquire("alice")
    assert caught.value.code is Code.RESOURCE_EXHAUSTED
    assert caught.value.reason == "RATE_LIMIT_EXCEEDED"
    assert caught.value.retry_after == pytest.approx(0.1)
    clock.now += 0.1
    limiter.acquire("alice")
    limiter.acquire("bob")  # separate bucket
    clock.now += 100
    for _ in range(3):  # refills to burst, not beyond
        limiter.acquire("alice")
    with pytest.raises(HubError):
        limiter.acquire("alice")


def test_token_bucket_disabled_and_memory_bounded() -> None:
    RateLimiter(rate=0, burst=1).acquire("x")
    clock = FakeClock()
    limiter = RateLimiter(rate=1000, burst=1, clock=clock)
    limiter.MAX_IDLE_BUCKETS = 10
    for i in range(100):
        limiter.acquire(f"user{i}")
        clock.now += 1
    assert len(limiter._buckets) <= 10


def test_stream_limiter_counts_per_user() -> None:
    streams = StreamLimiter(2)
    streams.open("a")
    streams.open("a")
    with pytest.raises(HubError):
        streams.open("a")
    streams.open("b")
    streams.close("a")
    streams.open("a")
    assert streams.count("a") == 2
    streams.close("a")
    streams.close("a")
    assert streams.count("a") == 0


def test_settings_flags_beat_environment_beat_defaults() -> None:
    s = load_settings([], environ={})
    assert s.grpc_listen == "127.0.0.1:50051"
    assert s.http_listen == "127.0.0.1:8080"
    assert s.max_message_bytes == 1024 * 1024
    assert s.shutdown_grace == 30.0
    assert s.broker == "sqlite"  # durable by default: <dev-dir>/hub.db
    env = {
        "REALTIME_GRPC_LISTEN": "127.0.0.1:6000",
        "REALTIME_LOG_FORMAT": "json",
        "REALTIME_RATE_LIMIT": "5",
    }
    s = load_settings(["--grpc-listen", "127.0.0.1:7000"], environ=env)
    assert (s.grpc_listen, s.log_format, s.rate_limit) == ("127.0.0.1:7000", "json", 5.0)
    s = load_settings(
        ["--jwt-secret-file", "/tmp/x", "--cors-origins", "https://a.test, https://b.test"], environ={}
    )
    assert s.jwt_secret_file == Path("/tmp/x")
    assert s.cors_origins == ("https://a.test", "https://b.test")


@pytest.mark.parametrize(
    "argv",
    [
        ["--grpc-listen", "nonsense"],
        ["--max-message-bytes", "0"],
        ["--log-format", "xml"],
        ["--broker", "kafka://x"],
        ["--broker", "sqlite://host/hub.db"],
        ["--broker", "sqlite:hub.db?durability=later"],
        ["--require-auth-config"],
        ["--jwt-secret-file", "a", "--jwt-public-key-file", "b"],
        ["--handshake-timeout", "0"],
        ["--handshake-timeout", "-1"],
        ["--handshake-timeout", "nan"],
        ["--handshake-timeout", "inf"],
        ["--handshake-timeout", "soon"],
    ],
)
def test_settings_reject_bad_values(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        load_settings(argv, environ={})


def test_settings_reject_bad_environment() -> None:
    with pytest.raises(SystemExit):
        load_settings([], environ={"REALTIME_SHUTDOWN_GRACE": "soon"})


def test_help_documents_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_settings(["--help"], environ={})
    text = capsys.readouterr().out
    for name in (
        "GRPC_LISTEN",
        "HTTP_LISTEN",
        "BROKER",
        "JWT_SECRET_FILE",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_AUDIENCE",
        "JWT_ISSUER",
        "MAX_MESSAGE_BYTES",
        "SHUTDOWN_GRACE",
        "LOG_FORMAT",
    ):
        assert f"REALTIME_{name}" in text


def test_backoff_full_jitter_is_bounded_and_resets() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(20)]
    assert all(0 <= d <= 1.0 for d in delays)
    assert max(delays[:2]) <= 0.2
    assert len(set(delays)) > 15  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 0.1
