"""The broker contract: the same tests on the memory and the Redis engine."""

from __future__ import annotations

import asyncio
import random

import pytest

from realtime.server.broker.base import Broker
from realtime.server.broker.model import (
    CLOSED_BY_CALLER,
    CLOSED_OVERFLOW,
    Publication,
    StreamPosition,
    SubscriptionClosed,
)

from .conftest import FakeClock


async def publish_n(broker: Broker, channel: str, n: int, **kw: object) -> list[Publication]:
    return [(await broker.publish(channel, f"m{i}".encode(), **kw))[0] for i in range(n)]  # type: ignore[arg-type]


async def test_offsets_grow_by_one_in_one_epoch(broker: Broker) -> None:
    pubs = await publish_n(broker, "topic:a", 5)
    assert [p.offset for p in pubs] == [1, 2, 3, 4, 5]
    assert len({p.epoch for p in pubs}) == 1 and pubs[0].epoch
    got = await broker.history("topic:a")
    assert got.recovered and got.position == StreamPosition(pubs[0].epoch, 5)
    assert [p.data for p in got.publications] == [b"m0", b"m1", b"m2", b"m3", b"m4"]


async def test_payload_and_meta_round_trip(broker: Broker, clock: FakeClock) -> None:
    data = bytes(range(256)) + b"\n:\n"
    pub, dup = await broker.publish("topic:bin", data, meta={"title": "héllo: x", "level": "info"})
    assert not dup
    [got] = (await broker.history("topic:bin")).publications
    assert got.data == data and dict(got.meta) == {"title": "héllo: x", "level": "info"}
    assert got.time == pytest.approx(clock.now)
    assert got == Publication("topic:bin", pub.epoch, 1, data, got.time, got.meta)


async def test_history_limit_and_size_trim(broker: Broker) -> None:
    await publish_n(broker, "c", 10, history_size=4)
    full = await broker.history("c")
    assert [p.offset for p in full.publications] == [7, 8, 9, 10]
    assert [p.offset for p in (await broker.history("c", limit=2)).publications] == [9, 10]
    top_only = await broker.history("c", limit=0)
    assert top_only.publications == [] and top_only.position.offset == 10


async def test_recovery_is_exact_or_nothing(broker: Broker) -> None:
    pubs = await publish_n(broker, "c", 10, history_size=5)
    epoch = pubs[0].epoch
    ok = await broker.history("c", since=StreamPosition(epoch, 7))
    assert ok.recovered and [p.offset for p in ok.publications] == [8, 9, 10]
    current = await broker.history("c", since=StreamPosition(epoch, 10))
    assert current.recovered and current.publications == []
    edge = await broker.history("c", since=StreamPosition(epoch, 5))  # 6..10 all kept
    assert edge.recovered and [p.offset for p in edge.publications] == [6, 7, 8, 9, 10]
    for since, why in [
        (StreamPosition(epoch, 4), "5 was trimmed"),
        (StreamPosition("other", 7), "another epoch"),
        (StreamPosition(epoch, 11), "beyond the top"),
    ]:
        res = await broker.history("c", since=since)
        assert not res.recovered and res.publications == [], why
    too_many = await broker.history("c", since=StreamPosition(epoch, 6), limit=3)
    assert not too_many.recovered and too_many.publications == []


async def test_history_expires_by_age(broker: Broker, clock: FakeClock) -> None:
    first = await publish_n(broker, "c", 2, history_ttl=60)
    clock.advance(30)
    await publish_n(broker, "c", 1, history_ttl=60)
    clock.advance(40)  # the first two are 70 s old now, the third 40 s
    kept = await broker.history("c")
    assert [p.offset for p in kept.publications] == [3]
    lost = await broker.history("c", since=StreamPosition(first[0].epoch, 0))
    assert not lost.recovered and lost.publications == []
    ok = await broker.history("c", since=StreamPosition(first[0].epoch, 2))
    assert ok.recovered and [p.offset for p in ok.publications] == [3]


