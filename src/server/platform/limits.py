"""Per-user limits: a token bucket for call starts and a cap on open streams.

Both are plain Python with an injectable clock so tests can move time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import resource_exhausted


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per user: `rate` tokens per second, at most `burst` saved up.

    `rate <= 0` disables the limit.
    """

    MAX_IDLE_BUCKETS = 50_000

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, user: str, cost: float = 1.0) -> None:
        """Take `cost` tokens or raise RESOURCE_EXHAUSTED (RATE_LIMIT_EXCEEDED) with RetryInfo."""
        if self.rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            if len(self._buckets) >= self.MAX_IDLE_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens + 1e-9 >= cost:  # float refill of exactly one token must count
            bucket.tokens -= cost
            return
        wait = (cost - bucket.tokens) / self.rate
        raise resource_exhausted(
            f"rate limit exceeded: {self.rate:g} calls/s with bursts of {self.burst}; retry in {wait:.3f}s",
            reason="RATE_LIMIT_EXCEEDED",
            retry_after=wait,
        )

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those to bound memory.
        full = [u for u, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for user in full:
            del self._buckets[user]


class StreamLimiter:
    """At most `limit` open streams per user (`limit <= 0` disables it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open(self, user: str) -> None:
        count = self._open.get(user, 0)
        if 0 < self.limit <= count:
            raise resource_exhausted(
                f"too many open streams: {count} of {self.limit} allowed per user; close one first",
                reason="RATE_LIMIT_EXCEEDED",
                retry_after=1.0,
            )
        self._open[user] = count + 1

    def close(self, user: str) -> None:
        count = self._open.get(user, 0) - 1
        if count <= 0:
            self._open.pop(user, None)
        else:
            self._open[user] = count

    def count(self, user: str) -> int:
        return self._open.get(user, 0)
