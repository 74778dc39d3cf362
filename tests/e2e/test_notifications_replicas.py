"""Two `realtime-server` replicas on one Redis: shared channels, and SIGKILL of one while publishing."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest

from realtime.client import Client
from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc
from tests.redis_server import delete_prefix, test_prefix

from .servers import ServerProcess, server_process

pb = notifications_pb2
pytestmark = [pytest.mark.e2e, pytest.mark.redis]
TOTAL = 150
CHANNEL = "topic:replicas"


def api(client: Client) -> notifications_pb2_grpc.NotificationServiceStub:
    return client.stub(notifications_pb2_grpc.NotificationServiceStub)


class Reader:
    """A subscriber that follows CHANNEL and, when its replica dies, resumes on another."""

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.titles: list[str] = []
        self.position: common_pb2.StreamPosition | None = None
        self.recoveries: list[bool] = []
        self.progress = asyncio.Event()

    async def follow(self, server: ServerProcess, until: int) -> grpc.StatusCode | None:
        """Read until `until` notifications in total; return the status code if the stream died first."""
        async with Client(server.target, token=server.token("reader")) as client:
            call = api(client).Subscribe()
            since = self.position
            await call.write(
                pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel=CHANNEL, since=since))
            )
            try:
                while len(self.offsets) < until:
                    event = await call.read()
                    assert event is not grpc.aio.EOF
                    kind = event.WhichOneof("event")
                    if kind == "subscribed" and event.command_id == "s":
                        if since is not None:
                            self.recoveries.append(event.subscribed.recovered)
                    elif kind == "notification" and event.notification.channel == CHANNEL:
                        n = event.notification
                        self.offsets.append(n.position.offset)
                        self.titles.append(n.title)
                        self.position = n.position
                        self.progress.set()
            except grpc.aio.AioRpcError as err:
                return err.code()
            finally:
                call.cancel()
        return None


async def publish_all(servers: list[ServerProcess], killed: asyncio.Event) -> list[str]:
    """Publish TOTAL notifications, switching replica when one dies; each with a request_id so the
    publish in flight when A died is retried on B without being delivered twice."""
    titles = []
    target = 0
    clients = [Client(s.target, token=s.token("writer")) for s in servers]
    try:
        for i in range(TOTAL):
            title = f"n{i}"
            request = pb.PublishRequest(channel=CHANNEL, title=title, request_id=f"req-{i}")
            while True:
                try:
                    await api(clients[target]).Publish(request, timeout=5, wait_for_ready=False)
                    break
                except grpc.aio.AioRpcError as err:
                    if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:  # publish rate: wait for tokens
                        await asyncio.sleep(0.2)
                    elif target == 0 and killed.is_set():
                        target = 1  # replica A is gone: carry on at B with the same request_id
                    else:
                        raise
            titles.append(title)
            await asyncio.sleep(0.005)
    finally:
        for c in clients:
            await c.close()
    return titles


async def test_two_replicas_share_channels_and_survive_sigkill(tmp_path: Path, redis_url: str) -> None:
    prefix = test_prefix()
    broker = f"--broker={redis_url}?prefix={prefix}"
    try:
        with server_process(tmp_path, broker, name="a") as a, server_process(tmp_path, broker, name="b") as b:
            # 1. A subscriber on B receives, in order, what is published on A (it starts from offset 0 of
            #    the channel's epoch, so it cannot miss the probe whatever the timing).
            async with Client(a.target, token=a.token("writer")) as writer:
                probe = pb.PublishRequest(channel=CHANNEL, title="probe")
                first = await api(writer).Publish(probe, timeout=10)
            assert first.position.offset == 1
            on_b = Reader()
            on_b.position = common_pb2.StreamPosition(epoch=first.position.epoch, offset=0)
            follow_b = asyncio.create_task(on_b.follow(b, TOTAL + 1))
            async with asyncio.timeout(20):
                await on_b.progress.wait()
            assert on_b.offsets == [1] and on_b.recoveries == [True]

            # 2. A subscriber on A; SIGKILL A while publishing; it resumes on B from its last offset.
            on_a = Reader()
            on_a.position = first.position
            killed = asyncio.Event()
            follow_a = asyncio.create_task(on_a.follow(a, TOTAL))
            publishing = asyncio.create_task(publish_all([a, b], killed))
            async with asyncio.timeout(60):
                while len(on_a.offsets) < 40:
                    on_a.progress.clear()
                    await on_a.progress.wait()
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(10)
            killed.set()
            async with asyncio.timeout(60):
                died = await follow_a
                assert died == grpc.StatusCode.UNAVAILABLE
                resumed = await on_a.follow(b, TOTAL)
                assert resumed is None
                titles = await publishing
                await follow_b
            assert on_a.recoveries == [True, True]
            expected = list(range(2, TOTAL + 2))
            assert on_a.offsets == expected, "lost or duplicated across the SIGKILL"
            assert on_a.titles == titles
            assert on_b.offsets[:TOTAL] == [1, *expected[: TOTAL - 1]]
    finally:
        await delete_prefix(redis_url, prefix)
