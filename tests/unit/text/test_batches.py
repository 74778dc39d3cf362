"""Worker processes for big batches: same bytes as in-process, fallbacks, and a clean stop."""

from __future__ import annotations

import asyncio

from realtime.server.text import wire
from realtime.server.text.batches import ProcessBatches
from realtime.server.text.fixer import ALL_OPERATIONS, Operation, TextFixer
from realtime.v1 import text_pb2

TEXTS = ["akuo  nv akunl?", "יקךךם world", "tbh see https://example.com", "caf\u00c3\u00a9 ok"]


async def _ready(batches: ProcessBatches) -> None:
    batches.warm()
    for _ in range(600):  # at most 60 s: a spawned worker imports and loads its lexicon
        if batches.ready:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("text batch workers did not become ready in 60 s")


async def test_workers_answer_the_same_bytes_as_the_loop() -> None:
    batches = ProcessBatches(1)
    try:
        assert await batches.fix([(TEXTS[0], ALL_OPERATIONS)], ()) is None  # starts them; threads for now
        await _ready(batches)
        plans = [(t, ALL_OPERATIONS) for t in TEXTS] + [(TEXTS[0], frozenset({Operation.CLEAN}))]
        got = await batches.fix(plans, ("he",))
        local = TextFixer()
        expected = [wire.text_fix(local.fix(t, ops, ("he",))) for t, ops in plans]
        assert got is not None and len(got) == len(expected)
        for mine, theirs in zip(got, expected, strict=True):
            a, b = text_pb2.TextFix.FromString(mine), text_pb2.TextFix.FromString(theirs)
            assert a.compute_time.ToNanoseconds() > 0
            a.ClearField("compute_time")  # differs run to run
            b.ClearField("compute_time")
            assert a == b
    finally:
        await batches.close()


async def test_close_stops_the_workers_and_later_batches_fall_back() -> None:
    batches = ProcessBatches(1)
    await _ready(batches)
    processes = list(batches._pool._processes.values())  # type: ignore[union-attr]
    assert processes and all(p.is_alive() for p in processes)
    await batches.close()
    assert not any(p.is_alive() for p in processes)
    assert await batches.fix([("akuo", ALL_OPERATIONS)], ()) is None
    batches.warm()  # closed: never starts again
    assert batches._starting is None and batches._pool is None


async def test_a_killed_worker_means_a_fallback_then_new_workers() -> None:
    batches = ProcessBatches(1)
    try:
        await _ready(batches)
        [proc] = batches._pool._processes.values()  # type: ignore[union-attr]
        proc.kill()
        proc.join(5)
        assert await batches.fix([("akuo", ALL_OPERATIONS)], ()) is None  # the caller uses threads
        await _ready(batches)  # restarted in the background
        got = await batches.fix([("akuo", ALL_OPERATIONS)], ())
        assert got is not None and "שלום".encode() in got[0]
    finally:
        await batches.close()


async def test_zero_workers_never_start() -> None:
    batches = ProcessBatches(0)
    batches.warm()
    assert batches._starting is None and not batches.ready
    await batches.close()
