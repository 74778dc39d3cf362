"""The Python client's NotificationSubscription recovers by itself: its replica is SIGKILLed, then
Redis is restarted (append-only, so history survives), and every notification still arrives exactly
once, in order."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest

from realtime.client import Backoff, Client, NotificationSubscription, Reconnecting
from realtime.v1 import notifications_pb2, notifications_pb2_grpc
from tests.redis_server import redis_process, start_redis

from .servers import server_process

pb = notifications_pb2
pytestmark = [pytest.mark.e2e, pytest.mark.redis]
CHANNEL = "topic:exact"
TOTAL = 120


class Reader:
    def __init__(self) -> None:
        self.titles: list[str] = []
        self.reconnects: list[grpc.StatusCode] = []
        self.not_recovered = 0
        self.progress = asyncio.Event()
        self.subscribed = asyncio.Event()

    async def follow(self, sub: NotificationSubscription) -> None:
        async for event in sub:
            if isinstance(event, Reconnecting):
                self.reconnects.append(event.code)
                continue
            kind = event.WhichOneof("event")
            if kind == "subscribed" and event.subscribed.channel == CHANNEL:
                self.subscribed.set()
                self.not_recovered += event.subscribed.resumed and not event.subscribed.recovered
            elif kind == "notification" and event.notification.channel == CHANNEL:
                self.titles.append(event.notification.title)
                self.progress.set()
                if len(self.titles) >= TOTAL:
                    return

    async def reach(self, n: int, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.titles) < n:
                self.progress.clear()
                await self.progress.wait()


async def publish_all(clients: list[Client]) -> None:
    """Publish TOTAL notifications, each with a request_id, retrying (on the other replica, or after
    Redis is back) until accepted: a retry is never delivered twice."""
    target = 0
    for i in range(TOTAL):
        request = pb.PublishRequest(channel=CHANNEL, title=f"m{i}", request_id=f"req-{i}")
        async with asyncio.timeout(60):
            while True:
                stub = clients[target % len(clients)].stub(notifications_pb2_grpc.NotificationServiceStub)
                try:
                    await stub.Publish(request, timeout=2, wait_for_ready=False)
                    break
                except grpc.aio.AioRpcError as err:
                    if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise
                    target += 1
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.01)


async def test_subscription_survives_replica_sigkill_and_redis_restart(tmp_path: Path) -> None:
    aof = tmp_path / "redis-data"
    aof.mkdir()
    env = {"REALTIME_NOTIFICATIONS_STATS_INTERVAL": "0", "REALTIME_NOTIFICATIONS_PUBLISH_RATE": "0"}
    with redis_process(persist_dir=aof) as redis:
        broker = f"--broker={redis.url}"
        with (
            server_process(tmp_path, broker, name="a", env=env) as a,
            server_process(tmp_path, broker, name="b", env=env) as b,
        ):
            reader = Reader()
            readers = [Client(a.target, token=a.token("reader")), Client(b.target, token=b.token("reader"))]
            writers = [Client(b.target, token=b.token("writer")), Client(a.target, token=a.token("writer"))]
            try:
                sub = NotificationSubscription(readers, [CHANNEL], backoff=Backoff(base=0.05, cap=0.5))
                following = asyncio.create_task(reader.follow(sub))
                async with asyncio.timeout(20):  # subscribed on A before anything is published
                    await reader.subscribed.wait()
                publishing = asyncio.create_task(publish_all(writers))
                await reader.reach(30)
                a.proc.send_signal(signal.SIGKILL)  # the subscriber's replica
                a.proc.wait(10)
                await reader.reach(70)
                redis.kill()  # and then Redis, restarted on its port with its append-only file
                restarted = start_redis(redis.port, persist_dir=aof)
                try:
                    async with asyncio.timeout(120):
                        await publishing
                        await following
                finally:
                    restarted.kill()
            finally:
                for c in readers + writers:
                    await c.close()
    assert reader.titles == [f"m{i}" for i in range(TOTAL)], "lost, duplicated or out of order"
    assert reader.not_recovered == 0
    assert grpc.StatusCode.UNAVAILABLE in reader.reconnects and len(reader.reconnects) >= 2
