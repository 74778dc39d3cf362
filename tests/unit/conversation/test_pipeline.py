"""Frames through stages: order kept, interruptions overtake queued data, EndFrame survives."""

from __future__ import annotations

import asyncio

from realtime.server.conversation.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    TranscriptFrame,
    TurnTiming,
)
from realtime.server.conversation.pipeline import Pipeline, Stage
from realtime.server.platform.errors import HubError, invalid_argument


def tf(turn: int) -> TranscriptFrame:
    return TranscriptFrame(turn, f"t{turn}", 1.0, TurnTiming())


class Slow(Stage):
    name = "slow"

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__()
        self.gate = gate
        self.started: list[int] = []
        self.entered = asyncio.Event()
        self.interruptions = 0

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, TranscriptFrame):
            self.started.append(frame.turn)
            self.entered.set()
            await self.gate.wait()
        await self.push(frame)

    async def on_interruption(self, frame: InterruptionFrame) -> None:
        self.interruptions += 1


class Sink(Stage):
    name = "sink"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Frame] = []
        self.arrived = asyncio.Event()

    async def process(self, frame: Frame) -> None:
        self.seen.append(frame)
        self.arrived.set()

    async def _handle_system(self, frame):  # type: ignore[no-untyped-def]
        self.seen.append(frame)
        self.arrived.set()


async def wait_for(sink: Sink, count: int) -> None:
    async with asyncio.timeout(5):
        while len(sink.seen) < count:
            sink.arrived.clear()
            await sink.arrived.wait()


async def noop(err: HubError) -> None:
    raise AssertionError(err)


async def test_frames_keep_their_order() -> None:
    gate = asyncio.Event()
    gate.set()
    sink = Sink()
    p = Pipeline([Slow(gate), sink], 8, noop)
    p.start()
    for i in range(5):
        await p.put(tf(i))
    await wait_for(sink, 5)
    assert [f.turn for f in sink.seen if isinstance(f, TranscriptFrame)] == [0, 1, 2, 3, 4]
    await p.stop()


async def test_interruption_overtakes_queued_data_and_keeps_the_end_frame() -> None:
    gate = asyncio.Event()
    slow, sink = Slow(gate), Sink()
    p = Pipeline([slow, sink], 8, noop)
    p.start()
    await p.put(tf(1))  # being processed (blocked on the gate)
    await p.put(tf(2))  # queued
    await p.put(EndFrame())  # queued control frame
    async with asyncio.timeout(5):
        await slow.entered.wait()
    await p.put(InterruptionFrame(1))
    # The interruption reached the end at once, before any data.
    assert isinstance(sink.seen[0], InterruptionFrame)
    assert slow.interruptions == 1
    gate.set()
    await wait_for(sink, 2)
    assert [type(f).__name__ for f in sink.seen] == ["InterruptionFrame", "EndFrame"]
    assert slow.started == [1]  # turn 2 was dropped, turn 1 cancelled
    await p.stop()


async def test_a_failing_stage_reports_and_keeps_running() -> None:
    errors: list[HubError] = []

    class Picky(Stage):
        async def process(self, frame: Frame) -> None:
            if isinstance(frame, TranscriptFrame) and frame.turn == 1:
                raise invalid_argument("no turn 1")
            if isinstance(frame, TranscriptFrame) and frame.turn == 2:
                raise RuntimeError("boom")
            await self.push(frame)

    async def collect(err: HubError) -> None:
        errors.append(err)

    sink = Sink()
    p = Pipeline([Picky(), sink], 4, collect)
    p.start()
    for i in (1, 2, 3):
        await p.put(tf(i))
    await wait_for(sink, 1)
    assert [f.turn for f in sink.seen] == [3]  # type: ignore[attr-defined]
    assert [e.code.name for e in errors] == ["INVALID_ARGUMENT", "INTERNAL"]
    assert "RuntimeError" in errors[1].message and "boom" not in errors[1].message
    await p.stop()