async def test_no_history_still_numbers(broker: Broker) -> None:
    pubs = await publish_n(broker, "live", 3, history_size=0)
    assert [p.offset for p in pubs] == [1, 2, 3]
    res = await broker.history("live")
    assert res.publications == [] and res.position.offset == 3
    assert not (await broker.history("live", since=StreamPosition(pubs[0].epoch, 1))).recovered


async def test_remove_history_starts_a_new_epoch(broker: Broker) -> None:
    [old] = await publish_n(broker, "c", 1)
    await broker.remove_history("c")
    empty = await broker.history("c")
    assert empty.publications == [] and empty.position.offset == 0
    [new] = await publish_n(broker, "c", 1)
    assert new.offset == 1 and new.epoch != old.epoch
    assert not (await broker.history("c", since=old.position)).recovered


async def test_history_page_goes_backwards(broker: Broker) -> None:
    await publish_n(broker, "c", 7)
    page1 = await broker.history_page("c", limit=3)
    assert [p.offset for p in page1.publications] == [7, 6, 5]
    page2 = await broker.history_page("c", before_offset=5, limit=3)
    assert [p.offset for p in page2.publications] == [4, 3, 2]
    page3 = await broker.history_page("c", before_offset=2, limit=3)
    assert [p.offset for p in page3.publications] == [1]
    assert (await broker.history_page("nothing", limit=3)).publications == []


async def test_idempotent_publish_is_stored_and_delivered_once(broker: Broker) -> None:
    sub = broker.subscribe()
    await sub.add("c")
    first, dup1 = await broker.publish("c", b"x", idempotency_key="req-1")
    again, dup2 = await broker.publish("c", b"x", idempotency_key="req-1")
    other, _ = await broker.publish("c", b"y", idempotency_key="req-2")
    assert (dup1, dup2) == (False, True)
    assert again.position == first.position and other.offset == 2
    assert [p.offset for p in (await broker.history("c")).publications] == [1, 2]
    async with asyncio.timeout(5):
        assert (await sub.get()).offset == 1
        assert (await sub.get()).offset == 2
    assert sub.get_nowait() is None
    await sub.close()


async def test_live_delivery_in_order_to_every_subscriber(broker: Broker) -> None:
    a, b = broker.subscribe(), broker.subscribe()
    await a.add("c", "d")
    await b.add("c")
    assert broker.subscriber_count("c") == 2 and broker.subscriber_count("d") == 1
    await publish_n(broker, "c", 20)
    await broker.publish("d", b"other")
    async with asyncio.timeout(5):
        got_a = [await a.get() for _ in range(21)]
        got_b = [await b.get() for _ in range(20)]
    assert [p.offset for p in got_a if p.channel == "c"] == list(range(1, 21))
    assert [p.channel for p in got_a].count("d") == 1
    assert [p.offset for p in got_b] == list(range(1, 21))
    await a.remove("c")
    await broker.publish("c", b"after")
    await broker.publish("d", b"marker")
    async with asyncio.timeout(5):
        assert (await a.get()).data == b"marker"  # nothing from c in between
        assert (await b.get()).data == b"after"
    await a.close()
    await b.close()
    with pytest.raises(SubscriptionClosed) as info:
        await a.get()
    assert info.value.reason == CLOSED_BY_CALLER
    assert broker.subscriber_count("c") == 0


async def test_slow_subscriber_overflows_and_is_closed(broker: Broker) -> None:
    sub = broker.subscribe(maxsize=3)
    await sub.add("c")
    await publish_n(broker, "c", 5)
    async with asyncio.timeout(5):
        got = [await sub.get() for _ in range(3)]
        with pytest.raises(SubscriptionClosed) as info:
            await sub.get()
    assert [p.offset for p in got] == [1, 2, 3]
    assert info.value.reason == CLOSED_OVERFLOW and sub.closed_reason == CLOSED_OVERFLOW


async def test_byte_bound_overflows(broker: Broker) -> None:
    sub, probe = broker.subscribe(max_bytes=1000), broker.subscribe()
    await sub.add("c")
    await probe.add("c")
    await broker.publish("c", b"x" * 600)
    await broker.publish("c", b"y" * 600)
    async with asyncio.timeout(5):
        await probe.get()
        await probe.get()  # both were handed to every local subscriber by now
        assert len((await sub.get()).data) == 600
        with pytest.raises(SubscriptionClosed):
            await sub.get()


