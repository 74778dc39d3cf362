"""The scheduler on the in-process backend with a hand-moved clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from realtime.server.analysis.analyzers.base import AnalysisInput, AnalyzerResult
from realtime.server.analysis.analyzers.registry import Registry
from realtime.server.analysis.backend import Backend
from realtime.server.analysis.model import JobState, Priority
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.platform.auth import Principal
from realtime.server.platform.errors import Code, HubError

from .conftest import make
from .fakes import Echo, FakeClock, Gate, RecordingPool, eventually

ALICE = Principal("alice", frozenset(), 0.0)
BOB = Principal("bob", frozenset(), 0.0)
ADMIN = Principal("root", frozenset({"admin"}), 0.0)


def text(value: str) -> AnalysisInput:
    return AnalysisInput(text=value, content_type="text/plain")


@pytest.fixture
async def queue_only(backend: Backend, clock: FakeClock, gate: Gate) -> AsyncIterator[Scheduler]:
    """No local runner: tests claim jobs by hand and decide when they run."""
    s = await make(
        backend,
        clock,
        gate,
        False,
        concurrency=2,
        per_user_concurrency=0,
        queue_limit=5,
        aging=10,
        lease_ttl=5,
    )
    yield s
    await s.stop()


@pytest.fixture
async def running(backend: Backend, clock: FakeClock, gate: Gate) -> AsyncIterator[Scheduler]:
    s = await make(backend, clock, gate, True, concurrency=2, job_timeout=10)
    yield s
    gate.release.set()
    await s.stop()


async def test_claim_order_priority_fifo_and_aging(queue_only: Scheduler, clock: FakeClock) -> None:
    s = queue_only
    low = await s.submit("alice", "test.echo", text("low"), priority=Priority.LOW)
    n1 = await s.submit("alice", "test.echo", text("n1"))
    clock.advance(1)
    urgent = await s.submit("alice", "test.echo", text("u"), priority=Priority.URGENT)
    n2 = await s.submit("alice", "test.echo", text("n2"))
    assert (await s.queue_info(n2))[0] == 3
    claimed = [await s.claim("w", {"test.echo"}) for _ in range(2)]
    assert [j.id for j in claimed if j] == [urgent.id, n1.id]
    assert await s.claim("w", {"test.echo"}) is None  # global limit 2 reached
    for j in claimed:
        assert j is not None
        await s.finish(j.id, "w", result=AnalyzerResult({}))
    # 40 s later the low job has aged past normal: it starts before n2 (which aged less).
    clock.advance(40)
    late = await s.submit("alice", "test.echo", text("fresh urgent"), priority=Priority.URGENT)
    order = [await s.claim("w", {"test.echo"}) for _ in range(2)]
    assert [j.id for j in order if j] == [low.id, n2.id]
    assert (await s.queue_info(late))[0] == 1


async def test_queue_bound_is_resource_exhausted_with_retry(queue_only: Scheduler) -> None:
    for i in range(5):
        await queue_only.submit("alice", "test.echo", text(str(i)))
    with pytest.raises(HubError) as full:
        await queue_only.submit("alice", "test.echo", text("one too many"))
    assert full.value.code == Code.RESOURCE_EXHAUSTED and full.value.reason == "QUEUE_FULL"
    assert full.value.retry_after is not None and full.value.retry_after >= 1.0
    jobs, _ = await queue_only.list_jobs(ALICE, limit=100)
    assert len(jobs) == 5  # the refused job left nothing behind


async def test_request_id_makes_submit_idempotent(queue_only: Scheduler) -> None:
    a = await queue_only.submit("alice", "test.echo", text("x"), request_id="r-1")
    b = await queue_only.submit("alice", "test.echo", text("x"), request_id="r-1")
    assert a.id == b.id
    other_user = await queue_only.submit("bob", "test.echo", text("x"), request_id="r-1")
    assert other_user.id != a.id
    with pytest.raises(HubError) as reused:
        await queue_only.submit("alice", "test.echo", text("different"), request_id="r-1")
    assert reused.value.code == Code.ALREADY_EXISTS and reused.value.reason == "REQUEST_ID_REUSED"


async def test_cancel_queued_and_permissions(queue_only: Scheduler) -> None:
    job = await queue_only.submit("alice", "test.echo", text("x"))
    with pytest.raises(HubError) as denied:
        await queue_only.cancel(job.id, BOB)
    assert denied.value.code == Code.PERMISSION_DENIED
    with pytest.raises(HubError) as hidden:
        await queue_only.get(job.id, BOB)
    assert hidden.value.code == Code.PERMISSION_DENIED
    done = await queue_only.cancel(job.id, ALICE)
    assert (
        done.job_state == JobState.CANCELLED and done.error is not None and done.error.code == Code.CANCELLED
    )
    assert await queue_only.claim("w", {"test.echo"}) is None  # it left the queue
    assert (await queue_only.cancel(job.id, ADMIN)).job_state == JobState.CANCELLED  # idempotent
    with pytest.raises(HubError) as missing:
        await queue_only.get("nope", ALICE)
    assert missing.value.code == Code.NOT_FOUND


async def test_cancel_running_reaches_the_analyzer(running: Scheduler, gate: Gate) -> None:
    job = await running.submit("alice", "test.gate", text("x"))
    assert await asyncio.to_thread(gate.entered.acquire, True, 10)
    watcher = running.watch(job.id, ALICE)
    first = await anext(watcher)
    assert first.kind == "snapshot" and first.job.job_state == JobState.RUNNING
    cancelled = await running.cancel(job.id, ALICE)
    assert cancelled.job_state == JobState.CANCELLED
    async with asyncio.timeout(10):
        last = [e async for e in watcher][-1]
    assert last.kind == "done" and last.job.job_state == JobState.CANCELLED
    await eventually(lambda: gate.cancelled_runs == 1)  # the token reached the analyzer's thread


async def test_watch_snapshot_progress_partials_and_late_joiners(running: Scheduler) -> None:
    job = await running.submit("alice", "test.echo", text("hi"))
    async with asyncio.timeout(10):
        done = await running.wait(job.id, ALICE, 10)
    assert done.job_state == JobState.SUCCEEDED and done.result == {"text": "hi"}
    assert done.partials == [{"index": 0, "phase": "first", "data": {"half": True}}]
    # A watcher joining after the end gets the final snapshot and nothing else.
    events = [e async for e in running.watch(job.id, ALICE)]
    assert [e.kind for e in events] == ["snapshot"] and events[0].job.done


async def test_several_watchers_see_the_same_changes(running: Scheduler, gate: Gate) -> None:
    job = await running.submit("alice", "test.gate", text("x"))
    assert await asyncio.to_thread(gate.entered.acquire, True, 10)

    async def collect() -> list[str]:
        return [e.kind async for e in running.watch(job.id, ALICE)]

    watchers = [asyncio.ensure_future(collect()) for _ in range(3)]
    await asyncio.sleep(0.3)  # let all three subscribe (a watcher that is late still sees a snapshot)
    gate.release.set()
    async with asyncio.timeout(10):
        results = await asyncio.gather(*watchers)
    assert all(r == results[0] for r in results)
    assert results[0][0] == "snapshot" and results[0][-1] == "done"


async def test_expired_lease_requeues_and_another_runner_finishes(
    queue_only: Scheduler, clock: FakeClock
) -> None:
    job = await queue_only.submit("alice", "test.echo", text("x"))
    taken = await queue_only.claim("dead-replica", {"test.echo"})
    assert taken is not None and taken.attempt == 1
    await queue_only.maintain()  # lease still valid: nothing happens
    assert (await queue_only.get(job.id, ALICE)).job_state == JobState.RUNNING
    clock.advance(6)  # past the 5 s lease; nobody renewed it
    await queue_only.maintain()
    again = await queue_only.get(job.id, ALICE)
    assert again.job_state == JobState.QUEUED
    retaken = await queue_only.claim("live-replica", {"test.echo"})
    assert retaken is not None and retaken.id == job.id and retaken.attempt == 2
    # The dead runner's late report is refused; the live one's counts.
    with pytest.raises(HubError) as stale:
        await queue_only.progress(job.id, "dead-replica", "second", 1.0)
    assert stale.value.code == Code.FAILED_PRECONDITION


async def test_job_timeout_fails_with_deadline_exceeded(
    backend: Backend, clock: FakeClock, gate: Gate
) -> None:
    s = await make(backend, clock, gate, True, job_timeout=0.3)
    try:
        job = await s.submit("alice", "test.gate", text("x"))
        async with asyncio.timeout(10):
            done = await s.wait(job.id, ALICE, 10)
        assert done.job_state == JobState.FAILED
        assert done.error is not None and done.error.code == Code.DEADLINE_EXCEEDED
    finally:
        gate.release.set()
        await s.stop()


async def test_bad_submits(queue_only: Scheduler) -> None:
    cases = [
        ("nope", text("x"), "UNKNOWN_ANALYZER"),
        ("", text("x"), "UNKNOWN_ANALYZER"),
        ("test.echo", AnalysisInput(data=b"\x89PNG", content_type="image/png"), "UNSUPPORTED_CONTENT_TYPE"),
        ("test.echo", text("x" * 4097), "INPUT_TOO_LARGE"),
    ]
    # The default limit (256 MiB, uploads) is too big to build in a unit test: the check is the same.
    queue_only.config = dataclasses.replace(queue_only.config, max_input_bytes=4096)
    for analyzer, data, reason in cases:
        with pytest.raises(HubError) as bad:
            await queue_only.submit("alice", analyzer, data)
        assert (bad.value.code, bad.value.reason) == (Code.INVALID_ARGUMENT, reason)
    with pytest.raises(HubError) as opts:
        await queue_only.submit("alice", "test.echo", text("x"), {"surprise": 1})
    assert opts.value.code == Code.INVALID_ARGUMENT


async def test_remote_worker_that_misses_heartbeats_loses_its_job(
    queue_only: Scheduler, clock: FakeClock
) -> None:
    revoked: list[tuple[str, str]] = []
    await queue_only.register_remote("w1", {"remote.kind"}, lambda job, why: revoked.append((job, why)))
    job = await queue_only.submit("alice", "remote.kind", text("x"))  # known now: a worker declared it
    taken = await queue_only.claim("w1", {"remote.kind"})
    assert taken is not None and taken.id == job.id
    clock.advance(3)
    await queue_only.heartbeat_remote("w1")
    await queue_only.maintain()
    assert (await queue_only.get(job.id, ALICE)).job_state == JobState.RUNNING  # heartbeats keep it
    clock.advance(6)  # silent for longer than the 5 s lease
    await queue_only.maintain()
    assert revoked == [("", "lease_lost")]
    back = await queue_only.get(job.id, ALICE)
    assert back.job_state == JobState.QUEUED and back.runner == ""
    with pytest.raises(HubError) as late:
        await queue_only.progress(job.id, "w1", "run", 0.5)
    assert late.value.reason == "JOB_NOT_HELD"


async def test_cancel_on_another_replica_reaches_our_remote_worker(
    backend: Backend, clock: FakeClock, gate: Gate
) -> None:
    r1 = await make(backend, clock, gate, False, lease_ttl=5)
    r2 = await make(backend, clock, gate, False, lease_ttl=5)
    try:
        revoked: list[tuple[str, str]] = []
        held: set[str] = set()
        await r1.register_remote(
            "r1/w", {"remote.kind"}, lambda j, why: revoked.append((j, why)), lambda: held
        )
        job = await r2.submit("alice", "remote.kind", text("x"))
        taken = await r1.claim("r1/w", {"remote.kind"})
        assert taken is not None
        held.add(taken.id)
        await r1.maintain()
        assert revoked == []  # still ours
        await r2.cancel(job.id, ALICE)  # the other replica knows nothing of the worker
        await r1.maintain()
        assert revoked == [(job.id, "cancelled")]
    finally:
        await r1.stop()
        await r2.stop()


async def test_reported_job_fails_when_its_worker_goes_silent(
    queue_only: Scheduler, clock: FakeClock
) -> None:
    """A ReportProgress job is not RUNNING forever: silence past reported_idle fails it."""
    s = queue_only
    s.config = dataclasses.replace(s.config, reported_idle=100.0)
    worker = Principal("gen", frozenset({"worker"}), 0.0)
    job = await s.create_reported(worker, "slides.generate", [("render", 100)], "alice", "")
    other = await s.create_reported(worker, "slides.generate", [("render", 100)], "alice", "")
    clock.advance(60)
    await s.report(worker, job.id, "render", 0.5, [], None, None)  # restarts job's idle clock
    clock.advance(60)  # 120 s after creation, 60 s after job's last report
    await s.maintain()
    assert (await s.get(job.id, ALICE)).job_state == JobState.RUNNING
    silent = await s.get(other.id, ALICE)
    assert silent.job_state == JobState.FAILED
    assert silent.error is not None
    assert (silent.error.code, silent.error.reason) == (Code.DEADLINE_EXCEEDED, "WORKER_SILENT")
    clock.advance(50)
    await s.maintain()
    assert (await s.get(job.id, ALICE)).job_state == JobState.FAILED
    # A worker that finishes in time leaves nothing behind to expire.
    done = await s.create_reported(worker, "slides.generate", [("render", 100)], "alice", "")
    await s.report(worker, done.id, "", 0.0, [], AnalyzerResult({"ok": True}), None)
    assert done.id not in (await s.store.queue()).reported


async def test_a_job_that_comes_back_to_its_replica_supersedes_the_stale_attempt(
    backend: Backend, clock: FakeClock, gate: Gate
) -> None:
    """A stalled loop let our lease lapse; another replica re-queued the job and it came back to
    us while attempt 1 still ran. Attempt 1 must stop (it would renew and report under the same
    replica name) and must not take attempt 2's bookkeeping with it when it ends."""
    s = await make(backend, clock, gate, True)
    try:
        job = await s.submit("alice", "test.gate", text("x"))
        await asyncio.to_thread(gate.entered.acquire, True, 10)
        stale = s._local[job.id]
        assert await s._requeue(job.id, "lease expired")  # what the other replica did
        s.wake()
        await asyncio.to_thread(gate.entered.acquire, True, 10)  # attempt 2 started here
        current = s._local[job.id]
        assert current is not stale and current.attempt == 2
        assert stale.stopped.is_set() and stale.token.cancelled
        gate.release.set()
        async with asyncio.timeout(10):
            done = await s.wait(job.id, ALICE, 10)
        assert done.job_state == JobState.SUCCEEDED and done.attempt == 2
        await eventually(lambda: job.id not in s._local)
    finally:
        gate.release.set()
        await s.stop()


