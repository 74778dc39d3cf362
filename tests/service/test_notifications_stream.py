"""The notification stream: automatic channels, commands, recovery, races, limits."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import grpc
import pytest

from realtime.server.broker.base import Broker
from realtime.server.testing import TestHub
from realtime.v1 import common_pb2

from .notify_support import error_info, notify_hub, open_stream, pb, pos, stub


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with notify_hub(tmp_path) as h:
        yield h


def common_ping() -> common_pb2.PingCommand:
    return common_pb2.PingCommand()


def broker_of(hub: TestHub) -> Broker:
    assert hub.hub.ctx is not None
    broker = hub.hub.ctx.broker
    assert isinstance(broker, Broker)
    return broker


async def test_connect_subscribes_general_and_own_channel(hub: TestHub) -> None:
    async with hub.client("alice") as alice, hub.client("root", roles=["admin"]) as admin:
        async with open_stream(alice) as s:
            assert [e.subscribed.channel for e in s.auto] == ["general", "user:alice"]
            assert all(e.command_id == "" for e in s.auto)
            for channel in ("general", "user:alice", "user:bob"):
                await stub(admin).Publish(
                    pb.PublishRequest(channel=channel, title=f"to {channel}"), timeout=5
                )
            got = await s.notifications(2)
            assert [(n.channel, n.title, n.publisher) for n in got] == [
                ("general", "to general", "root"),
                ("user:alice", "to user:alice", "root"),
            ]
            assert got[0].id == f"general#{got[0].position.epoch}:1" and got[0].position.offset == 1
            cid = await s.send(ping=common_ping())
            pong = await s.expect("pong")
            assert pong.command_id == cid  # and nothing from user:bob came before it


async def test_commands_and_bad_commands_keep_the_stream(hub: TestHub) -> None:
    async with hub.client("alice") as alice, hub.client("bob") as bob:
        async with open_stream(alice) as s:
            sub = await s.subscribe("topic:news")
            assert sub.position.offset == 0 and not sub.resumed
            reply = await stub(bob).Publish(
                pb.PublishRequest(
                    channel="topic:news", title="hi", data=b"{}", content_type="application/json"
                ),
                timeout=5,
            )
            [n] = await s.notifications(1)
            assert (n.id, n.data, n.content_type, n.publisher) == (reply.id, b"{}", "application/json", "bob")
            bad = [
                {"subscribe": pb.SubscribeCommand(channel="no spaces allowed")},
                {"subscribe": pb.SubscribeCommand(channel="")},
                {"subscribe": pb.SubscribeCommand(channel="UPPER:x")},
                {"unsubscribe": pb.UnsubscribeCommand(channel="topic:never")},
                {},
            ]
            for command in bad:
                cid = await s.send(**command)
                err = await s.expect("error")
                assert err.command_id == cid and err.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
                assert err.error.reason == "INVALID_ARGUMENT"
            # A bad id is refused alone, in its own result; the good one beside it is marked.
            cid = await s.send(mark_read=pb.MarkReadCommand(notification_ids=["not-an-id", reply.id]))
            marked = await s.expect("marked_read")
            assert marked.command_id == cid and marked.marked_read.newly_read == 1
            assert [r.status for r in marked.marked_read.results] == [
                pb.MARK_READ_STATUS_INVALID_ID,
                pb.MARK_READ_STATUS_MARKED,
            ]
            cid = await s.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:news"))
            ev = await s.expect("unsubscribed")
            assert ev.command_id == cid and ev.unsubscribed.reason == pb.UNSUBSCRIBE_REASON_CLIENT
            await stub(bob).Publish(pb.PublishRequest(channel="topic:news", title="gone"), timeout=5)
            cid = await s.send(ping=common_ping())
            assert (await s.expect("pong")).command_id == cid  # the unsubscribed channel sent nothing


async def test_resume_is_exact_or_reports_not_recovered(hub: TestHub) -> None:
    broker = broker_of(hub)
    pubs = [(await broker.publish("topic:r", f"m{i}".encode(), meta={"t": f"m{i}"}))[0] for i in range(6)]
    epoch = pubs[0].epoch
    async with hub.client("alice") as alice, open_stream(alice) as s:
        sub = await s.subscribe("topic:r", pos(epoch, 3))
        assert sub.resumed and sub.recovered and sub.position.offset == 6
        assert [n.position.offset for n in await s.notifications(3)] == [4, 5, 6]
        await broker.publish("topic:r", b"live", meta={"t": "live"})
        [live] = await s.notifications(1)
        assert live.position.offset == 7 and live.title == "live"
    for since in (pos("another-epoch", 3), pos(epoch, 99)):
        async with hub.client("alice") as alice, open_stream(alice) as s:
            sub = await s.subscribe("topic:r", since)
            assert sub.resumed and not sub.recovered and sub.position.offset == 7
            cid = await s.send(ping=common_ping())
            assert (await s.expect("pong")).command_id == cid  # nothing was replayed


async def test_resume_of_an_automatic_channel_sends_each_publication_once(hub: TestHub) -> None:
    broker = broker_of(hub)
    first = [(await broker.publish("user:alice", f"old{i}".encode()))[0] for i in range(3)]
    async with hub.client("alice") as alice, open_stream(alice) as s:
        await broker.publish("user:alice", b"live4")
        [n4] = await s.notifications(1)
        assert n4.position.offset == 4
        sub = await s.subscribe("user:alice", pos(first[0].epoch, 1))
        assert sub.recovered
        replayed = await s.notifications(2)
        assert [n.position.offset for n in replayed] == [2, 3]  # 4 was already sent on this stream
        await broker.publish("user:alice", b"live5")
        assert [n.position.offset for n in await s.notifications(1)] == [5]


async def test_subscribe_while_publishing_loses_and_duplicates_nothing(hub: TestHub) -> None:
    broker = broker_of(hub)
    [first] = [(await broker.publish("topic:race", b"0"))[0]]
    total = 400
    rng = random.Random(3)

    async def publisher() -> None:
        for i in range(2, total + 1):
            await broker.publish("topic:race", str(i).encode())
            if rng.random() < 0.2:
                await asyncio.sleep(0)

    async with hub.client("alice") as alice, open_stream(alice) as s:
        task = asyncio.create_task(publisher())
        await asyncio.sleep(0)
        sub = await s.subscribe("topic:race", pos(first.epoch, 0))
        assert sub.recovered
        seen: list[int] = []
        async with asyncio.timeout(30):
            while not seen or seen[-1] < total:
                event = await s.next()
                assert event.WhichOneof("event") == "notification", event
                seen.append(event.notification.position.offset)
        await task
    assert seen == list(range(1, total + 1))


async def test_slow_consumer_stream_ends_resource_exhausted(tmp_path: Path) -> None:
    async with notify_hub(tmp_path, {"queue_bytes": 64 * 1024}) as hub:
        broker = broker_of(hub)
        async with hub.client("alice") as alice, open_stream(alice) as s:
            await s.subscribe("topic:flood")
            blob = b"x" * 16 * 1024
            sent = 0
            # Nobody reads: grpc's buffers fill, then the 64 KiB queue, then the stream is ended.
            async with asyncio.timeout(30):
                while sent < 3000 and broker.subscriber_count("topic:flood"):
                    await broker.publish("topic:flood", blob, history_size=10)
                    sent += 1
                    if sent % 50 == 0:
                        await asyncio.sleep(0.01)
            assert broker.subscriber_count("topic:flood") == 0, "the slow stream was never cut off"
            received = 0
            async with asyncio.timeout(30):
                while True:
                    try:
                        event = await s.call.read()
                    except grpc.aio.AioRpcError as caught:
                        err = caught
                        break
                    assert event is not grpc.aio.EOF
                    received += 1
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            info = error_info(err)
            assert info.reason == "SLOW_CONSUMER"
            assert received < sent  # the queue was dropped at the cut-off, not delivered late
            # Told where to resume each channel from: the last offset sent on this stream.
            assert info.metadata["position:user:alice"].endswith(":0")
            epoch, _, offset = info.metadata["position:topic:flood"].rpartition(":")
            assert int(offset) == received
            async with open_stream(alice) as again:  # resuming there gives what was not sent
                sub = await again.subscribe("topic:flood", pos(epoch, int(offset)))
                assert sub.resumed and sub.recovered and sent - received <= 10, (sent, received)
                replay = await again.notifications(sent - received)
                assert [n.position.offset for n in replay] == list(range(received + 1, sent + 1))


async def test_the_101st_subscription_is_refused(hub: TestHub) -> None:
    async with hub.client("alice") as alice, open_stream(alice) as s:
        for i in range(98):  # plus general and user:alice = 100
            await s.subscribe(f"topic:t{i}")
        cid = await s.send(subscribe=pb.SubscribeCommand(channel="topic:one-too-many"))
        err = await s.expect("error")
        assert err.command_id == cid and err.error.reason == "TOO_MANY_SUBSCRIPTIONS"
        assert err.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        await s.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:t0"))
        await s.expect("unsubscribed")
        await s.subscribe("topic:one-too-many")  # room again
        async with open_stream(alice) as s2:  # the limit is per user: a second stream has no room
            cid = await s2.send(subscribe=pb.SubscribeCommand(channel="topic:x"))
            assert (await s2.expect("error")).error.reason == "TOO_MANY_SUBSCRIPTIONS"
    async with hub.client("alice") as alice, open_stream(alice) as s:  # released when streams end
        await s.subscribe("topic:again")


async def test_going_away_on_shutdown(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub, hub.client("alice") as alice, open_stream(alice) as s:
        stopping = asyncio.create_task(hub.hub.stop(grace=5))
        ev = await s.expect("going_away")
        assert ev.going_away.reason
        err = await s.ended()
        assert err.code() == grpc.StatusCode.UNAVAILABLE
        await stopping


async def test_unauthenticated_stream_is_refused(hub: TestHub) -> None:
    async with hub.client(None) as anon:
        call = stub(anon).Subscribe()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async with asyncio.timeout(10):
                await call.read()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_system_stats_are_published(tmp_path: Path) -> None:
    import json

    async with notify_hub(tmp_path, {"stats_interval": 0.2}) as hub:
        async with hub.client("root", roles=["admin"]) as admin, open_stream(admin) as s:
            await s.subscribe("system:stats")
            for _ in range(2):
                [n] = await s.notifications(1)
                assert n.channel == "system:stats" and n.content_type == "application/json"
                stats = json.loads(n.data)
            assert stats["active_streams"].get("realtime.v1.NotificationService", 0) >= 1
            assert stats["instance"] == hub.hub.ctx.instance_id  # type: ignore[union-attr]
            assert stats["messages_per_second"] >= 0


async def test_join_leave_events(hub: TestHub) -> None:
    async with hub.client("alice") as alice, hub.client("bob") as bob, open_stream(alice) as s:
        cid = await s.send(subscribe=pb.SubscribeCommand(channel="topic:room", join_leave=True))
        assert (await s.expect("subscribed")).command_id == cid
        mine = (await s.expect("presence")).presence
        assert (mine.channel, mine.change, mine.user_id) == ("topic:room", pb.PRESENCE_CHANGE_JOIN, "alice")
        async with open_stream(bob) as b:
            await b.subscribe("topic:room")  # bob did not ask for join/leave: he gets none
            joined = (await s.expect("presence")).presence
            assert (joined.change, joined.user_id) == (pb.PRESENCE_CHANGE_JOIN, "bob")
            assert joined.client_id != mine.client_id
        left = (await s.expect("presence")).presence  # bob's stream ended
        assert (left.change, left.user_id, left.client_id) == (
            pb.PRESENCE_CHANGE_LEAVE,
            "bob",
            joined.client_id,
        )
        async with open_stream(bob) as b:
            await b.subscribe("topic:room")
            assert (await s.expect("presence")).presence.change == pb.PRESENCE_CHANGE_JOIN
            cid = await b.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:room"))
            await b.expect("unsubscribed")
            assert (await s.expect("presence")).presence.change == pb.PRESENCE_CHANGE_LEAVE
            await b.send(ping=common_ping())
            await b.expect("pong")
        # Channels without presence have no join/leave: refused, the stream stays open.
        cid = await s.send(subscribe=pb.SubscribeCommand(channel="general", join_leave=True))
        err = await s.expect("error")
        assert err.command_id == cid and err.error.reason == "NO_PRESENCE"
        cid = await s.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:room"))
        await s.expect("unsubscribed")
        async with open_stream(bob) as b:  # alice no longer receives them
            await b.subscribe("topic:room")
        cid = await s.send(ping=common_ping())
        assert (await s.expect("pong")).command_id == cid
