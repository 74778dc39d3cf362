"""Fair queues: per-user limits with QuotaFailure, no idle slot while a job waits, round robin
between users, urgent jobs first, and a global budget on decoded pixels (RSS under a flood)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.rpc import error_details_pb2, status_pb2

from realtime.server.analysis.analyzers.base import AnalysisInput, AnalyzerResult, Cancelled, CancelToken
from realtime.server.analysis.analyzers.imaging import DecodeBudget
from realtime.server.analysis.backend import Backend
from realtime.server.analysis.model import Job, Priority
from realtime.server.analysis.scheduler import Scheduler
from realtime.server.platform.errors import Code, HubError, resource_exhausted
from realtime.server.platform.status import to_status

from .conftest import make
from .fakes import FakeClock, Gate, eventually


def text(value: str) -> AnalysisInput:
    return AnalysisInput(text=value, content_type="text/plain")


@pytest.fixture
async def queue(backend: Backend, clock: FakeClock, gate: Gate) -> AsyncIterator[Scheduler]:
    """No local runner, the seed's 5 slots and 3 per user; small per-user queue limits."""
    s = await make(
        backend,
        clock,
        gate,
        False,
        concurrency=5,
        per_user_concurrency=3,
        queue_limit=30,
        user_queue_limit=10,
        user_queue_bytes=1000,
    )
    yield s
    await s.stop()


async def claim_all(s: Scheduler, n: int) -> list[Job]:
    got = []
    for _ in range(n):
        job = await s.claim("w", {"test.echo", "test.gate"})
        if job is None:
            break
        got.append(job)
    return got


async def test_one_user_flooding_never_locks_out_another(queue: Scheduler) -> None:
    for i in range(10):
        await queue.submit("alice", "test.echo", text(f"a{i}"))
    with pytest.raises(HubError) as refused:
        await queue.submit("alice", "test.echo", text("one more"))
    err = refused.value
    assert err.code == Code.RESOURCE_EXHAUSTED and err.reason == "USER_QUEUE_FULL"
    assert err.retry_after is not None and err.retry_after >= 1.0
    assert [(q.subject, "limit 10" in q.description) for q in err.quota] == [("user:alice", True)]
    for i in range(10):  # bob is still served, and so is carol
        await queue.submit("bob", "test.echo", text(f"b{i}"))
    await queue.submit("carol", "test.echo", text("c"))


async def test_queued_bytes_per_user(queue: Scheduler) -> None:
    await queue.submit("alice", "test.echo", text("x" * 600))
    with pytest.raises(HubError) as refused:
        await queue.submit("alice", "test.echo", text("y" * 600))
    assert refused.value.reason == "USER_QUEUE_BYTES"
    assert refused.value.quota[0].subject == "user:alice"
    await queue.submit("bob", "test.echo", text("y" * 600))
    # Bytes leave the quota when the job starts: alice may queue again.
    started = await claim_all(queue, 5)
    assert len(started) == 2
    await queue.submit("alice", "test.echo", text("y" * 600))


async def test_the_global_bound_still_holds_with_quota_failure(queue: Scheduler) -> None:
    for user in ("a", "b", "c"):
        for i in range(10):
            await queue.submit(user, "test.echo", text(f"{user}{i}"))
    with pytest.raises(HubError) as refused:
        await queue.submit("d", "test.echo", text("late"))
    assert refused.value.reason == "QUEUE_FULL" and refused.value.quota[0].subject == "analysis-queue"


def test_quota_failure_reaches_the_wire() -> None:
    err = resource_exhausted("full", reason="USER_QUEUE_FULL", retry_after=2.0, quota=[("user:a", "jobs")])
    status = to_status(err)
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    decoded = status_pb2.Status.FromString(raw)
    kinds = {d.TypeName(): d for d in decoded.details}
    quota = error_details_pb2.QuotaFailure()
    kinds["google.rpc.QuotaFailure"].Unpack(quota)
    assert [(v.subject, v.description) for v in quota.violations] == [("user:a", "jobs")]
    assert "google.rpc.RetryInfo" in kinds and "google.rpc.ErrorInfo" in kinds


async def test_no_slot_idles_while_one_users_jobs_wait(queue: Scheduler) -> None:
    """The reported bug: 20 queued low jobs of one user ran 3 at a time while 2 of 5 slots idled."""
    for i in range(10):
        await queue.submit("alice", "test.echo", text(str(i)), priority=Priority.LOW)
    assert len(await claim_all(queue, 10)) == 5


