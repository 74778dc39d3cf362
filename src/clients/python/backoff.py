"""Exponential backoff with full jitter, and streams that reconnect with it.

When the server says how long to stay away (a `google.rpc.RetryInfo` detail, as the hub sends with
UNAVAILABLE and RESOURCE_EXHAUSTED refusals), that advice is a floor: `Backoff.delay_after(err)` is
`max(own full-jitter delay, uniform(advice, 1.5 * advice))`, advice capped at 300 s, so a fleet told
"1 s" neither comes back early nor all in the same millisecond. Every retry loop of this client
(`reconnecting`, `NotificationSubscription`, `upload`, `read_to_file`) waits through it; the
TypeScript clients apply the same rule (src/clients/web/reconnect.ts `retryDelay`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

T = TypeVar("T")

#: The longest server advice honoured: a bogus RetryInfo of a day does not park the client for a day.
MAX_ADVICE = 300.0

# Codes after which reopening the same stream can succeed.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


@dataclass
class Backoff:
    """Delays of `random(0, min(cap, base * 2**attempt))` ("full jitter"), never less than the
    server's RetryInfo advice after an error that carries one (`delay_after`).

    `rng` and `sleep` are what the retry loops draw from and wait with: tests pass a seeded
    `random.Random` and a recording sleep.
    """

    base: float = 0.2
    cap: float = 15.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap, self.base * (2**self.attempt)))
        self.attempt += 1
        return delay

    def delay_after(self, err: grpc.aio.AioRpcError) -> float:
        """The wait before the next attempt after `err`: the next full-jitter delay, but at least the
        server's advice, with up to half of it again as jitter (`uniform(advice, 1.5 * advice)`)."""
        delay = self.next_delay()
        advised = retry_after(err)
        if advised is not None:
            delay = max(delay, self.rng.uniform(advised, advised * 1.5))
        return delay

    def reset(self) -> None:
        self.attempt = 0


async def reconnecting(
    open_stream: Callable[[], AsyncIterator[T]],
    *,
    backoff: Backoff | None = None,
    retryable: frozenset[grpc.StatusCode] = RETRYABLE,
    max_attempts: int | None = None,
    on_retry: Callable[[grpc.aio.AioRpcError, float], None] | None = None,
) -> AsyncIterator[T]:
    """Yield events of `open_stream()`, reopening it after retryable failures.

    `open_stream` is called again for every attempt, so it can resume from the
    last position it saw (for example a notification offset). The backoff resets
    once an attempt delivers an event. A clean end of the stream ends iteration.
    The wait is `backoff.delay_after(err)`: never less than the server's RetryInfo.
    """
    backoff = backoff or Backoff()
    failures = 0
    while True:
        try:
            async for event in open_stream():
                backoff.reset()
                failures = 0
                yield event
            return
        except grpc.aio.AioRpcError as err:
            failures += 1
            if err.code() not in retryable or (max_attempts is not None and failures >= max_attempts):
                raise
            delay = backoff.delay_after(err)
            if on_retry is not None:
                on_retry(err, delay)
            await backoff.sleep(delay)


def retry_after(err: grpc.aio.AioRpcError) -> float | None:
    """Seconds the server's `google.rpc.RetryInfo` asks the client to wait, if it sent one."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # malformed details: fall back to the client's own backoff
            return None
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                seconds: float = info.retry_delay.ToTimedelta().total_seconds()
                return min(max(seconds, 0.0), MAX_ADVICE)
    return None
