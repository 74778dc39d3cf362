"""Fixtures for the broker contract suite: every test runs on every engine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime.server.broker.base import Broker
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.broker.sqlite import SqliteBroker
from tests.redis_server import delete_prefix, test_prefix


class FakeClock:
    """A clock tests move by hand (starts at the real time so Redis GC expiry stays sane)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def broker(
    request: pytest.FixtureRequest, clock: FakeClock, redis_url: str, tmp_path: Path
) -> AsyncIterator[Broker]:
    engine: Broker
    prefix = test_prefix()
    if request.param == "memory":
        engine = MemoryBroker(clock)
    elif request.param == "sqlite":
        engine = SqliteBroker(tmp_path / "hub.db", clock=clock)
    else:
        engine = RedisBroker(redis_url, prefix=prefix, clock=clock)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()
        if request.param == "redis":
            await delete_prefix(redis_url, prefix)
