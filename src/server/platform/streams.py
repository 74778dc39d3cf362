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
    nxt: asyncio.Future[T] | None = None
    try:
        while True:
            # One task per stream for the pending read, cancelled by shutdown (`interrupt`); an
            # idle stream holds nothing more.
            nxt = asyncio.ensure_future(anext(requests))  # type: ignore[arg-type]
            nxt.add_done_callback(quiet)
            shutdown.interrupt(nxt)
            try:
                command = await nxt
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if (task is not None and task.cancelling()) or not (shutdown.started and nxt.cancelled()):
                    raise  # this stream itself is being cancelled (client gone, token expired...)
                mark_going_away()
                yield None  # shutdown interrupted the read
                return
            yield command
    finally:
        if nxt is not None and not nxt.done():
            nxt.cancel()
