"""Attack through a real hub: one user opens many Subscribe streams on a busy channel and reads
none. Each stream alone stays under its own queue bound, so only the per-user budget
(`user_queue_bytes`) can stop the user's streams from holding streams x queue_bytes; another user
reading the same channel gets every notification."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from .notify_support import error_info, notify_hub, pb, stub

STREAMS = 8
QUEUE = 16 * 1024 * 1024  # per stream: never reached in this test (1,000 x 8 KB = 8 MB published)
USER = 256 * 1024  # per user: the 8 stalled streams pass it once grpc's windows (~4 MB each) fill


async def test_a_users_stalled_streams_are_cut_off_at_the_user_budget(tmp_path: Path) -> None:
    settings = {"queue_bytes": QUEUE, "user_queue_bytes": USER, "publish_rate": 0, "user_publish_bytes": 0}
    settings |= {"channel_history_bytes": 0, "namespace_history_bytes": 0, "user_channels": 0}
    async with notify_hub(tmp_path, settings) as hub:
        async with (
            hub.client("mallory") as mallory,
            hub.client("bob") as bob,
            hub.client("root", roles=["admin"]) as admin,
        ):
            stalled = [stub(mallory).Subscribe() for _ in range(STREAMS)]
            reader = stub(bob).Subscribe()
            for call in [*stalled, reader]:
                await call.write(
                    pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel="topic:flood"))
                )
                async with asyncio.timeout(10):  # past the automatic general and user:... ones
                    while (await call.read()).subscribed.channel != "topic:flood":
                        pass
            received: list[int] = []

            async def read_bob() -> None:
                async for event in reader:
                    if event.WhichOneof("event") == "notification":
                        received.append(event.notification.position.offset)
                        if event.notification.title == "end":
                            return

            bob_task = asyncio.ensure_future(read_bob())
            api = stub(admin)
            assert hub.hub.ctx is not None
            broker = hub.hub.ctx.broker
            body = "b" * 8000
            published = 0
            ended: list[grpc.aio.AioRpcError] = []
            async with asyncio.timeout(60):
                for _ in range(1000):  # 8 MB per stream: under its own queue and HTTP/2 window
                    await api.Publish(
                        pb.PublishRequest(channel="topic:flood", title="t", body=body), timeout=5
                    )
                    published += 1
                    if broker.subscriber_count("topic:flood") == 1:  # only Bob's stream is left
                        break
                assert broker.subscriber_count("topic:flood") == 1, "mallory's streams were never cut off"
                await api.Publish(pb.PublishRequest(channel="topic:flood", title="end"), timeout=5)
                published += 1
                for call in stalled:
                    ended.append(await _drained(call))
                await bob_task  # Bob got everything, in order
            assert received == list(range(1, published + 1))
            for err in ended:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert error_info(err).reason == "SLOW_CONSUMER"
            bob_task.cancel()
            reader.cancel()


async def _drained(call: grpc.aio.StreamStreamCall) -> grpc.aio.AioRpcError:
    """Read what was sent before the stream was cut off; the error it ended with."""
    try:
        while await call.read() is not grpc.aio.EOF:
            pass
    except grpc.aio.AioRpcError as err:
        return err
    raise AssertionError("stream ended OK, expected SLOW_CONSUMER")
