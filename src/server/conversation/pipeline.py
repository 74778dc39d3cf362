"""Stages linked in a line, each with its own bounded queue and task (Pipecat's processors).

A stage overrides `process(frame)`, handles the frames it knows and passes the rest on
with `push`. System frames skip the queue: an `InterruptionFrame` cancels what an
interruptible stage is doing, drops its queued data (control frames such as `EndFrame`
stay), and is passed on at once, so it overtakes everything in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from ..platform.errors import Code, HubError
from .frames import ControlFrame, Frame, InterruptionFrame, SystemFrame

log = logging.getLogger("realtime.conversation")

ErrorSink = Callable[[HubError], Awaitable[None]]


class Stage:
    name = "stage"
    interruptible = True  # False: an interruption passes through without touching this stage

    def __init__(self) -> None:
        self._next: Stage | None = None
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(1)
        self._task: asyncio.Task[None] | None = None
        self._on_error: ErrorSink | None = None

    def setup(self, next_stage: Stage | None, queue_size: int, on_error: ErrorSink) -> None:
        self._next = next_stage
        self._queue = asyncio.Queue(queue_size)
        self._on_error = on_error

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"conversation-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.cleanup()

    async def cleanup(self) -> None:
        """Release what the stage holds (called once, when the pipeline stops)."""

    async def queue_frame(self, frame: Frame) -> None:
        if isinstance(frame, SystemFrame):
            await self._handle_system(frame)
        else:
            await self._queue.put(frame)  # bounded: a full stage slows the one before it

    async def push(self, frame: Frame) -> None:
        if self._next is not None:
            await self._next.queue_frame(frame)

    async def process(self, frame: Frame) -> None:
        await self.push(frame)

    async def on_interruption(self, frame: InterruptionFrame) -> None:
        """Called after the stage's work was cancelled and its queued data dropped."""

    async def _handle_system(self, frame: SystemFrame) -> None:
        if isinstance(frame, InterruptionFrame) and self.interruptible:
            await self._cancel_work()
            await self.on_interruption(frame)
        await self.push(frame)

    async def _cancel_work(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        kept: list[Frame] = []
        while not self._queue.empty():
            queued = self._queue.get_nowait()
            if isinstance(queued, ControlFrame):
                kept.append(queued)
        for queued in kept:
            self._queue.put_nowait(queued)
        if self._task is not None:
            self.start()

    async def _run(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                await self.process(frame)
            except asyncio.CancelledError:
                raise
            except HubError as err:
                await self._report(err)
            except Exception as exc:
                log.exception("conversation stage %s failed", self.name)
                await self._report(HubError(Code.INTERNAL, f"{self.name} failed: {type(exc).__name__}"))

    async def _report(self, err: HubError) -> None:
        if self._on_error is not None:
            await self._on_error(err)


class Pipeline:
    """Stages in order; `put` feeds the first one."""

    def __init__(self, stages: Sequence[Stage], queue_size: int, on_error: ErrorSink) -> None:
        self.stages = list(stages)
        for i, stage in enumerate(self.stages):
            nxt = self.stages[i + 1] if i + 1 < len(self.stages) else None
            stage.setup(nxt, queue_size, on_error)

    def start(self) -> None:
        for stage in self.stages:
            stage.start()

    async def put(self, frame: Frame) -> None:
        await self.stages[0].queue_frame(frame)

    async def stop(self) -> None:
        for stage in self.stages:
            await stage.stop()

    def queue_depth(self) -> int:
        return sum(s.queue_depth for s in self.stages)
