"""Publish, ListNotifications, MarkRead, stats and presence; the authorisation matrix; bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from realtime.client import Client
from realtime.server.broker.base import Broker
from realtime.server.notifications.policy import grant
from realtime.server.testing import TestHub
from tests.redis_server import delete_prefix, test_prefix

from .notify_support import error_info, notify_hub, open_stream, pb, stub


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[TestHub]:
    """The same tests on a hub with each broker engine."""
    if request.param == "memory":
        async with notify_hub(tmp_path) as h:
            assert h.hub.ctx is not None and h.hub.ctx.broker.engine == "memory"  # the test default
            yield h
        return
    if request.param == "sqlite":
        async with notify_hub(tmp_path, broker=f"sqlite://{tmp_path}/hub.db") as h:
            assert h.hub.ctx is not None and h.hub.ctx.broker.engine == "sqlite"
            yield h
        return
    prefix = test_prefix()
    try:
        async with notify_hub(tmp_path, broker=f"{redis_url}?prefix={prefix}") as h:
            assert h.hub.ctx is not None and h.hub.ctx.broker.prefix == prefix
            yield h
    finally:
        await delete_prefix(redis_url, prefix)


def broker_of(hub: TestHub) -> Broker:
    assert hub.hub.ctx is not None
    return hub.hub.ctx.broker  # type: ignore[no-any-return]


async def denied(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


READ_MATRIX = [
    # (user, roles, channel, may read, may publish)
    ("alice", (), "general", True, False),
    ("alice", (), "user:alice", True, False),
    ("alice", (), "user:bob", False, False),
    ("alice", (), "system:stats", False, False),
    ("alice", (), "topic:news", True, True),
    ("alice", (), "analysis:job-1", False, False),
    ("root", ("admin",), "user:bob", True, True),
    ("root", ("admin",), "system:stats", True, True),
    ("root", ("admin",), "general", True, True),
    ("root", ("admin",), "doc:7", True, True),
]


async def test_authorisation_matrix(hub: TestHub) -> None:
    for user, roles, channel, may_read, may_publish in READ_MATRIX:
        async with hub.client(user, roles=roles) as client:
            async with open_stream(client) as s:
                cid = await s.send(subscribe=pb.SubscribeCommand(channel=channel))
                event = await s.next()
                if may_read:
                    assert event.WhichOneof("event") == "subscribed", (user, channel, event)
                else:
                    assert event.WhichOneof("event") == "error" and event.command_id == cid, (user, channel)
                    assert event.error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
                    assert event.error.reason == "PERMISSION_DENIED"
                    assert event.error.metadata["channel"] == channel
                    # the stream stays open
                    await s.send(ping=__import__("realtime.v1.common_pb2").v1.common_pb2.PingCommand())
                    await s.expect("pong")
            publish = stub(client).Publish(pb.PublishRequest(channel=channel, title="t"), timeout=5)
            if may_publish:
                await publish
            else:
                err = await denied(publish)
                assert err.code() == grpc.StatusCode.PERMISSION_DENIED, (user, channel)
                info = error_info(err)
                assert info.reason == "PERMISSION_DENIED" and info.metadata["channel"] == channel
            listing = stub(client).ListNotifications(pb.ListNotificationsRequest(channel=channel), timeout=5)
            if may_read:
                await listing
            else:
                assert (await denied(listing)).code() == grpc.StatusCode.PERMISSION_DENIED


async def test_service_grants_open_other_namespaces(hub: TestHub) -> None:
    broker = broker_of(hub)
    await grant(broker, "analysis:job-1", "alice", "r")
    async with hub.client("alice") as alice, open_stream(alice) as s:
        await s.subscribe("analysis:job-1")
        err = await denied(
            stub(alice).Publish(pb.PublishRequest(channel="analysis:job-1", title="t"), timeout=5)
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED  # read only
        await broker.publish("analysis:job-1", b"", meta={"t": "phase 2"})
        [n] = await s.notifications(1)
        assert n.title == "phase 2"


async def test_idempotent_publish_is_delivered_once(hub: TestHub) -> None:
    async with hub.client("alice") as alice, open_stream(alice) as s:
        await s.subscribe("topic:idem")
        request = pb.PublishRequest(channel="topic:idem", title="once", request_id="req-42")
        first = await stub(alice).Publish(request, timeout=5)
        again = await stub(alice).Publish(request, timeout=5)
        other = await stub(alice).Publish(pb.PublishRequest(channel="topic:idem", title="two"), timeout=5)
        assert not first.duplicate and again.duplicate and again.id == first.id
        assert other.position.offset == first.position.offset + 1
        got = await s.notifications(2)
        assert [n.title for n in got] == ["once", "two"]


async def test_oversize_and_malformed_publishes(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub, hub.client("alice") as alice:
        api = stub(alice)
        too_big = pb.PublishRequest(
            channel="topic:x", title="t", data=b"x" * (1024 * 1024 - 8 * 1024), content_type="x/y"
        )
        err = await denied(api.Publish(too_big, timeout=10))
        assert (
            err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error_info(err).reason == "MESSAGE_TOO_LARGE"
        )
        over_wire = pb.PublishRequest(
            channel="topic:x", title="t", data=b"x" * (1024 * 1024 + 1), content_type="x"
        )
        assert (await denied(api.Publish(over_wire, timeout=10))).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for bad in [
            pb.PublishRequest(channel="topic:x"),  # empty notification
            pb.PublishRequest(channel="topic:x", title="t" * 201),
            pb.PublishRequest(channel="topic:x", data=b"{}"),  # data without content type
            pb.PublishRequest(channel="bad channel", title="t"),
            pb.PublishRequest(channel="topic:x", title="t", request_id="r" * 129),
            pb.PublishRequest(channel="topic:x", title="t", level=99),  # type: ignore[arg-type]
        ]:
            err = await denied(api.Publish(bad, timeout=5))
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        ok = await api.Publish(
            pb.PublishRequest(channel="topic:x", title="t", data=b"x" * 1000, content_type="x/y"), timeout=5
        )
        assert ok.position.offset == 1


async def test_publish_rate_limit(tmp_path: Path) -> None:
    async with (
        notify_hub(tmp_path, {"publish_rate": 1, "publish_burst": 3}) as hub,
        hub.client("alice") as alice,
    ):
        for _ in range(3):
            await stub(alice).Publish(pb.PublishRequest(channel="topic:x", title="t"), timeout=5)
        err = await denied(stub(alice).Publish(pb.PublishRequest(channel="topic:x", title="t"), timeout=5))
        assert (
            err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            and error_info(err).reason == "RATE_LIMIT_EXCEEDED"
        )
        # Admin tokens (the application's back ends) publish without this per-user limit.
        async with hub.client("backend", roles=["admin"]) as backend:
            for _ in range(6):
                await stub(backend).Publish(pb.PublishRequest(channel="topic:x", title="t"), timeout=5)


async def test_read_marks_survive_reconnects(hub: TestHub) -> None:
    broker = broker_of(hub)
    for i in range(3):
        await broker.publish("user:alice", b"", meta={"t": f"n{i}"})
    await broker.publish("general", b"", meta={"t": "all"})
    async with hub.client("alice") as alice:
        api = stub(alice)
        page = await api.ListNotifications(pb.ListNotificationsRequest(unread_only=True), timeout=5)
        assert [n.title for n in page.notifications] == ["all", "n2", "n1", "n0"]
        assert not any(n.read for n in page.notifications)
        async with open_stream(alice) as s:
            ids = [page.notifications[1].id, page.notifications[2].id]
            cid = await s.send(mark_read=pb.MarkReadCommand(notification_ids=ids))
            ev = await s.expect("marked_read")
            assert ev.command_id == cid and ev.marked_read.newly_read == 2
        assert (await api.MarkRead(pb.MarkReadRequest(notification_ids=ids), timeout=5)).newly_read == 0
    async with hub.client("alice") as alice:  # a new connection
        api = stub(alice)
        unread = await api.ListNotifications(pb.ListNotificationsRequest(unread_only=True), timeout=5)
        assert [n.title for n in unread.notifications] == ["all", "n0"]
        everything = await api.ListNotifications(pb.ListNotificationsRequest(), timeout=5)
        assert [(n.title, n.read) for n in everything.notifications] == [
            ("all", False),
            ("n2", True),
            ("n1", True),
            ("n0", False),
        ]
        # One result per id: a malformed id, an unknown one, one of a channel alice may not read,
        # an already-read one and a new one; the bad ones never fail the good ones.
        n0 = page.notifications[3]
        epoch = n0.position.epoch
        bob_pub, _ = await broker.publish("user:bob", b"", meta={"t": "bob's"})
        ids = ["nope", f"user:alice#{epoch}:99", "user:alice#other-epoch:1", f"user:bob#{bob_pub.epoch}:1"]
        ids += [ids_read := page.notifications[1].id, n0.id]
        reply = await api.MarkRead(pb.MarkReadRequest(notification_ids=ids), timeout=5)
        assert reply.newly_read == 1
        assert [(r.notification_id, r.status) for r in reply.results] == [
            ("nope", pb.MARK_READ_STATUS_INVALID_ID),
            (ids[1], pb.MARK_READ_STATUS_NOT_FOUND),
            (ids[2], pb.MARK_READ_STATUS_NOT_FOUND),
            (ids[3], pb.MARK_READ_STATUS_PERMISSION_DENIED),
            (ids_read, pb.MARK_READ_STATUS_ALREADY_READ),
            (n0.id, pb.MARK_READ_STATUS_MARKED),
        ]
        assert all(r.description for r in reply.results[:4])
        assert not await broker.read_marks("alice", [ids[3]])
        err = await denied(
            api.MarkRead(pb.MarkReadRequest(notification_ids=["general#e:1"] * 1001), timeout=5)
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_listing_pages_through_history(hub: TestHub) -> None:
    broker = broker_of(hub)
    for i in range(7):
        await broker.publish("topic:p", b"", meta={"t": f"p{i}"})
    async with hub.client("alice") as alice:
        api = stub(alice)
        titles: list[str] = []
        token = ""
        for _ in range(5):
            page = await api.ListNotifications(
                pb.ListNotificationsRequest(channel="topic:p", page_size=3, page_token=token), timeout=5
            )
            titles += [n.title for n in page.notifications]
            token = page.next_page_token
            if not token:
                break
        assert titles == [f"p{i}" for i in range(6, -1, -1)] and not token
        for bad in [
            pb.ListNotificationsRequest(channel="topic:p", page_token="!!!not-a-token"),
            pb.ListNotificationsRequest(channel="topic:p", page_size=500),
            pb.ListNotificationsRequest(channel="topic:p", page_size=-1),
        ]:
            assert (
                await denied(api.ListNotifications(bad, timeout=5))
            ).code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_presence_and_channel_stats(hub: TestHub) -> None:
    async with (
        hub.client("alice") as alice,
        hub.client("bob") as bob,
        hub.client("root", roles=["admin"]) as admin,
    ):
        async with open_stream(alice) as a, open_stream(bob) as b:
            await a.subscribe("topic:room")
            await b.subscribe("topic:room")
            present = await stub(alice).GetPresence(pb.GetPresenceRequest(channel="topic:room"), timeout=5)
            assert sorted(e.user_id for e in present.entries) == ["alice", "bob"]
            await stub(bob).Publish(pb.PublishRequest(channel="topic:room", title="hello"), timeout=5)
            await a.notifications(1)
            stats = await stub(admin).GetChannelStats(
                pb.GetChannelStatsRequest(channel="topic:room"), timeout=5
            )
            assert (stats.subscribers, stats.present, stats.publications_last_minute, stats.history_size) == (
                2,
                2,
                1,
                1,
            )
            assert stats.position.offset == 1
            err = await denied(
                stub(alice).GetChannelStats(pb.GetChannelStatsRequest(channel="topic:room"), timeout=5)
            )
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
            err = await denied(stub(alice).GetPresence(pb.GetPresenceRequest(channel="user:bob"), timeout=5))
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        # both streams ended: their presence is removed
        request = pb.GetPresenceRequest(channel="topic:room")
        async with asyncio.timeout(10):
            # Removal runs in the server's stream cleanup, after the client cancelled: poll (bounded).
            while (await stub(alice).GetPresence(request, timeout=5)).entries:  # noqa: ASYNC110
                await asyncio.sleep(0.05)


async def test_unauthenticated_unary_calls_are_refused(hub: TestHub) -> None:
    async with Client(hub.target) as anon:
        err = await denied(stub(anon).Publish(pb.PublishRequest(channel="topic:x", title="t"), timeout=5))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
