"""Join/leave announcements: once per join, once per leave however many replicas notice it, and a
dead replica's entries leave by expiry (fake clock, both engines)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from realtime.server.broker.base import Broker, Subscription
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.notifications.presence import JOIN, LEAVE, PresenceKeeper, event_of, events_channel
from tests.redis_server import delete_prefix, test_prefix


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def engines(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[tuple[Clock, list[Broker]]]:
    """Two 'replicas' sharing state: one memory broker twice, or two Redis brokers on one prefix."""
    clock = Clock()
    prefix = test_prefix()
    brokers: list[Broker]
    if request.param == "memory":
        one = MemoryBroker(clock)
        brokers = [one, one]
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


async def events(sub: Subscription, n: int) -> list[tuple[str, str, str]]:
    out = []
    async with asyncio.timeout(5):
        for _ in range(n):
            channel, change, client, user = event_of(await sub.get())
            out.append((change, client, user))
            assert channel == "topic:room"
    return out


async def test_join_and_leave_once_each(engines: tuple[Clock, list[Broker]]) -> None:
    clock, (a, b) = engines
    watcher = b.subscribe()
    await watcher.add(events_channel("topic:room"))
    keep_a, keep_b = PresenceKeeper(a, ttl=30.0), PresenceKeeper(b, ttl=30.0)
    keep_b.watch("topic:room")
    await keep_a.add("topic:room", "a-1", "alice")
    await keep_a.add("topic:room", "a-1", "alice")  # a refresh is no second join
    await keep_a.add("topic:room", "a-2", "bob")
    await keep_b.sweep()  # b's snapshot: a-1 and a-2
    await keep_a.remove("topic:room", "a-1")
    await keep_b.sweep()  # a-1 is gone but its leave was announced already
    # Replica a dies: a-2 is no longer refreshed and expires after the TTL.
    clock.now += 31.0
    await keep_b.sweep()
    await keep_b.sweep()  # noticed twice, announced once
    assert await events(watcher, 4) == [
        (JOIN, "a-1", "alice"),
        (JOIN, "a-2", "bob"),
        (LEAVE, "a-1", "alice"),
        (LEAVE, "a-2", "bob"),
    ]
    # A marker after them comes next: no duplicate leave was in between.
    await a.publish(
        events_channel("topic:room"), b"", meta={"ch": "topic:room", "e": "marker"}, history_size=0
    )
    assert await events(watcher, 1) == [("marker", "", "")]
    await watcher.close()


async def test_only_watched_channels_are_swept(engines: tuple[Clock, list[Broker]]) -> None:
    clock, (a, b) = engines
    keep_b = PresenceKeeper(b, ttl=30.0)
    keep_b.watch("topic:room")
    keep_b.unwatch("topic:room")
    await PresenceKeeper(a, ttl=30.0).add("topic:room", "a-1", "alice")
    await keep_b.sweep()
    clock.now += 31.0
    await keep_b.sweep()
    assert await b.kv_get("notify:left:topic:room:a-1") is None
