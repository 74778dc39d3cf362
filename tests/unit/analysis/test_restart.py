"""Honest restarts: a non-durable engine says jobs were lost; a durable one (Redis) re-queues
the jobs of a runner that is gone and another scheduler finishes them."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from realtime.server.analysis.analyzers.base import AnalysisInput
from realtime.server.analysis.analyzers.registry import Registry
from realtime.server.analysis.backend import BrokerBackend, MemoryBackend
from realtime.server.analysis.model import JobState
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.platform.auth import Principal

from .fakes import Echo, Gate, eventually

ALICE = Principal("alice", frozenset(), 0.0)


def text(value: str) -> AnalysisInput:
    return AnalysisInput(text=value, content_type="text/plain")


def messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "realtime.analysis")


@pytest.mark.parametrize("engine", ["own-memory", "broker-memory"])
async def test_a_non_durable_engine_says_jobs_are_lost(engine: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "realtime.analysis")
    broker = MemoryBroker() if engine == "broker-memory" else None
    if broker is not None:
        await broker.start()
    backend = BrokerBackend(broker) if broker is not None else MemoryBackend()
    gate = Gate()
    s = Scheduler(backend, Registry([Echo(), gate]), SchedulerConfig(concurrency=1))
    s.start()
    await eventually(lambda: "were lost" in messages(caplog))
    assert "the memory engine keeps no jobs across restarts" in messages(caplog)
    await s.submit("alice", "test.gate", text("running"))
    await asyncio.to_thread(gate.entered.acquire, True, 10)
    await s.submit("alice", "test.echo", text("a"))
    await s.submit("alice", "test.echo", text("b"))
    await s.stop()
    gate.release.set()
    if broker is not None:
        await broker.close()
    said = messages(caplog)
    assert "2 queued job(s) and 1 running here are lost when this process exits" in said
    assert "re-queued" not in said


async def test_a_durable_engine_requeues_and_another_start_finishes(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "realtime.analysis")
    first = RedisBroker(redis_url, prefix=redis_prefix)
    await first.start()
    # The earlier process ran a minute ago (its clock says so): its job is not one just claimed.
    before = Scheduler(
        BrokerBackend(first),
        Registry([Echo()]),
        SchedulerConfig(),
        run_local=False,
        clock=lambda: time.time() - 60,
    )
    jobs = [await before.submit("alice", "test.echo", text(f"job {i}")) for i in range(3)]
    running = await before.claim("replica-that-died", {"test.echo"})
    assert running is not None and running.job_state == JobState.RUNNING
    # The process dies without a word: its lease expires (deleted here instead of waiting for the TTL).
    await first.kv_delete("analysis:lease:" + running.id)
    await first.close()

    second = RedisBroker(redis_url, prefix=redis_prefix)
    await second.start()
    after = Scheduler(BrokerBackend(second), Registry([Echo()]), SchedulerConfig(), replica="restarted")
    assert after.backend.durable
    after.start()
    try:
        for job in jobs:
            done = await after.wait(job.id, ALICE, 30)
            assert done.job_state == JobState.SUCCEEDED and done.result == {"text": job_text(jobs, job.id)}
        said = messages(caplog)
        assert "the redis engine keeps jobs across restarts: 2 queued job(s) from before kept, " in said
        assert "1 running job(s) whose runner is gone re-queued" in said
        assert "were lost" not in said
    finally:
        await after.stop()
        await second.close()


def job_text(jobs: list, job_id: str) -> str:  # type: ignore[type-arg]
    return f"job {[j.id for j in jobs].index(job_id)}"
