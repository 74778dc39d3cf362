"""Attacks on notifications through a real hub: the same call twice and twenty times, several
users at once, and collisions between streams, on every broker engine."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime.server.testing import TestHub
from realtime.v1 import common_pb2
from tests.redis_server import delete_prefix, test_prefix

from .notify_support import notify_hub, open_stream, pb, pos, stub


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[TestHub]:
    if request.param == "memory":
        async with notify_hub(tmp_path) as h:
            yield h
        return
    if request.param == "sqlite":
        async with notify_hub(tmp_path, broker=f"sqlite://{tmp_path}/hub.db") as h:
            yield h
        return
    prefix = test_prefix()
    try:
        async with notify_hub(tmp_path, broker=f"{redis_url}?prefix={prefix}") as h:
            yield h
    finally:
        await delete_prefix(redis_url, prefix)


async def test_mark_read_of_the_same_ids_at_once_marks_each_once(hub: TestHub) -> None:
    """Twenty MarkRead calls of the same ids at once (unary and on two streams): each id is
    reported MARKED by exactly one of them and `newly_read` adds up to the number of ids."""
    async with hub.client("root", roles=["admin"]) as root:
        ids = [
            (await stub(root).Publish(pb.PublishRequest(channel="user:alice", title=f"n{i}"), timeout=5)).id
            for i in range(10)
        ]
    async with hub.client("alice") as alice:
        api = stub(alice)
        async with open_stream(alice) as s1, open_stream(alice) as s2:

            async def on_stream(s: object) -> tuple[int, list[pb.MarkReadResult]]:
                await s.send(mark_read=pb.MarkReadCommand(notification_ids=ids))  # type: ignore[attr-defined]
                ev = await s.expect("marked_read")  # type: ignore[attr-defined]
                return ev.marked_read.newly_read, list(ev.marked_read.results)

            async def unary() -> tuple[int, list[pb.MarkReadResult]]:
                reply = await api.MarkRead(pb.MarkReadRequest(notification_ids=ids), timeout=10)
                return reply.newly_read, list(reply.results)

            replies = await asyncio.gather(on_stream(s1), on_stream(s2), *(unary() for _ in range(18)))
    assert sum(newly for newly, _ in replies) == len(ids)
    for newly, results in replies:  # each reply agrees with itself
        assert newly == sum(r.status == pb.MARK_READ_STATUS_MARKED for r in results)
    for i, mid in enumerate(ids):
        statuses = [results[i].status for _, results in replies]
        assert all(results[i].notification_id == mid for _, results in replies)
        assert statuses.count(pb.MARK_READ_STATUS_MARKED) == 1, (mid, statuses)
        assert statuses.count(pb.MARK_READ_STATUS_ALREADY_READ) == len(replies) - 1


async def test_twenty_publishers_and_twenty_subscribers_on_one_channel(hub: TestHub) -> None:
    """20 users publish 10 notifications each (in a seeded, shuffled interleaving) while 20 users
    listen: every listener gets all 200 exactly once, in the channel's order, and each
    publisher's own notifications in the order it published them."""
    seed = 20_20
    print(f"seed={seed}")
    rng = random.Random(seed)
    channel, per = "topic:crowd", 10
    publishers = [f"pub{i}" for i in range(20)]
    pauses = {p: [rng.random() < 0.3 for _ in range(per)] for p in publishers}
    async with contextlib.AsyncExitStack() as stack:
        streams = []
        for i in range(20):
            client = await stack.enter_async_context(hub.client(f"sub{i}"))
            s = await stack.enter_async_context(open_stream(client))
            await s.subscribe(channel)
            streams.append(s)

        async def publish(user: str) -> list[int]:
            offsets = []
            async with hub.client(user) as client:
                for n in range(per):
                    if pauses[user][n]:
                        await asyncio.sleep(0)  # a seeded shuffle of who goes next
                    title, rid = f"{user}/{n}", f"{user}-{n}"
                    request = pb.PublishRequest(channel=channel, title=title, request_id=rid)
                    offsets.append((await stub(client).Publish(request, timeout=10)).position.offset)
            return offsets

        sent = await asyncio.gather(*(publish(p) for p in publishers))
        total = per * len(publishers)
        assert sorted(o for offsets in sent for o in offsets) == list(range(1, total + 1))
        got = await asyncio.gather(*(s.notifications(total) for s in streams))
    for received in got:
        assert [n.position.offset for n in received] == list(range(1, total + 1))
        for p in publishers:
            mine = [n.title for n in received if n.publisher == p]
            assert mine == [f"{p}/{n}" for n in range(per)]


async def test_the_same_publish_twenty_times_at_once_is_delivered_once(hub: TestHub) -> None:
    async with hub.client("alice") as alice, open_stream(alice) as s:
        await s.subscribe("topic:once")
        request = pb.PublishRequest(channel="topic:once", title="hello", request_id="r-1")
        replies = await asyncio.gather(*(stub(alice).Publish(request, timeout=10) for _ in range(20)))
        assert len({r.id for r in replies}) == 1
        assert sorted(r.duplicate for r in replies) == [False] + [True] * 19
        [first] = await s.notifications(1)
        assert first.id == replies[0].id
        after = await stub(alice).Publish(pb.PublishRequest(channel="topic:once", title="next"), timeout=10)
        [second] = await s.notifications(1)  # nothing else came in between
        assert second.id == after.id and second.position.offset == first.position.offset + 1


