"""Helpers for bidirectional streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from .shutdown import Shutdown, mark_going_away

T = TypeVar("T")


def quiet(task: asyncio.Future[Any]) -> None:
    """Done-callback for a future whose failure is expected and may go unread (a read abandoned
    at shutdown or abort): retrieve it so asyncio does not log "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


async def commands_until_shutdown(requests: AsyncIterator[T], shutdown: Shutdown) -> AsyncIterator[T | None]:
    """Yield the client's commands; yield `None` once when shutdown starts, then stop.

    On `None` a handler sends its `going_away` event and ends: the stream is marked, so it ends
    with `errors.going_away()` (UNAVAILABLE, reason GOING_AWAY) and clients reconnect, whether
    the handler raises that itself or returns (shutdown.py). The stream ends normally when the
    client half-closes.
    """
    if shutdown.started:
        mark_going_away()
        yield None
        return
    # No task per read (a task costs two event-loop turns per message): the reading task itself
    # is interrupted by shutdown, only while its read is still pending (shutdown.Reading).
    reader = shutdown.reading()
    try:
        while True:
            if shutdown.started:
                mark_going_away()
                yield None  # shutdown started between reads
                return
            task = reader.task = asyncio.current_task()
            reader.active = True
            try:
                command = await anext(requests)  # type: ignore[call-overload]
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not reader.interrupted or task is None or task.cancelling() > 1:
                    raise  # this stream itself is being cancelled (client gone, token expired...)
                task.uncancel()
                mark_going_away()
                yield None  # shutdown interrupted the read
                return
            finally:
                reader.active = False
            yield command
    finally:
        reader.done()
