"""The shutdown signal every stream can watch to say "going away" before the server stops.

One going-away rule for every service: a stream that shutdown interrupted ends with UNAVAILABLE
(reason GOING_AWAY, `errors.going_away()`), which clients treat as "reconnect elsewhere", even when
its handler then simply returns. `commands_until_shutdown` (streams.py) marks the stream when it
hands the handler its `None`; the call wrapper (interceptor.py) turns a normal end of a marked
stream into that status. Handlers that raise `going_away()` themselves end the same way.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any


class StreamMark:
    """Per-stream flag shared by every task of the call (child tasks copy the context, which
    holds this same object, so a reader task's mark is seen by the call wrapper)."""

    __slots__ = ("going_away",)

    def __init__(self) -> None:
        self.going_away = False


_stream_mark: contextvars.ContextVar[StreamMark | None] = contextvars.ContextVar(
    "realtime_stream_mark", default=None
)


def bind_stream_mark() -> StreamMark:
    """Called by the call wrapper when a stream starts."""
    mark = StreamMark()
    _stream_mark.set(mark)
    return mark


def mark_going_away() -> None:
    """Record that shutdown interrupted the current stream (no-op outside a stream)."""
    mark = _stream_mark.get()
    if mark is not None:
        mark.going_away = True


class Reading:
    """The task reading a stream's next message, interrupted by shutdown without a task per read.

    `commands_until_shutdown` awaits each read in its own task and sets `task`/`active` around it.
    Shutdown cancels the task only while the read's future is still pending: a message that has
    already arrived (its task not yet resumed) is delivered, never dropped by the cancellation.
    """

    __slots__ = ("_owner", "active", "interrupted", "task")

    def __init__(self, owner: set[Reading]) -> None:
        self._owner = owner
        self.task: asyncio.Task[Any] | None = None
        self.active = False
        self.interrupted = False

    def interrupt(self) -> None:
        task = self.task
        if not self.active or task is None:
            return  # between reads: the next loop turn sees `started`
        waiter = getattr(task, "_fut_waiter", None)  # what the task awaits (CPython Task attribute)
        if waiter is None or waiter.done():
            return  # the message is in: deliver it; the next read sees `started`
        self.interrupted = True
        task.cancel()

    def done(self) -> None:
        self._owner.discard(self)


class Shutdown:
    """Set once when graceful shutdown starts.

    Stream handlers race their work against `future` (one shared future, so an
    open stream costs no extra task) or register a pending read with `interrupt`;
    when shutdown starts they send a `going_away` event and end the stream, within
    `grace` seconds.
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._future: asyncio.Future[None] | None = None
        self._started = False
        self._interruptible: set[asyncio.Future[Any]] = set()
        self._readers: set[Reading] = set()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def future(self) -> asyncio.Future[None]:
        """Done once shutdown starts. Never cancel it: it is shared by every stream."""
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
            if self._started:
                self._future.set_result(None)
        return self._future

    def start(self) -> None:
        self._started = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)
        pending, self._interruptible = self._interruptible, set()
        for fut in pending:
            fut.cancel()
        readers, self._readers = self._readers, set()
        for reader in readers:
            reader.interrupt()

    def reading(self) -> Reading:
        """A stream's reads that shutdown may interrupt (see `Reading`); `done()` it at the end."""
        reader = Reading(self._readers)
        self._readers.add(reader)
        return reader

    def interrupt(self, fut: asyncio.Future[Any]) -> None:
        """Cancel `fut` when shutdown starts (at once if it has): e.g. a stream's pending read.

        Cheaper per idle stream than racing each read against `future` with asyncio.wait
        (a set, a waiter, callbacks and two coroutine frames per stream)."""
        if self._started:
            fut.cancel()
            return
        self._interruptible.add(fut)
        fut.add_done_callback(self._interruptible.discard)

    async def wait(self) -> None:
        await asyncio.shield(self.future)
