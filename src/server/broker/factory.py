"""Build the broker named by `--broker`: "memory" or a redis:// URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Broker, Clock

DEFAULT_PREFIX = "rt:"


def split_prefix(url: str) -> tuple[str, str]:
    """`redis://h:6379/0?prefix=app1:` -> ("redis://h:6379/0", "app1:"): the key prefix rides in the URL
    so several hubs (or test runs) can share one Redis without seeing each other."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def create_broker(spec: str, *, clock: Clock | None = None) -> Broker:
    """A broker for `spec` (not started: call `await broker.start()`)."""
    if spec == "memory":
        from .memory import MemoryBroker

        return MemoryBroker(clock)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBroker

        url, prefix = split_prefix(spec)
        return RedisBroker(url, prefix=prefix, clock=clock)
    raise ValueError(f"unknown broker {spec!r}: expected 'memory' or a redis:// URL")
