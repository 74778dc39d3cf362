"""Fixtures shared by the scheduler tests: a hand-moved clock, a gate analyzer, every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime.server.analysis.analyzers.registry import Registry
from realtime.server.analysis.backend import Backend, BrokerBackend, MemoryBackend
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker

from .fakes import Echo, FakeClock, Gate


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture(params=["own-memory", "broker-memory", "broker-redis"])
async def backend(
    request: pytest.FixtureRequest, clock: FakeClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[Backend]:
    """The same suite on every engine: the scheduler's own memory store, and the hub's broker
    (memory and Redis engines) through which replicas share jobs."""
    if request.param == "own-memory":
        yield MemoryBackend(clock)
        return
    broker = (
        MemoryBroker(clock)
        if request.param == "broker-memory"
        else RedisBroker(redis_url, prefix=redis_prefix, clock=clock)
    )
    await broker.start()
    try:
        yield BrokerBackend(broker)
    finally:
        await broker.close()


async def make(backend: Backend, clock: FakeClock, gate: Gate, run_local: bool, **config: float) -> Scheduler:
    scheduler = Scheduler(
        backend,
        Registry([Echo(), gate]),
        SchedulerConfig(**config),  # type: ignore[arg-type]
        clock=clock,
        replica="r1",
        run_local=run_local,
    )
    scheduler.start()
    return scheduler
