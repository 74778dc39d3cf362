"""The Redis engine's pipelining of small commands and batched (UN)SUBSCRIBEs (redis_batch.py,
redis_pubsub.py): many callers at once each get their own answer, a position read never misses
a publication, and the pub/sub state stays exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from realtime.server.broker.redis import RedisBroker
from tests.redis_server import delete_prefix, redis_process, test_prefix


@pytest.fixture
async def broker(redis_url: str) -> AsyncIterator[RedisBroker]:
    prefix = test_prefix()
    b = RedisBroker(redis_url, prefix=prefix)
    await b.start()
    try:
        yield b
    finally:
        await b.close()
        await delete_prefix(redis_url, prefix)


async def numsub(url: str, name: bytes) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        ((_, count),) = await client.pubsub_numsub(name)
        return int(count)
    finally:
        await client.aclose()


async def test_hundreds_of_callers_at_once_each_get_their_own_answer(broker: RedisBroker) -> None:
    n = 600  # more than one pipeline's worth (MAX_BATCH)
    assert all(await asyncio.gather(*(broker.kv_set_if_absent(f"k{i}", f"v{i}".encode()) for i in range(n))))
    values = await asyncio.gather(*(broker.kv_get(f"k{i}") for i in range(n)))
    assert values == [f"v{i}".encode() for i in range(n)]
    assert not any(await asyncio.gather(*(broker.kv_set_if_absent(f"k{i}", b"again") for i in range(n))))
    for i in range(5):
        await broker.publish(f"c{i % 3}", b"x")
    tops = await asyncio.gather(*(broker.history(f"c{i % 4}", limit=0) for i in range(n)))
    assert [t.position.offset for t in tops] == [[2, 2, 1, 0][i % 4] for i in range(n)]
    taken = await asyncio.gather(*(broker.take_tokens("bucket", 3, 1.0, 100, 60.0) for _ in range(40)))
    assert sum(got for got, _ in taken) == 100  # one bucket: the burst, not one per caller
    assert max(wait for _, wait in taken) > 0


async def test_a_position_read_after_attaching_misses_no_later_publication(broker: RedisBroker) -> None:
    """The subscribe rule (attach, then read the position) with reads of one channel shared
    between callers: each subscriber gets every publication after the position it was told."""
    stop = asyncio.Event()

    async def publish() -> int:
        count = 0
        while not stop.is_set():
            await broker.publish("general", b"p")
            count += 1
        return count

    publisher = asyncio.create_task(publish())
    subs = []
    tops = []
    for _ in range(10):  # rounds of 30 subscribers at once while publications flow
        batch = [broker.subscribe() for _ in range(30)]
        await asyncio.gather(*(s.add("general") for s in batch))
        positions = await asyncio.gather(*(broker.history("general", limit=0) for _ in batch))
        subs.extend(batch)
        tops.extend(p.position.offset for p in positions)
        await asyncio.sleep(0)
    stop.set()
    last = await publisher
    assert last > 0
    final = (await broker.history("general", limit=0)).position.offset
    async with asyncio.timeout(20):
        for sub, top in zip(subs, tops, strict=True):
            seen = set()
            while final not in seen:
                seen.add((await sub.get()).offset)
            assert set(range(top + 1, final + 1)) <= seen, (top, final)
    for sub in subs:
        await sub.close()


async def test_subscribe_then_unsubscribe_in_one_turn_leaves_redis_unsubscribed(
    broker: RedisBroker, redis_url: str
) -> None:
    a, b = broker.subscribe(), broker.subscribe()
    await a.add("room")
    await b.add("room")
    assert broker.subscriber_count("room") == 2
    await a.remove("room")
    assert broker.subscriber_count("room") == 1
    await broker.publish("room", b"to b")
    async with asyncio.timeout(5):
        assert (await b.get()).data == b"to b"
    await b.remove("room")
    assert broker.subscriber_count("room") == 0
    # Attached and detached before the SUBSCRIBE went out: the UNSUBSCRIBE follows it.
    c = broker.subscribe()
    adding = asyncio.create_task(c.add("hall"))
    await asyncio.sleep(0)
    await c.remove("hall")
    await adding
    marker = broker.subscribe()
    await marker.add("marker")  # confirmed on the pub/sub connection after the UNSUBSCRIBE
    assert await numsub(redis_url, broker._pubsub_name("hall")) == 0
    assert await numsub(redis_url, broker._pubsub_name("marker")) == 1
    assert await numsub(redis_url, broker._pubsub_name("room")) == 0
    assert not broker._confirms  # no per-channel leftovers
    await marker.close()


async def test_scripts_redis_forgot_are_loaded_again() -> None:
    with redis_process() as server:
        broker = RedisBroker(server.url)
        await broker.start()
        try:
            await broker.kv_set("k", b"1")
            client = aioredis.Redis.from_url(server.url)
            await client.script_flush()  # a private Redis: as after a restart
            await client.aclose()
            got = await asyncio.gather(broker.kv_get("k"), broker.kv_set_if_absent("j", b"2"))
            assert got == [b"1", True]
            assert await broker.take_tokens("b", 1, 1.0, 5, 10.0) == (1, 0.0)
        finally:
            await broker.close()


@pytest.mark.parametrize("outcome", ["reply", "error"])
async def test_a_reloaded_script_whose_caller_gave_up_raises_nothing(outcome: str) -> None:
    """A script Redis forgot is run again in a task; if its caller was cancelled meanwhile (a
    stream closed during a Redis restart), the late reply or error must not blow up that task."""
    from realtime.server.broker.redis_batch import Batcher, _Command

    release = asyncio.Event()

    async def script(keys: list[object], args: list[object]) -> int:
        await release.wait()
        if outcome == "error":
            raise ConnectionError("redis went away again")
        return 1

    batcher = Batcher(client=None)  # type: ignore[arg-type]
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    batcher._rerun(_Command((1, "key", "arg"), script, future))  # type: ignore[arg-type]
    (task,) = batcher._tasks
    future.cancel()
    release.set()
    await asyncio.wait_for(task, 5)
    assert task.exception() is None