async def test_a_superseded_attempt_that_ends_with_its_stop_leaves_the_new_attempt_alone(
    backend: Backend, clock: FakeClock, gate: Gate
) -> None:
    """The race behind the test above, made certain: attempt 1's analyzer ends (with the Cancelled
    its stop caused) in the same loop turn as the stop reaches it, so its runner sees both. It must
    not record that outcome: the job is attempt 2's now, under the same replica name."""
    pool = RecordingPool()
    s = Scheduler(
        backend,
        Registry([Echo(), gate]),
        SchedulerConfig(),
        clock=clock,
        replica="r1",
        run_local=False,
        executor=pool,
    )
    s.start()
    try:
        job = await s.submit("alice", "test.gate", text("x"))
        first = await s.claim("r1", {"test.gate"})
        assert first is not None
        stale = s._start_local(first)
        assert await asyncio.to_thread(gate.entered.acquire, True, 10)
        for _ in range(1000):  # attempt 1's first report is applied: its runner waits on the gate only
            if (await s.get(job.id, ALICE)).phase == "work":
                break
            await asyncio.sleep(0.01)
        assert await s._requeue(job.id, "lease expired")  # what the other replica did
        second = await s.claim("r1", {"test.gate"})
        assert second is not None and second.attempt == 2
        handed = pool.handed_over(0)
        current = s._start_local(second)  # stops attempt 1
        # Block the loop on purpose (bounded) until attempt 1's analyzer has seen the stop and its
        # outcome is queued for the loop: the stop and the outcome then reach its runner together.
        assert handed.wait(10)
        assert await asyncio.to_thread(gate.entered.acquire, True, 10)  # attempt 2 runs
        assert stale.stopped.is_set() and s._local[job.id] is current
        assert (await s.get(job.id, ALICE)).job_state == JobState.RUNNING
        gate.release.set()
        async with asyncio.timeout(10):
            done = await s.wait(job.id, ALICE, 10)
        assert done.job_state == JobState.SUCCEEDED and done.attempt == 2
        assert gate.cancelled_runs == 1
    finally:
        gate.release.set()
        await s.stop()
        pool.shutdown(wait=True, cancel_futures=True)