async def test_history_of_notifications_near_the_size_cap_pages_through(hub: TestHub) -> None:
    """Twenty notifications of ~60 KiB (under the 64 KiB cap each): a default page of 50 would
    be ~1.2 MiB, past the hub's 1 MiB message limit. Listing must still return them all, a page
    at a time, newest first, each page small enough to be sent."""
    seed = 64
    print(f"seed={seed}")
    rng = random.Random(seed)
    sizes = [60 * 1024 + rng.randrange(2048) for _ in range(20)]
    async with hub.client("root", roles=["admin"]) as root:
        for i, size in enumerate(sizes):
            request = pb.PublishRequest(
                channel="user:alice",
                title=f"big{i}",
                data=rng.randbytes(size),
                content_type="application/x-b",
            )
            await stub(root).Publish(request, timeout=10)
    async with hub.client("alice") as alice:
        for page_size in (0, 200):
            titles: list[str] = []
            token = ""
            for _ in range(len(sizes) + 1):
                request = pb.ListNotificationsRequest(page_size=page_size, page_token=token)
                page = await stub(alice).ListNotifications(request, timeout=10)
                assert page.notifications, "an empty page before the end"
                titles += [n.title for n in page.notifications]
                token = page.next_page_token
                if not token:
                    break
            assert titles == [f"big{i}" for i in reversed(range(len(sizes)))]


async def test_streams_dropped_mid_way_give_their_subscriptions_back(tmp_path: Path) -> None:
    """Twenty rounds of a Listen and a Subscribe stream that take the user's whole subscription
    allowance and are dropped without reading (mid-replay for Listen): afterwards the user's
    allowance, the broker's subscribers and the presence entries are all free again."""
    limit = 5
    channels = [f"topic:drop{i}" for i in range(limit - 2)]  # + general and user:alice
    async with notify_hub(tmp_path, {"max_subscriptions_per_user": limit}) as hub:
        assert hub.hub.ctx is not None
        broker = hub.hub.ctx.broker
        async with hub.client("root", roles=["admin"]) as root:
            for channel in channels:
                for i in range(30):  # history to replay
                    await stub(root).Publish(pb.PublishRequest(channel=channel, title=f"h{i}"), timeout=5)
        async with hub.client("alice") as alice:
            for _ in range(20):
                listen = stub(alice).Listen(
                    pb.ListenRequest(
                        channels=[
                            pb.ListenChannel(channel=c, since=pos("", 0), join_leave=True) for c in channels
                        ]
                    )
                )
                assert (await listen.read()).WhichOneof("event") == "subscribed"
                listen.cancel()
                s = stub(alice).Subscribe()
                for n, channel in enumerate(channels):
                    await s.write(
                        pb.SubscribeRequest(id=f"c{n}", subscribe=pb.SubscribeCommand(channel=channel))
                    )
                s.cancel()

            async def all_gone() -> bool:
                counts = [broker.subscriber_count(c) for c in channels]
                present = [len(await broker.presence(c)) for c in channels]
                return not any(counts) and not any(present)

            for _ in range(300):  # bounded: the server notices each cancel on its own time
                if await all_gone():
                    break
                await asyncio.sleep(0.05)
            assert await all_gone()
            async with open_stream(alice) as s:
                for channel in channels:
                    await s.subscribe(channel)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def quota_hub(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[TestHub]:
    """A hub with small publish quotas on each engine."""
    settings = {
        "user_publish_bytes": 10_000,
        "channel_history_bytes": 10_000,
        "namespace_history_bytes": 10_000,
        "publish_rate": 0,
    }
    prefix = test_prefix()
    broker = {
        "memory": {},
        "sqlite": {"broker": f"sqlite://{tmp_path}/hub.db"},
        "redis": {"broker": f"{redis_url}?prefix={prefix}"},
    }[request.param]
    try:
        async with notify_hub(tmp_path, settings, **broker) as h:
            yield h
    finally:
        if request.param == "redis":
            await delete_prefix(redis_url, prefix)


async def test_retried_publishes_are_not_charged_twice(quota_hub: TestHub) -> None:
    """A client retrying one publish (same request_id) twenty times, at once and in a row, adds
    one notification: its quotas are charged for one, so its next publications still fit."""
    async with quota_hub.client("carol") as carol:
        api = stub(carol)
        request = pb.PublishRequest(channel="topic:retry", body="x" * 4000, request_id="once")
        first = await api.Publish(request, timeout=10)
        again = await asyncio.gather(*(api.Publish(request, timeout=10) for _ in range(10)))
        again += [await api.Publish(request, timeout=10) for _ in range(10)]
        assert all(r.duplicate and r.id == first.id for r in again)
        await api.Publish(pb.PublishRequest(channel="topic:retry", body="y" * 4000), timeout=10)


async def test_the_same_subscribe_twenty_times_on_one_stream_delivers_once(hub: TestHub) -> None:
    async with hub.client("alice") as alice, open_stream(alice) as s:
        answers = []
        for _ in range(20):
            await s.send(subscribe=pb.SubscribeCommand(channel="topic:twice"))
            answers.append((await s.next()).WhichOneof("event"))
        assert answers[0] == "subscribed" and set(answers) <= {"subscribed", "error"}, answers
        published = await stub(alice).Publish(
            pb.PublishRequest(channel="topic:twice", title="one"), timeout=10
        )
        [got] = await s.notifications(1)
        assert got.id == published.id
        await s.send(ping=common_pb2.PingCommand())
        after = await s.next()  # the answer to the ping, not a second copy of the notification
        assert after.WhichOneof("event") != "notification", after
