"""What only the Redis engine does: replicas sharing channels, and losing Redis."""

from __future__ import annotations

import asyncio

import pytest

from realtime.server.broker.factory import create_broker, split_prefix
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.model import (
    CLOSED_UNAVAILABLE,
    BrokerUnavailable,
    StreamPosition,
    SubscriptionClosed,
)
from realtime.server.broker.redis import RedisBroker
from tests.redis_server import delete_prefix, redis_process, test_prefix


async def test_two_brokers_share_channels(redis_url: str) -> None:
    prefix = test_prefix()
    a, b = RedisBroker(redis_url, prefix=prefix), RedisBroker(redis_url, prefix=prefix)
    await a.start()
    await b.start()
    try:
        sub = b.subscribe()
        await sub.add("user:alice")
        for i in range(50):
            await a.publish("user:alice", f"n{i}".encode())
        async with asyncio.timeout(10):
            got = [await sub.get() for _ in range(50)]
        assert [p.offset for p in got] == list(range(1, 51))
        assert (await b.history("user:alice", since=StreamPosition(got[0].epoch, 45))).recovered
        await b.kv_set("k", b"v")
        assert await a.kv_get("k") == b"v"
    finally:
        await a.close()
        await b.close()
        await delete_prefix(redis_url, prefix)


async def test_losing_redis_turns_unhealthy_closes_subscriptions_and_recovers() -> None:
    with redis_process() as server:
        broker = RedisBroker(server.url, ping_interval=0.2, reconnect_delay=0.1)
        changes: list[bool] = []
        flipped = asyncio.Event()

        def on_change(healthy: bool) -> None:
            changes.append(healthy)
            flipped.set()

        broker.on_health_change(on_change)
        await broker.start()
        try:
            sub = broker.subscribe()
            await sub.add("c")
            await broker.publish("c", b"before")
            async with asyncio.timeout(5):
                assert (await sub.get()).data == b"before"
            server.kill()
            async with asyncio.timeout(10):
                await flipped.wait()
                with pytest.raises(SubscriptionClosed) as info:
                    await sub.get()
            assert info.value.reason == CLOSED_UNAVAILABLE and not broker.healthy and changes == [False]
            with pytest.raises(BrokerUnavailable):
                await broker.publish("c", b"lost")
            with pytest.raises(BrokerUnavailable):
                broker.subscribe()
            flipped.clear()
            with redis_process(server.port):
                async with asyncio.timeout(15):
                    await flipped.wait()
                assert broker.healthy and changes == [False, True]
                again = broker.subscribe()
                await again.add("c")
                pub, _ = await broker.publish("c", b"after")
                async with asyncio.timeout(5):
                    assert (await again.get()).data == b"after"
                assert pub.offset == 1  # the restarted Redis kept nothing: a new epoch
        finally:
            await broker.close()


async def test_start_fails_fast_when_redis_is_absent() -> None:
    from tests.redis_server import free_port

    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=1.0)
    with pytest.raises(BrokerUnavailable):
        await broker.start()
    await broker.close()


def test_factory() -> None:
    assert isinstance(create_broker("memory"), MemoryBroker)
    assert isinstance(create_broker("redis://127.0.0.1:1/0"), RedisBroker)
    assert split_prefix("redis://h:1/0?prefix=app1:&db=2") == ("redis://h:1/0?db=2", "app1:")
    assert split_prefix("redis://h:1/0") == ("redis://h:1/0", "rt:")
    with pytest.raises(ValueError):
        create_broker("kafka://x")


async def test_idle_broker_with_no_subscriptions_stays_healthy(redis_url: str) -> None:
    """PING is answered with +PONG outside subscribed mode; that must count as an answer.

    Counted pongs prove it rather than wall-clock timing: an unrecognised PONG leaves the
    first PING outstanding forever, so no further round would ever be sent. The timeout is
    generous so a stalled loop on a busy machine cannot raise a false alarm.
    """
    broker = RedisBroker(redis_url, prefix=test_prefix(), ping_interval=0.02, ping_timeout=30.0)
    flipped = asyncio.Event()
    broker.on_health_change(lambda healthy: flipped.set())
    await broker.start()
    try:
        await _wait_for_pongs(broker, broker.pongs_received + 3)  # several rounds outside subscribed mode
        sub = broker.subscribe()
        await sub.add("c")  # in subscribed mode the answer is a ["pong", ""] array
        await _wait_for_pongs(broker, broker.pongs_received + 3)
        assert broker.healthy and not flipped.is_set()
    finally:
        await broker.close()


async def _wait_for_pongs(broker: RedisBroker, count: int) -> None:
    for _ in range(500):  # at most 10 s
        if broker.pongs_received >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {broker.pongs_received} of {count} pings answered in 10 s")


async def test_close_during_reconnect_does_not_hang(redis_url: str) -> None:
    """close() while the supervisor is reconnecting must end it, not leave it looping."""
    broker = RedisBroker(redis_url, prefix=test_prefix(), ping_interval=0.02, reconnect_delay=0.05)
    lost = asyncio.Event()
    broker.on_health_change(lambda healthy: None if healthy else lost.set())
    await broker.start()
    await broker._conn.disconnect()  # the reader sees the closed socket: a loss
    async with asyncio.timeout(10.0):
        await lost.wait()
    async with asyncio.timeout(10.0):
        await broker.close()
    assert broker._supervisor is not None and broker._supervisor.done()


async def test_a_burst_beyond_the_pool_queues_instead_of_failing(redis_url: str) -> None:
    prefix = test_prefix()
    broker = RedisBroker(redis_url, prefix=prefix, max_connections=2)
    await broker.start()
    try:
        await broker.publish("c", b"x")
        results = await asyncio.gather(*(broker.history("c") for _ in range(50)))
        assert all(r.position.offset == 1 for r in results)
    finally:
        await broker.close()
        await delete_prefix(redis_url, prefix)
