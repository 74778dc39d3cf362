"""Batched delivery: streams that set accept_batches get their queued notifications in `batch`
events, in order and exactly once (also across a slow-consumer cut-off and resume, through the
Python client); a stream that does not opt in still gets one `notification` event each."""

from __future__ import annotations

import asyncio
from pathlib import Path

from realtime.client import Backoff, NotificationSubscription, Reconnecting
from realtime.server.broker.base import Broker
from realtime.v1 import common_pb2

from .notify_support import notify_hub, open_stream, pb, pos, stub
from .test_notifications_listen import broker_of

COUNT = 50


async def publish_burst(broker: Broker, channel: str, start: int, count: int) -> None:
    """`count` publications queued before any stream runs (the memory engine does not yield)."""
    for i in range(start, start + count):
        await broker.publish(channel, b"", meta={"t": f"m{i}", "p": "test"})


async def test_opted_in_stream_gets_batches_and_the_other_single_events(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        broker = broker_of(hub)
        async with hub.client("alice") as alice, open_stream(alice) as batched, open_stream(alice) as plain:
            cid = await batched.send(ping=common_pb2.PingCommand(), accept_batches=True)
            assert (await batched.expect("pong")).command_id == cid
            await batched.subscribe("topic:busy")
            await plain.subscribe("topic:busy")
            await publish_burst(broker, "topic:busy", 0, COUNT)
            titles: list[str] = []
            kinds: list[str] = []
            while len(titles) < COUNT:
                event = await batched.next()
                kinds.append(event.WhichOneof("event"))
                if kinds[-1] == "batch":
                    titles.extend(n.title for n in event.batch.notifications)
                else:
                    titles.append(event.notification.title)
            assert titles == [f"m{i}" for i in range(COUNT)]
            assert kinds[0] == "batch" and len(kinds) < COUNT
            single = await plain.notifications(COUNT)
            assert [n.title for n in single] == titles
            assert [n.position.offset for n in single] == list(range(1, COUNT + 1))
            # A resume on a batching stream replays in batches too.
            await batched.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:busy"))
            await batched.expect("unsubscribed")
            epoch = single[0].position.epoch
            await batched.subscribe("topic:busy", since=pos(epoch, 10))
            replay = await batched.expect("batch")
            assert [n.position.offset for n in replay.batch.notifications] == list(range(11, COUNT + 1))


async def test_listen_with_accept_batches(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        broker = broker_of(hub)
        await publish_burst(broker, "topic:l", 0, 5)
        async with hub.client("alice") as alice:
            request = pb.ListenRequest(
                channels=[pb.ListenChannel(channel="topic:l", since=pos("", 0))], accept_batches=True
            )
            call = stub(alice).Listen(request, timeout=30)
            assert (await call.read()).subscribed.recovered
            replay = await call.read()
            assert [n.title for n in replay.batch.notifications] == [f"m{i}" for i in range(5)]
            await publish_burst(broker, "topic:l", 5, COUNT)
            titles: list[str] = []
            while len(titles) < COUNT:
                event = await call.read()
                if event.WhichOneof("event") == "batch":
                    titles.extend(n.title for n in event.batch.notifications)
                else:
                    titles.append(event.notification.title)
            assert titles == [f"m{i}" for i in range(5, COUNT + 5)]
            call.cancel()


async def test_client_unpacks_batches_exactly_once_across_a_cut_off(tmp_path: Path) -> None:
    """A burst overflows the stream's small queue: the stream is cut (SLOW_CONSUMER), the client
    resumes from its last position and gets the rest replayed in batches; twice over."""
    async with notify_hub(tmp_path, {"queue_bytes": 8 * 1024}) as hub:
        broker = broker_of(hub)
        async with hub.client("alice") as alice:
            sub = NotificationSubscription(alice, ["topic:burst"], backoff=Backoff(base=0.01, cap=0.05))
            titles: list[str] = []
            reconnects = 0
            async with asyncio.timeout(60):
                async for event in sub:
                    if isinstance(event, Reconnecting):
                        reconnects += 1
                        continue
                    kind = event.WhichOneof("event")
                    assert kind != "batch"  # unpacked by the client
                    if kind == "subscribed" and event.subscribed.channel == "topic:burst" and not titles:
                        if not event.subscribed.resumed:
                            await publish_burst(broker, "topic:burst", 0, 200)
                    if kind == "notification" and event.notification.channel == "topic:burst":
                        titles.append(event.notification.title)
                        if len(titles) == 200:
                            await publish_burst(broker, "topic:burst", 200, 200)
                        if len(titles) == 400:
                            break
            assert titles == [f"m{i}" for i in range(400)]
            assert reconnects >= 2
            assert sub.batches_received > 0


async def test_client_without_channels_opts_in_with_a_ping(tmp_path: Path) -> None:
    """Only the automatic channels: the client opts in with a ping (whose pong it drops)."""
    async with notify_hub(tmp_path) as hub:
        broker = broker_of(hub)
        async with hub.client("alice") as alice:
            sub = NotificationSubscription(alice)
            titles: list[str] = []
            bursts = 0
            async with asyncio.timeout(30):
                async for event in sub:
                    assert not isinstance(event, Reconnecting)
                    kind = event.WhichOneof("event")
                    assert kind in ("subscribed", "notification"), event  # the opt-in pong is dropped
                    if kind == "notification":
                        titles.append(event.notification.title)
                    if (kind == "subscribed" and event.subscribed.channel == "user:alice") or (
                        len(titles) == bursts * COUNT and sub.batches_received == 0 and bursts < 5
                    ):
                        # Until a burst came batched (the ping may be read after the first one).
                        await publish_burst(broker, "user:alice", bursts * COUNT, COUNT)
                        bursts += 1
                    elif len(titles) == bursts * COUNT:
                        break
            assert titles == [f"m{i}" for i in range(bursts * COUNT)]
            assert sub.batches_received > 0


async def test_batches_fit_a_small_message_size(tmp_path: Path) -> None:
    """With a 64 KiB message size, 20 queued notifications of 10 KiB go out in several batches that
    each fit it, live and replayed; none is lost and the stream stays open."""
    async with notify_hub(tmp_path, max_message_bytes=64 * 1024) as hub:
        broker = broker_of(hub)
        body = "b" * 10_000
        async with hub.client("alice") as alice, open_stream(alice) as s:
            await s.send(ping=common_pb2.PingCommand(), accept_batches=True)
            await s.expect("pong")
            first = await s.subscribe("topic:big")
            for i in range(20):
                await broker.publish("topic:big", b"", meta={"t": f"m{i}", "b": body, "p": "test"})
            for since in (None, pos(first.position.epoch, 0)):
                if since is not None:  # the same 20 again, replayed after a resume
                    await s.send(unsubscribe=pb.UnsubscribeCommand(channel="topic:big"))
                    await s.expect("unsubscribed")
                    await s.subscribe("topic:big", since=since)
                titles: list[str] = []
                sizes: list[int] = []
                while len(titles) < 20:
                    event = await s.next()
                    sizes.append(event.ByteSize())
                    notes = event.batch.notifications if event.HasField("batch") else [event.notification]
                    titles.extend(n.title for n in notes)
                assert titles == [f"m{i}" for i in range(20)]
                assert len(sizes) > 1 and max(sizes) <= 64 * 1024