async def test_the_per_user_limit_still_shares_slots_when_others_wait(queue: Scheduler) -> None:
    for i in range(8):
        await queue.submit("alice", "test.echo", text(f"a{i}"))
    for i in range(8):
        await queue.submit("bob", "test.echo", text(f"b{i}"))
    owners = [j.owner for j in await claim_all(queue, 5)]
    assert owners == ["alice", "bob", "alice", "bob", "alice"]  # round robin, alice first (FIFO)
    assert await queue.claim("w", {"test.echo"}) is None  # 5 of 5 slots busy


async def test_round_robin_between_users_within_a_priority(queue: Scheduler) -> None:
    for i in range(6):
        await queue.submit("alice", "test.echo", text(f"a{i}"))
    await queue.submit("bob", "test.echo", text("b0"))
    await queue.submit("bob", "test.echo", text("b1"))
    started = await claim_all(queue, 5)
    # bob's jobs, submitted after all of alice's, do not wait behind them.
    assert [j.owner for j in started][:4] == ["alice", "bob", "alice", "bob"]


async def test_urgent_job_takes_the_next_free_slot(queue: Scheduler, clock: FakeClock) -> None:
    for i in range(10):
        await queue.submit("alice", "test.echo", text(f"low{i}"), priority=Priority.LOW)
    running = await claim_all(queue, 5)
    assert len(running) == 5
    clock.advance(1)
    urgent = await queue.submit("alice", "test.echo", text("now"), priority=Priority.URGENT)
    assert (await queue.queue_info(urgent))[0] == 1
    assert await queue.claim("w", {"test.echo"}) is None  # no free slot: nothing to preempt
    await queue.finish(running[0].id, "w", result=AnalyzerResult({}))
    nxt = await queue.claim("w", {"test.echo"})
    assert nxt is not None and nxt.id == urgent.id


async def test_local_runner_fills_every_slot(backend: Backend, clock: FakeClock, gate: Gate) -> None:
    s = await make(backend, clock, gate, True, concurrency=5, per_user_concurrency=3, job_timeout=30)
    try:
        jobs = [await s.submit("alice", "test.gate", text(str(i)), priority=Priority.LOW) for i in range(20)]
        for _ in range(5):
            assert await _acquire(gate)
        doc = await s.store.queue()
        assert len(doc.running) == 5 and len(doc.entries) == 15
        gate.release.set()
        for job in jobs:
            await eventually(lambda j=job: j.id not in s._local, 30)
    finally:
        gate.release.set()
        await s.stop()


async def _acquire(gate: Gate) -> bool:
    return await asyncio.to_thread(gate.entered.acquire, True, 10)


def test_decode_budget_waits_cancels_and_lets_one_big_image_through() -> None:
    budget = DecodeBudget(100)
    budget.acquire(60)
    entered = threading.Event()

    def second() -> None:
        budget.acquire(60)
        entered.set()

    t = threading.Thread(target=second)
    t.start()
    assert not entered.wait(0.2)  # 60 + 60 > 100: waits
    token = CancelToken()
    token.cancel("user")
    with pytest.raises(Cancelled):
        budget.acquire(60, token)
    budget.release(60)
    assert entered.wait(5)
    t.join(5)
    budget.release(60)
    budget.acquire(500)  # bigger than the whole budget: runs, alone
    assert budget.used == 500
    budget.release(500)
    with budget.scope():
        with budget.hold(40, None):
            pass
        assert budget.used == 40  # held until the analyzer's run ends
    assert budget.used == 0 and budget.peak == 500


FLOOD = Path(__file__).with_name("decode_flood.py")


def test_a_flood_of_decompression_bomb_like_images_stays_within_the_rss_bound() -> None:
    """Ten 36-megapixel PNGs of ~4 KB, five slots: the budget (40 M pixels) lets one decode at a
    time, so peak RSS grows by at most 10 bytes per budgeted pixel (400 MB), not 5 x 300 MB."""
    out = subprocess.run(
        [sys.executable, str(FLOOD), "40000000", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["png_bytes"] < 10_000 and figures["succeeded"] == 10
    assert figures["budget_peak"] <= 40_000_000
    assert figures["peak_rss"] - figures["base_rss"] < 10 * 40_000_000