async def test_byte_bound_counts_the_whole_publication(broker: Broker) -> None:
    """A title or body in meta costs queue bytes as much as data does: 2,000 publications of
    8 KB bodies and no data must not fit a 64 KB queue."""
    sub, probe = broker.subscribe(max_bytes=64 * 1024, maxsize=10_000), broker.subscribe(maxsize=10_000)
    await sub.add("c")
    await probe.add("c")
    body = "b" * 8 * 1024
    for _ in range(20):
        await broker.publish("c", b"", meta={"b": body})
    async with asyncio.timeout(5):
        for _ in range(20):
            await probe.get()
        got = 0
        with pytest.raises(SubscriptionClosed) as info:
            while True:
                await sub.get()
                got += 1
    assert info.value.reason == CLOSED_OVERFLOW and 0 < got < 8
    await probe.close()


async def test_discard_drops_the_queue_of_a_closed_subscription(broker: Broker) -> None:
    sub, probe = broker.subscribe(max_bytes=4000), broker.subscribe()
    await sub.add("c")
    await probe.add("c")
    for _ in range(5):
        await broker.publish("c", b"z" * 1000)
    async with asyncio.timeout(5):
        for _ in range(5):
            await probe.get()  # handed to every local subscriber by now
    await probe.close()
    assert sub.closed and sub.queued > 0 and sub.discard() > 0
    assert sub.queued == 0 and sub.queued_bytes == 0
    with pytest.raises(SubscriptionClosed):
        sub.get_nowait()


async def test_subscribe_during_publish_loses_and_duplicates_nothing(broker: Broker) -> None:
    """Subscribe first, then read history, then merge: exactly 1..N whatever the timing."""
    total = 300
    [first] = await publish_n(broker, "race", 1)
    rng = random.Random(7)

    async def publisher() -> None:
        for i in range(2, total + 1):
            await broker.publish("race", f"m{i}".encode())
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    for _ in range(3):
        task = asyncio.create_task(publisher()) if _ == 0 else None
        for _ in range(rng.randint(0, 40)):
            await asyncio.sleep(0)
        sub = broker.subscribe(maxsize=total + 10)
        await sub.add("race")
        replay = await broker.history("race", since=StreamPosition(first.epoch, 0))
        assert replay.recovered
        seen = [p.offset for p in replay.publications]
        if task is not None:
            async with asyncio.timeout(30):
                await task
        async with asyncio.timeout(10):
            while not seen or seen[-1] < total:
                pub = await sub.get()
                if pub.offset > seen[-1]:
                    seen.append(pub.offset)
        assert seen == list(range(1, total + 1))
        await sub.close()


async def test_presence_add_refresh_expire_remove(broker: Broker, clock: FakeClock) -> None:
    await broker.presence_add("doc:1", "conn-a", user_id="alice", info=b'{"cursor":3}', ttl=30)
    await broker.presence_add("doc:1", "conn-b", user_id="bob", ttl=30)
    got = await broker.presence("doc:1")
    assert set(got) == {"conn-a", "conn-b"}
    assert got["conn-a"].user_id == "alice" and got["conn-a"].info == b'{"cursor":3}'
    assert got["conn-a"].expires_at == pytest.approx(clock.now + 30, abs=0.01)
    clock.advance(20)
    await broker.presence_add("doc:1", "conn-a", user_id="alice", ttl=30)  # refresh
    clock.advance(15)  # b is 35 s old: gone; a was refreshed 15 s ago
    assert set(await broker.presence("doc:1")) == {"conn-a"}
    await broker.presence_remove("doc:1", "conn-a")
    await broker.presence_remove("doc:1", "never-there")
    assert await broker.presence("doc:1") == {}


