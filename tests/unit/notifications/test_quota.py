"""The sliding-window counter behind the quotas: exact under contention from two replicas, bounded
by its window, refunds."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from realtime.server.broker.base import Broker
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.notifications.quota import SLOTS, WindowCounter
from tests.redis_server import delete_prefix, test_prefix


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def replicas(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[tuple[Clock, list[Broker]]]:
    clock = Clock()
    prefix = test_prefix()
    if request.param == "memory":
        one = MemoryBroker(clock)
        brokers: list[Broker] = [one, one]
    else:
        brokers = [RedisBroker(redis_url, prefix=prefix, clock=clock) for _ in range(2)]
    for b in set(brokers):
        await b.start()
    try:
        yield clock, brokers
    finally:
        for b in set(brokers):
            await b.close()
        if request.param == "redis":
            await delete_prefix(redis_url, prefix)


async def test_two_replicas_charging_at_once_add_up(replicas: tuple[Clock, list[Broker]]) -> None:
    _, brokers = replicas
    counters = [WindowCounter(b) for b in brokers]
    results = await asyncio.gather(*(counters[i % 2].charge("k", 7, 10_000, 60.0) for i in range(60)))
    assert all(ok for ok, _ in results)
    raw = await brokers[0].kv_get("k")
    assert raw is not None and sum(t for _, t in json.loads(raw)) == 420


async def test_limit_window_and_refund(replicas: tuple[Clock, list[Broker]]) -> None:
    clock, (a, _) = replicas
    counter = WindowCounter(a)
    assert (await counter.charge("w", 60, 100, 60.0))[0]
    ok, retry = await counter.charge("w", 41, 100, 60.0)
    assert not ok and 0 < retry <= 60.0 + 60.0 / SLOTS
    assert (await counter.charge("w", -30, 100, 60.0))[0]  # a refund
    assert (await counter.charge("w", 41, 100, 60.0))[0]  # 30 + 41 <= 100
    clock.now += 60.0 + 2 * 60.0 / SLOTS  # everything left the window
    assert (await counter.charge("w", 100, 100, 60.0))[0]
