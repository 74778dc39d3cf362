"""Redis killed mid-stream: health turns NOT_SERVING, streams end UNAVAILABLE, all recovers after restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from realtime.client import Client
from tests.redis_server import redis_process

from .notify_support import error_info, notify_hub, open_stream, pb, pos, stub


async def wait_health(client: Client, want: str, timeout: float = 15.0) -> None:
    """Watch grpc health until it reports `want` (bounded)."""
    watch = client.health.Watch(health_pb2.HealthCheckRequest())
    try:
        async with asyncio.timeout(timeout):
            async for update in watch:
                if health_pb2.HealthCheckResponse.ServingStatus.Name(update.status) == want:
                    return
    finally:
        watch.cancel()


async def test_redis_killed_mid_stream(tmp_path: Path) -> None:
    with redis_process() as server:
        async with notify_hub(tmp_path, broker=server.url) as hub, hub.client("alice") as alice:
            assert await alice.check_health() == "SERVING"
            async with open_stream(alice) as s:
                await s.subscribe("topic:t")
                first = await stub(alice).Publish(
                    pb.PublishRequest(channel="topic:t", title="one"), timeout=5
                )
                [n] = await s.notifications(1)
                assert n.id == first.id
                server.kill()
                err = await s.ended()
                assert err.code() == grpc.StatusCode.UNAVAILABLE
                assert error_info(err).reason == "BROKER_UNAVAILABLE"
            await wait_health(alice, "NOT_SERVING")
            assert await alice.check_health("realtime.v1.NotificationService") == "NOT_SERVING"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(alice).Publish(pb.PublishRequest(channel="topic:t", title="lost"), timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            with redis_process(server.port):
                await wait_health(alice, "SERVING")
                async with open_stream(alice) as s:
                    sub = await s.subscribe("topic:t", first.position)
                    assert sub.resumed and not sub.recovered  # the restarted Redis lost history: new epoch
                    await stub(alice).Publish(pb.PublishRequest(channel="topic:t", title="two"), timeout=5)
                    [n] = await s.notifications(1)
                    assert n.title == "two" and n.position.offset == 1
                    assert n.position.epoch != first.position.epoch
                    assert pos(n.position.epoch, 1) == n.position