async def test_kv_with_ttl_and_conditions(broker: Broker, clock: FakeClock) -> None:
    assert await broker.kv_get("svc:k") is None
    await broker.kv_set("svc:k", b"v1")
    assert await broker.kv_get("svc:k") == b"v1"
    assert not await broker.kv_set_if_absent("svc:k", b"v2")
    assert await broker.kv_compare_and_set("svc:k", b"v1", b"v3", ttl=10)
    assert not await broker.kv_compare_and_set("svc:k", b"v1", b"v4")
    assert await broker.kv_get("svc:k") == b"v3"
    clock.advance(11)
    assert await broker.kv_get("svc:k") is None  # expired
    assert await broker.kv_set_if_absent("svc:lease", b"owner-1", ttl=5)
    assert not await broker.kv_set_if_absent("svc:lease", b"owner-2", ttl=5)
    assert not await broker.kv_compare_and_delete("svc:lease", b"owner-2")
    assert await broker.kv_compare_and_delete("svc:lease", b"owner-1")
    assert await broker.kv_set_if_absent("svc:lease", b"owner-2", ttl=5)
    clock.advance(6)
    assert await broker.kv_set_if_absent("svc:lease", b"owner-3", ttl=5)  # the old lease expired
    assert await broker.kv_delete("svc:lease")
    assert not await broker.kv_delete("svc:lease")
    assert not await broker.kv_compare_and_delete("svc:lease", b"owner-3")


async def test_read_marks_expire(broker: Broker, clock: FakeClock) -> None:
    assert await broker.mark_read("alice", ["n1", "n2"], ttl=100) == 2
    assert await broker.mark_read("alice", ["n2", "n3"], ttl=100) == 1
    assert await broker.read_marks("alice", ["n1", "n3", "n4"]) == {"n1", "n3"}
    assert await broker.read_marks("bob", ["n1"]) == set()
    clock.advance(101)
    assert await broker.read_marks("alice", ["n1", "n2", "n3"]) == set()
    assert await broker.mark_read("alice", [], ttl=100) == 0
    assert await broker.mark_read_ids("alice", ["n1", "n5", "n5"], ttl=100) == {"n1", "n5"}
    assert await broker.mark_read_ids("alice", ["n1", "n5", "n6"], ttl=100) == {"n6"}
    assert await broker.mark_read_ids("alice", [], ttl=100) == set()


@pytest.mark.parametrize("channel", ["", "has space", "x" * 256, "tab\there"])
async def test_bad_channels_are_refused(broker: Broker, channel: str) -> None:
    with pytest.raises(ValueError):
        await broker.publish(channel, b"x")
    with pytest.raises(ValueError):
        await broker.history(channel)
    with pytest.raises(ValueError):
        await broker.presence_add(channel, "c", user_id="u")


async def test_bad_arguments_are_refused(broker: Broker) -> None:
    with pytest.raises(ValueError):
        await broker.publish("c", b"x", history_size=-1)
    with pytest.raises(ValueError):
        await broker.publish("c", b"x", history_ttl=0)
    with pytest.raises(ValueError):
        await broker.history("c", limit=-1)
    with pytest.raises(ValueError):
        await broker.kv_set("", b"x")
    with pytest.raises(ValueError):
        await broker.kv_set("k", b"x", ttl=-1)
    with pytest.raises(ValueError):
        broker.subscribe(maxsize=0)


async def test_ready_survives_a_cancelled_waiter_and_wakes_the_next(broker: Broker) -> None:
    """The notification stream awaits `ready()` directly: a cancelled wait must not break the
    subscription, and the next `ready()` must still be completed by a publication."""
    sub = broker.subscribe()
    await sub.add("c")
    try:
        first = asyncio.ensure_future(asyncio.wait_for(sub.ready(), 0.05))
        with pytest.raises(TimeoutError):
            await first  # nothing published: the wait times out and cancels the future
        assert sub.get_nowait() is None and not sub.closed
        nxt = sub.ready()
        assert not nxt.done()
        await broker.publish("c", b"x")
        async with asyncio.timeout(10):
            await nxt
        got = sub.get_nowait()
        assert got is not None and got.data == b"x"
        woken = sub.ready()
        sub.wake()  # a wake-up without a publication (a command, shutdown) completes ready()
        assert woken.done() and sub.get_nowait() is None
    finally:
        await sub.close()
