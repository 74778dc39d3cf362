"""Listen, the one-way notification stream: over gRPC, and over the gateway's SSE with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import grpc
import pytest

from realtime.server.broker.base import Broker
from realtime.server.testing import TestHub, running_hub

from .notify_support import error_info, notify_hub, pb, pos, stub
from .test_buf_curl import buf_curl
from .test_gateway_sse import events, sse_url

LISTEN = "/realtime.v1.NotificationService/Listen"


def broker_of(hub: TestHub) -> Broker:
    assert hub.hub.ctx is not None
    return hub.hub.ctx.broker  # type: ignore[no-any-return]


async def test_listen_resumes_and_follows_several_channels(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        broker = broker_of(hub)
        first = [(await broker.publish("topic:a", b"", meta={"t": f"a{i}"}))[0] for i in range(3)]
        async with hub.client("alice") as alice, hub.client("bob") as bob:
            request = pb.ListenRequest(
                channels=[
                    pb.ListenChannel(channel="topic:a", since=pos(first[0].epoch, 1)),
                    pb.ListenChannel(channel="topic:b", join_leave=True),
                ]
            )
            call = stub(alice).Listen(request, timeout=30)
            events_seen = []
            sub_a = await call.read()
            assert sub_a.subscribed.channel == "topic:a" and sub_a.subscribed.recovered
            replay = [(await call.read()).notification.title for _ in range(2)]
            assert replay == ["a1", "a2"]
            sub_b = await call.read()
            assert sub_b.subscribed.channel == "topic:b" and not sub_b.subscribed.resumed
            join = await call.read()
            assert join.presence.change == pb.PRESENCE_CHANGE_JOIN and join.presence.user_id == "alice"
            await stub(bob).Publish(pb.PublishRequest(channel="topic:b", title="b0"), timeout=5)
            await stub(bob).Publish(pb.PublishRequest(channel="topic:a", title="a3"), timeout=5)
            for _ in range(2):
                event = await call.read()
                events_seen.append((event.notification.channel, event.notification.title))
            assert events_seen == [("topic:b", "b0"), ("topic:a", "a3")]
            call.cancel()


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListenRequest(), "channels"),
        (pb.ListenRequest(channels=[pb.ListenChannel(channel="bad name")]), "channels[0].channel"),
        (
            pb.ListenRequest(
                channels=[pb.ListenChannel(channel="topic:x"), pb.ListenChannel(channel="topic:x")]
            ),
            "channels[1].channel",
        ),
        (
            pb.ListenRequest(
                channels=[pb.ListenChannel(channel="topic:x"), pb.ListenChannel(channel="topic:y")],
                since=pos("e", 1),
            ),
            "since",
        ),
        (pb.ListenRequest(channels=[pb.ListenChannel(channel=f"topic:{i}") for i in range(101)]), "channels"),
    ],
)
async def test_listen_bad_requests(tmp_path: Path, request_: pb.ListenRequest, field: str) -> None:
    async with notify_hub(tmp_path) as hub, hub.client("alice") as alice:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub(alice).Listen(request_, timeout=10):
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (
            field in (caught.value.details() or "") or error_info(caught.value).reason == "INVALID_ARGUMENT"
        )


async def test_listen_refuses_a_channel_it_may_not_read(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub, hub.client("alice") as alice:
        request = pb.ListenRequest(channels=[pb.ListenChannel(channel="user:bob")])
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub(alice).Listen(request, timeout=10):
                pass
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_listen_over_sse_resumes_from_last_event_id(tmp_path: Path) -> None:
    services = ("realtime.server.notifications.service", "realtime.server.gateway.service")
    extra = {"notifications": {"stats_interval": 0}}
    async with running_hub(tmp_path, services=services, extra=extra) as hub, aiohttp.ClientSession() as s:
        broker = broker_of(hub)
        pubs = [(await broker.publish("topic:sse", b"", meta={"t": f"n{i}"}))[0] for i in range(5)]
        epoch = pubs[0].epoch
        url = sse_url(hub.http_url, LISTEN, {"channels": [{"channel": "topic:sse"}]})
        headers = {"Authorization": f"Bearer {hub.token()}", "Last-Event-ID": f"{epoch}:2"}
        async with s.get(url, headers=headers) as resp:
            got = await events(resp, limit=4)
        subscribed = json.loads(got[0]["data"])["subscribed"]
        assert subscribed["resumed"] and subscribed["recovered"]
        assert [json.loads(e["data"])["notification"]["title"] for e in got[1:]] == ["n2", "n3", "n4"]
        assert [e["id"] for e in got[1:]] == [f"{epoch}:{i}" for i in (3, 4, 5)]
        # From a position history no longer covers: told why, nothing replayed.
        headers["Last-Event-ID"] = "lost-epoch:3"
        async with s.get(url, headers=headers) as resp:
            [only] = await events(resp, limit=1)
        assert (
            json.loads(only["data"])["subscribed"]["notRecoveredReason"]
            == "NOT_RECOVERED_REASON_EPOCH_CHANGED"
        )


async def test_listen_with_buf_curl(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        broker = broker_of(hub)
        pubs = [(await broker.publish("topic:curl", b"", meta={"t": f"c{i}"}))[0] for i in range(3)]
        request = {"channels": [{"channel": "topic:curl", "since": {"epoch": pubs[0].epoch, "offset": "1"}}]}
        code, out, err = await buf_curl(
            "--timeout",
            "3s",
            "-H",
            f"authorization: Bearer {hub.token('alice')}",
            "-d",
            json.dumps(request),
            f"http://{hub.target}/realtime.v1.NotificationService/Listen",
        )
        assert code != 0 and "deadline" in err.lower(), err  # a live stream: it ends by the timeout
        events = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
        assert events[0]["subscribed"]["recovered"] is True
        assert [e["notification"]["title"] for e in events[1:]] == ["c1", "c2"]


async def test_listen_says_going_away_at_shutdown(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub, hub.client("alice") as alice:
        call = stub(alice).Listen(pb.ListenRequest(channels=[pb.ListenChannel(channel="topic:bye")]))
        assert (await call.read()).WhichOneof("event") == "subscribed"
        stopping = asyncio.ensure_future(hub.hub.stop())
        async with asyncio.timeout(10):
            event = await call.read()
        assert event.WhichOneof("event") == "going_away"
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call.read()
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(ended.value).reason == "GOING_AWAY"
        await stopping
