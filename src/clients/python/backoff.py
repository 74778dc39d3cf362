"""Exponential backoff with full jitter, and streams that reconnect with it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

T = TypeVar("T")

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
    """Delays of `random(0, min(cap, base * 2**attempt))` ("full jitter")."""

    base: float = 0.2
    cap: float = 15.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap, self.base * (2**self.attempt)))
        self.attempt += 1
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
            # The server's advice (RetryInfo on RESOURCE_EXHAUSTED/UNAVAILABLE) is a floor; jitter
            # on top of it keeps a fleet told "1 s" from all coming back in the same millisecond.
            advised = retry_after(err)
            delay = backoff.next_delay()
            if advised is not None:
                delay = max(delay, backoff.rng.uniform(advised, advised * 1.5))
            if on_retry is not None:
                on_retry(err, delay)
            await asyncio.sleep(delay)


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
                return min(seconds, 300.0)
    return None
