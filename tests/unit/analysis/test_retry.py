"""Retries and dead letters: per-analyzer policy, backoff with jitter, attempt n of m in the
metadata, FAILED with the last error when out of attempts, listed by state=FAILED."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from realtime.server.analysis.analyzers.base import AnalysisInput
from realtime.server.analysis.analyzers.registry import Registry
from realtime.server.analysis.backend import Backend
from realtime.server.analysis.convert import metadata_of, parse_filter
from realtime.server.analysis.model import JobError, JobState
from realtime.server.analysis.retry import RetryPolicy
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.platform.auth import Principal
from realtime.server.platform.errors import Code, HubError

from .fakes import Echo, FakeClock, Flaky, Gate, eventually

ALICE = Principal("alice", frozenset(), 0.0)
SEED = 1234


def text(value: str) -> AnalysisInput:
    return AnalysisInput(text=value, content_type="text/plain")


def test_backoff_grows_exponentially_within_the_jitter() -> None:
    policy = RetryPolicy(attempts=6, initial=1.0, multiplier=2.0, maximum=10.0, jitter=0.2)
    rng = random.Random(SEED)
    print("seed", SEED)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        delays = {policy.backoff(attempt, rng) for _ in range(50)}
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 1  # jittered, not one fixed delay
    assert policy.retries(Code.UNAVAILABLE, 5) and not policy.retries(Code.UNAVAILABLE, 6)
    for code in (Code.INVALID_ARGUMENT, Code.CANCELLED, Code.FAILED_PRECONDITION, Code.PERMISSION_DENIED):
        assert not policy.retries(code, 1)


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
async def queue(backend: Backend, clock: FakeClock, flaky: Flaky) -> AsyncIterator[Scheduler]:
    s = Scheduler(
        backend,
        Registry([Echo(), Gate(), flaky]),
        SchedulerConfig(concurrency=2),
        clock=clock,
        replica="r1",
        run_local=False,
    )
    s.random.seed(SEED)
    s.start()
    yield s
    await s.stop()


async def test_attempts_backoff_and_the_dead_letter_view(queue: Scheduler, clock: FakeClock) -> None:
    s = queue
    job = await s.submit("alice", "test.flaky", text("x"))
    assert job.max_attempts == 3
    errors = [
        JobError(int(Code.UNAVAILABLE), "the OCR service is down", "DEPENDENCY_DOWN"),
        JobError(int(Code.DEADLINE_EXCEEDED), "too slow", "ANALYZER_TIMEOUT"),
        JobError(int(Code.INTERNAL), "crashed", "INTERNAL"),
    ]
    waits = []
    for n, error in enumerate(errors, start=1):
        running = await s.claim("w", {"test.flaky"})
        assert running is not None and running.id == job.id and running.attempt == n
        after = await s.finish(job.id, "w", error=error)
        assert after is not None
        if n < 3:
            assert after.job_state == JobState.QUEUED and after.last_error == error
            meta = metadata_of(after)
            assert (meta.attempt, meta.max_attempts) == (n, 3)
            assert meta.next_retry_time.ToNanoseconds() == int(after.next_retry * 1e9)
            assert meta.last_error.message == error.message
            wait = after.next_retry - clock()
            waits.append(wait)
            assert 2.0 * 2 ** (n - 1) * 0.75 <= wait <= 2.0 * 2 ** (n - 1) * 1.25
            assert await s.claim("w", {"test.flaky"}) is None  # not before its retry time
            clock.advance(wait + 0.01)
        else:
            assert after.job_state == JobState.FAILED and after.error == error and after.last_error == error
            assert after.done and after.next_retry == 0.0
    print("seed", SEED, "waits", waits)
    failed, _ = await s.list_jobs(ALICE, state=JobState.FAILED)
    assert [j.id for j in failed] == [job.id]
    assert (await s.list_jobs(ALICE, state=JobState.QUEUED))[0] == []


async def test_errors_that_do_not_retry_fail_at_once(queue: Scheduler) -> None:
    job = await queue.submit("alice", "test.flaky", text("x"))
    assert await queue.claim("w", {"test.flaky"}) is not None
    bad = JobError(int(Code.INVALID_ARGUMENT), "the image is truncated", "CORRUPT_IMAGE")
    after = await queue.finish(job.id, "w", error=bad)
    assert after is not None and after.job_state == JobState.FAILED and after.attempt == 1


async def test_cancel_while_waiting_for_a_retry(queue: Scheduler) -> None:
    job = await queue.submit("alice", "test.flaky", text("x"))
    assert await queue.claim("w", {"test.flaky"}) is not None
    await queue.finish(job.id, "w", error=JobError(int(Code.UNAVAILABLE), "down", "DOWN"))
    cancelled = await queue.cancel(job.id, ALICE)
    assert cancelled.job_state == JobState.CANCELLED
    assert (await queue.store.queue()).entries == []


async def test_the_local_runner_retries_until_it_succeeds(
    backend: Backend, clock: FakeClock, flaky: Flaky
) -> None:
    flaky.errors = [Code.UNAVAILABLE, Code.INTERNAL]
    s = Scheduler(backend, Registry([flaky]), SchedulerConfig(), clock=clock, replica="r1")
    s.start()
    try:
        job = await s.submit("alice", "test.flaky", text("x"))
        for runs in (1, 2):
            await eventually(lambda runs=runs: flaky.runs == runs)
            await eventually(lambda: job.id not in s._local)
            clock.advance(60)  # past any backoff: the retry may start
            s.wake()
        done = await s.wait(job.id, ALICE, 30)
        assert done.job_state == JobState.SUCCEEDED and done.attempt == 3 and flaky.runs == 3
        assert done.last_error is not None and done.last_error.reason == "FLAKY_INTERNAL"
    finally:
        await s.stop()


def test_filter_syntax() -> None:
    assert parse_filter("state=FAILED").state == JobState.FAILED
    assert parse_filter("state=failed AND analyzer=image.inspect").analyzer == "image.inspect"
    assert parse_filter("done=true state=JOB_STATE_CANCELLED").state == JobState.CANCELLED
    for bad in ("state=BROKEN", "state=", "state=UNSPECIFIED", "colour=red"):
        with pytest.raises(HubError) as err:
            parse_filter(bad)
        assert err.value.code == Code.INVALID_ARGUMENT


async def test_a_job_whose_runner_dies_every_time_becomes_a_dead_letter(
    queue: Scheduler, clock: FakeClock
) -> None:
    """A poison job (its runner dies on every attempt) must not circle the replicas for ever."""
    job = await queue.submit("alice", "test.echo", text("x"))
    for attempt in (1, 2, 3):
        taken = await queue.claim(f"doomed-{attempt}", {"test.echo"})
        assert taken is not None and taken.id == job.id and taken.attempt == attempt
        clock.advance(queue.config.lease_ttl + 1)  # nobody renews the lease
        await queue.maintain()
    final = await queue.get(job.id, ALICE)
    assert final.job_state == JobState.FAILED and final.error is not None
    assert final.error.reason == "RUNNER_LOST" and final.error.code == Code.ABORTED
    assert (await queue.store.queue()).entries == []
    failed, _ = await queue.list_jobs(ALICE, state=JobState.FAILED)
    assert [j.id for j in failed] == [job.id]
