"""One abusive ordinary user against every bound: quotas (on both engines), notification size,
a reused idempotency key, and a stalled subscriber whose cost must stay within its queue bound."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from realtime.server.broker.base import Broker
from realtime.server.testing import TestHub
from tests.redis_server import delete_prefix, test_prefix

from .notify_support import error_info, notify_hub, open_stream, pb, pos, stub

QUOTAS = {
    "user_publish_bytes": 0,
    "user_channels": 0,
    "channel_history_bytes": 0,
    "namespace_history_bytes": 0,
}


@pytest.fixture(params=["memory", "redis"])
async def engine(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[dict[str, Any]]:
    """Hub settings for each broker engine (a private key prefix on the shared Redis)."""
    if request.param == "memory":
        yield {}
        return
    prefix = test_prefix()
    try:
        yield {"broker": f"{redis_url}?prefix={prefix}"}
    finally:
        await delete_prefix(redis_url, prefix)


def broker_of(hub: TestHub) -> Broker:
    assert hub.hub.ctx is not None
    return hub.hub.ctx.broker  # type: ignore[no-any-return]


def quota_failure(err: grpc.aio.AioRpcError) -> error_details_pb2.QuotaFailure:
    status = rpc_status.from_call(err)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            failure = error_details_pb2.QuotaFailure()
            detail.Unpack(failure)
            return failure
    raise AssertionError("no QuotaFailure in status details")


async def publish_until_refused(
    api: Any, channels: list[str], *, body: str = "", limit: int = 200
) -> tuple[int, grpc.aio.AioRpcError]:
    """Publish round-robin over `channels` until refused; (accepted, the refusal)."""
    for i in range(limit):
        try:
            await api.Publish(
                pb.PublishRequest(channel=channels[i % len(channels)], title=f"t{i}", body=body), timeout=5
            )
        except grpc.aio.AioRpcError as err:
            return i, err
    raise AssertionError(f"{limit} publications and no refusal")


def assert_quota(err: grpc.aio.AioRpcError, subject: str) -> None:
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
    assert error_info(err).reason == "QUOTA_EXCEEDED"
    [violation] = quota_failure(err).violations
    assert violation.subject == subject and violation.description


async def test_bytes_per_window_per_user(tmp_path: Path, engine: dict[str, Any]) -> None:
    settings = {**QUOTAS, "user_publish_bytes": 10_000, "publish_rate": 0}
    async with notify_hub(tmp_path, settings, **engine) as hub:
        async with hub.client("mallory") as mallory, hub.client("alice") as alice:
            n, err = await publish_until_refused(stub(mallory), ["topic:a", "topic:b"], body="x" * 1000)
            assert 8 <= n <= 10
            assert_quota(err, "user:mallory")
            # Another user is not affected.
            await stub(alice).Publish(pb.PublishRequest(channel="topic:a", body="x" * 1000), timeout=5)
            # The window passes (broker clock): mallory may publish again.
            clock = broker_of(hub).clock
            broker_of(hub).clock = lambda: clock() + 70.0
            await stub(mallory).Publish(pb.PublishRequest(channel="topic:a", body="x" * 1000), timeout=5)


async def test_channels_created_per_user(tmp_path: Path, engine: dict[str, Any]) -> None:
    settings = {**QUOTAS, "user_channels": 5, "publish_rate": 0}
    async with notify_hub(tmp_path, settings, **engine) as hub:
        async with hub.client("mallory") as mallory, hub.client("alice") as alice:
            channels = [f"topic:spam-{i}" for i in range(20)]
            for channel in channels[:5]:
                await stub(mallory).Publish(pb.PublishRequest(channel=channel, title="x"), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(mallory).Publish(pb.PublishRequest(channel=channels[5], title="x"), timeout=5)
            assert_quota(caught.value, "user:mallory")
            # Publishing again into channels mallory already created costs no new channel.
            await stub(mallory).Publish(pb.PublishRequest(channel=channels[0], title="again"), timeout=5)
            # alice creates the channel mallory was refused; mallory may then publish into it.
            await stub(alice).Publish(pb.PublishRequest(channel=channels[5], title="mine"), timeout=5)
            await stub(mallory).Publish(pb.PublishRequest(channel=channels[5], title="x"), timeout=5)
            # The refused channel left nothing behind.
            hist = await broker_of(hub).history(channels[6])
            assert hist.publications == []


async def test_history_bytes_per_channel_and_per_namespace(tmp_path: Path, engine: dict[str, Any]) -> None:
    settings = {
        **QUOTAS,
        "channel_history_bytes": 8_000,
        "namespace_history_bytes": 20_000,
        "publish_rate": 0,
    }
    async with notify_hub(tmp_path, settings, **engine) as hub:
        async with hub.client("u0") as u0, hub.client("u1") as u1, hub.client("u2") as u2:
            body = "y" * 1000  # 1,002 bytes with its title
            n, err = await publish_until_refused(stub(u0), ["topic:one"], body=body)
            assert n == 7
            assert_quota(err, "channel:topic:one")
            n, err = await publish_until_refused(stub(u1), ["topic:two"], body=body)
            assert n == 7
            # Together they fill the namespace: u2 gets what is left of its 20,000 bytes.
            n, err = await publish_until_refused(stub(u2), ["topic:three"], body=body)
            assert n == 5
            assert_quota(err, "namespace:topic")
            assert len((await broker_of(hub).history("topic:three")).publications) == 5
            async with hub.client("root", roles=["admin"]) as admin:  # back ends are not under quota
                await stub(admin).Publish(pb.PublishRequest(channel="topic:one", body="z" * 5000), timeout=5)


async def test_one_notification_is_bounded(tmp_path: Path) -> None:
    async with notify_hub(tmp_path, {"max_notification_bytes": 4096}) as hub:
        async with hub.client("alice") as alice:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(alice).Publish(
                    pb.PublishRequest(channel="topic:x", title="t", data=b"d" * 4096, content_type="x/y"),
                    timeout=5,
                )
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error_info(caught.value).reason == "MESSAGE_TOO_LARGE"
            await stub(alice).Publish(
                pb.PublishRequest(channel="topic:x", title="t", data=b"d" * 3000, content_type="x/y"),
                timeout=5,
            )


async def test_reused_idempotency_key_with_another_payload(tmp_path: Path, engine: dict[str, Any]) -> None:
    async with notify_hub(tmp_path, **engine) as hub:
        async with hub.client("alice") as alice:
            api = stub(alice)
            first = await api.Publish(
                pb.PublishRequest(channel="topic:i", title="a", request_id="k1"), timeout=5
            )
            again = await api.Publish(
                pb.PublishRequest(channel="topic:i", title="a", request_id="k1"), timeout=5
            )
            assert again.duplicate and again.id == first.id
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await api.Publish(pb.PublishRequest(channel="topic:i", title="b", request_id="k1"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert error_info(caught.value).reason == "IDEMPOTENCY_KEY_REUSED"
            # The same key in another channel is another key.
            other = await api.Publish(
                pb.PublishRequest(channel="topic:j", title="b", request_id="k1"), timeout=5
            )
            assert not other.duplicate
            assert len((await broker_of(hub).history("topic:i")).publications) == 1

    # A publish refused before publishing (a quota) leaves its request id free for another notification.
    async with notify_hub(tmp_path, {**QUOTAS, "user_channels": 1}, **engine) as hub:
        async with hub.client("bob") as bob:
            api = stub(bob)
            await api.Publish(pb.PublishRequest(channel="topic:bobs", title="a"), timeout=5)
            refused = pb.PublishRequest(channel="topic:second", title="a", request_id="k2")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await api.Publish(refused, timeout=5)
            assert error_info(caught.value).reason == "QUOTA_EXCEEDED"
            again = pb.PublishRequest(channel="topic:second", title="b", request_id="k2")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await api.Publish(again, timeout=5)
            assert error_info(caught.value).reason == "QUOTA_EXCEEDED"  # not IDEMPOTENCY_KEY_REUSED


async def test_not_recovered_says_why(tmp_path: Path, engine: dict[str, Any]) -> None:
    async with notify_hub(tmp_path, {"history_size": 3}, **engine) as hub:
        broker = broker_of(hub)
        pubs = [
            (await broker.publish("topic:r", b"", meta={"t": f"m{i}"}, history_size=3))[0] for i in range(6)
        ]
        epoch = pubs[0].epoch
        async with hub.client("alice") as alice, open_stream(alice) as s:
            cases = [
                (pos("gone-epoch", 2), pb.NOT_RECOVERED_REASON_EPOCH_CHANGED),
                (pos(epoch, 1), pb.NOT_RECOVERED_REASON_HISTORY_EXCEEDED),
                (pos(epoch, 9), pb.NOT_RECOVERED_REASON_OFFSET_AHEAD),
            ]
            for since, reason in cases:
                sub = await s.subscribe("topic:r", since)
                assert sub.resumed and not sub.recovered and sub.not_recovered_reason == reason, since
            sub = await s.subscribe("topic:r", pos(epoch, 4))
            assert sub.recovered and sub.not_recovered_reason == pb.NOT_RECOVERED_REASON_UNSPECIFIED
            assert [n.position.offset for n in await s.notifications(2)] == [5, 6]


async def read_until_error(s: Any) -> tuple[int, grpc.aio.AioRpcError]:
    received = 0
    async with asyncio.timeout(30):
        while True:
            try:
                event = await s.call.read()
            except grpc.aio.AioRpcError as caught:
                return received, caught
            assert event is not grpc.aio.EOF
            received += event.WhichOneof("event") == "notification"


async def test_stalled_subscribers_are_cut_off_within_their_queue_bound(tmp_path: Path) -> None:
    """Publish 10x the queue bound in titles and bodies to one stream and in data to another, nobody
    reading: both are cut off with SLOW_CONSUMER (told where to resume), and the hub's Python heap
    grows by about the queue bounds, far less than what was published."""
    queue = 256 * 1024
    settings = {"queue_bytes": queue, "history_size": 4, "publish_rate": 0, **QUOTAS}
    kinds = {
        "topic:bodies": [{"title": "t" * 200, "body": "b" * 8000}, {"title": "t" * 200, "body": "é" * 4000}],
        "topic:data": [{"title": "t", "data": b"d" * 8000, "content_type": "x/y"}],
    }
    async with notify_hub(tmp_path, settings) as hub:
        broker = broker_of(hub)
        async with (
            hub.client("alice") as alice,
            hub.client("bob") as bob,
            hub.client("root", roles=["admin"]) as admin,
            open_stream(alice) as s_bodies,
            open_stream(bob) as s_data,
        ):
            await s_bodies.subscribe("topic:bodies")
            await s_data.subscribe("topic:data")
            api = stub(admin)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            published = dict.fromkeys(kinds, 0)
            count = dict.fromkeys(kinds, 0)
            # At least 10x the queue, and on until the stream is cut off: nobody reads, so the
            # client's HTTP/2 receive window fills first (grpc's C buffers, not the hub's heap).
            async with asyncio.timeout(120):
                for i in range(8000):
                    live = [c for c in kinds if published[c] < 10 * queue or broker.subscriber_count(c)]
                    if not live:
                        break
                    for channel in live:
                        req = pb.PublishRequest(channel=channel, **kinds[channel][i % len(kinds[channel])])  # type: ignore[arg-type]
                        await api.Publish(req, timeout=5)
                        published[channel] += len(req.title) + len(req.body.encode()) + len(req.data)
                        count[channel] += 1
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            print(f"published {published} bytes in {count} notifications; heap grew {grown} bytes")
            for channel in kinds:
                assert broker.subscriber_count(channel) == 0, (
                    f"the stalled stream on {channel} was never cut off"
                )
            assert grown < 2 * 3 * queue, grown  # two queue bounds + a few notifications in history
            for s, channel in ((s_bodies, "topic:bodies"), (s_data, "topic:data")):
                received, err = await read_until_error(s)
                info = error_info(err)
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and info.reason == "SLOW_CONSUMER"
                epoch, _, offset = info.metadata[f"position:{channel}"].rpartition(":")
                assert int(offset) == received < count[channel]
                top = (await broker.history(channel, limit=0)).position
                assert epoch == top.epoch


async def test_many_users_publishing_at_once_share_the_namespace_counter(
    tmp_path: Path, engine: dict[str, Any]
) -> None:
    """Every open-namespace publish updates the one namespace counter: 40 users at once must all get
    through (compare-and-set retries), and the counter must add up."""
    async with notify_hub(tmp_path, {"publish_rate": 0}, **engine) as hub:
        clients = [hub.client(f"u{i}") for i in range(40)]
        try:
            opened = [await c.__aenter__() for c in clients]
            await asyncio.gather(
                *(
                    stub(c).Publish(pb.PublishRequest(channel="topic:crowd", title=f"{i}-{j}"), timeout=30)
                    for i, c in enumerate(opened)
                    for j in range(3)
                )
            )
        finally:
            for c in clients:
                await c.__aexit__(None, None, None)
        assert len((await broker_of(hub).history("topic:crowd")).publications) == 120
        raw = await broker_of(hub).kv_get("notify:quota:namespace-bytes:topic")
        assert raw is not None and sum(total for _, total in json.loads(raw)) == sum(
            len(f"{i}-{j}") for i in range(40) for j in range(3)
        )
