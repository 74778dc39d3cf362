"""Argument checks shared by every engine (same errors on all)."""

from __future__ import annotations

MAX_CHANNEL_LENGTH = 255
MAX_KEY_LENGTH = 512


def check_channel(channel: str) -> None:
    if not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise ValueError(f"channel must be 1..{MAX_CHANNEL_LENGTH} characters")
    if not channel.isprintable() or any(c.isspace() for c in channel):
        raise ValueError("channel must be printable with no spaces")


def check_key(key: str, what: str = "key") -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{what} must be 1..{MAX_KEY_LENGTH} characters")


def check_publish_args(
    channel: str, history_size: int, history_ttl: float, idempotency_key: str | None, idempotency_ttl: float
) -> None:
    check_channel(channel)
    if history_size < 0:
        raise ValueError("history_size must be >= 0")
    if history_ttl <= 0:
        raise ValueError("history_ttl must be positive")
    if idempotency_key is not None:
        check_key(idempotency_key, "idempotency_key")
        if idempotency_ttl <= 0:
            raise ValueError("idempotency_ttl must be positive")
