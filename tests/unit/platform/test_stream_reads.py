"""`commands_until_shutdown` without a task per read: shutdown interrupts only a pending read,
never drops a message that has already arrived, and never swallows a real cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from realtime.server.platform.shutdown import Shutdown, bind_stream_mark
from realtime.server.platform.streams import commands_until_shutdown


class Requests:
    """A client's messages as grpc hands them: an async iterator over a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


async def consume(
    requests: Requests, shutdown: Shutdown, got: list[str | None], reading: asyncio.Event
) -> bool:
    mark = bind_stream_mark()
    async for command in commands_until_shutdown(requests, shutdown):
        got.append(command)
        reading.set()
    return mark.going_away


async def test_shutdown_interrupts_a_pending_read_and_marks_the_stream() -> None:
    shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
    task = asyncio.create_task(consume(requests, shutdown, got, reading))
    requests.queue.put_nowait("a")
    await reading.wait()
    await asyncio.sleep(0)  # the consumer is back in its read
    shutdown.start()
    assert await asyncio.wait_for(task, 5) is True
    assert got == ["a", None]
    assert not task.cancelled() and task.cancelling() == 0


async def test_a_message_that_arrived_as_shutdown_started_is_delivered_first() -> None:
    for _ in range(20):
        shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
        task = asyncio.create_task(consume(requests, shutdown, got, reading))
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the consumer waits in its read
        requests.queue.put_nowait("last words")  # the read completes; the consumer is not resumed yet
        shutdown.start()
        assert await asyncio.wait_for(task, 5) is True
        assert got == ["last words", None]


async def test_a_real_cancellation_is_not_mistaken_for_shutdown() -> None:
    shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
    task = asyncio.create_task(consume(requests, shutdown, got, reading))
    await asyncio.sleep(0)
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == []

    shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
    task = asyncio.create_task(consume(requests, shutdown, got, reading))
    await asyncio.sleep(0)
    shutdown.start()
    task.cancel()  # both at once: the stream's own cancellation wins
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_started_before_or_between_reads_ends_with_going_away() -> None:
    shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
    shutdown.start()
    assert await consume(requests, shutdown, got, reading) is True
    assert got == [None]

    shutdown, requests, got, reading = Shutdown(1.0), Requests(), [], asyncio.Event()
    requests.queue.put_nowait("a")
    requests.queue.put_nowait("b")
    task = asyncio.create_task(consume(requests, shutdown, got, reading))
    await reading.wait()  # "a" handed over; the consumer has not asked for "b" yet
    shutdown.start()
    assert await asyncio.wait_for(task, 5) is True
    assert got[-1] is None and got[0] == "a"
