"""Encode once and batches (wire.py): the hand-framed bytes parse back to the messages the protobuf
runtime builds, each publication is serialized once however many streams send it, batches keep
order, end at presence events and byte bounds, and nothing taken is lost when the feed ends."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from realtime.server.broker.base import Publication
from realtime.server.notifications import wire
from realtime.server.notifications.convert import ENCODER, notification_bytes, presence_bytes, to_proto
from realtime.server.notifications.model import Content, from_publication
from realtime.server.notifications.presence import JOIN, events_channel
from realtime.server.platform.errors import HubError, resource_exhausted
from realtime.v1 import common_pb2
from realtime.v1 import notifications_pb2 as pb


def notification(offset: int, body: str = "", channel: str = "topic:a") -> Publication:
    meta = Content(title=f"t{offset}", body=body, publisher="alice", level=2).meta()
    return Publication(channel, "ep", offset, b"", 1_700_000_000.25 + offset, meta)


def presence(channel: str = "topic:a") -> Publication:
    meta = {"ch": channel, "e": JOIN, "c": "conn-1", "u": "bob"}
    return Publication(events_channel(channel), "ep", 1, b"", 1.0, meta)


def feed(pubs: list[Publication], fail: HubError | None = None) -> Callable[[], Publication | None]:
    items = iter(pubs)

    def take() -> Publication | None:
        pub = next(items, None)
        if pub is None and fail is not None:
            raise fail
        return pub

    return take


def expected(pub: Publication) -> pb.Notification:
    return to_proto(from_publication(pub))


def test_varint_matches_the_runtime() -> None:
    for value in (1, 127, 128, 300, 16_383, 16_384, 2**31, 2**40):
        msg = pb.SubscribedEvent(position=common_pb2.StreamPosition(offset=value))
        assert wire.field(2, b"\x08" + wire.varint(value)) == msg.SerializeToString()


@pytest.mark.parametrize(
    ("form", "cls"), [(wire.SUBSCRIBE, pb.SubscribeResponse), (wire.LISTEN, pb.ListenResponse)]
)
def test_single_events_parse_as_the_runtime_builds_them(form: wire.EventForm, cls: type) -> None:
    pub = notification(3, body="é" * 200)
    got = cls.FromString(ENCODER.single(pub, form))
    assert got == cls(notification=expected(pub))
    join = presence()
    event = cls.FromString(ENCODER.single(join, form))
    assert event.WhichOneof("event") == "presence"
    assert (event.presence.channel, event.presence.user_id) == ("topic:a", "bob")
    assert event.presence.change == pb.PRESENCE_CHANGE_JOIN


def test_a_publication_is_serialized_once_for_every_stream() -> None:
    calls: list[int] = []

    def count(pub: Publication) -> bytes:
        calls.append(pub.offset)
        return notification_bytes(pub)

    encoder = wire.Encoder(count, presence_bytes)
    pub = notification(1)
    for _ in range(1000):
        single = encoder.single(pub, wire.SUBSCRIBE)
        assert encoder.single(pub, wire.LISTEN)
        assert encoder.item(pub)
    assert calls == [1]
    assert encoder.single(pub, wire.SUBSCRIBE) is single  # the same bytes object for every stream


@pytest.mark.parametrize(
    ("form", "cls"), [(wire.SUBSCRIBE, pb.SubscribeResponse), (wire.LISTEN, pb.ListenResponse)]
)
def test_queued_notifications_go_out_as_one_batch_in_order(form: wire.EventForm, cls: type) -> None:
    pubs = [notification(i) for i in range(1, 201)]
    events = [cls.FromString(b) for b in ENCODER.events(feed(pubs), form, batches=True)]
    assert [e.WhichOneof("event") for e in events] == ["batch"]
    assert list(events[0].batch.notifications) == [expected(p) for p in pubs]


def test_without_opting_in_each_notification_is_its_own_event() -> None:
    pubs = [notification(i) for i in range(1, 11)]
    events = [
        pb.SubscribeResponse.FromString(b) for b in ENCODER.events(feed(pubs), wire.SUBSCRIBE, batches=False)
    ]
    assert [e.notification for e in events] == [expected(p) for p in pubs]


def test_a_lone_notification_is_a_plain_event_and_presence_ends_a_batch() -> None:
    pubs = [
        notification(1),
        notification(2),
        presence(),
        notification(3),
        presence(),
        notification(4),
        notification(5),
    ]
    events = [
        pb.SubscribeResponse.FromString(b) for b in ENCODER.events(feed(pubs), wire.SUBSCRIBE, batches=True)
    ]
    assert [e.WhichOneof("event") for e in events] == [
        "batch",
        "presence",
        "notification",
        "presence",
        "batch",
    ]
    assert [n.position.offset for n in events[0].batch.notifications] == [1, 2]
    assert events[2].notification.position.offset == 3
    assert [n.position.offset for n in events[4].batch.notifications] == [4, 5]


def test_batches_are_bounded_in_items_and_bytes() -> None:
    pubs = [notification(i, body="x" * 1000) for i in range(1, 41)]
    take = feed(pubs)
    first = [
        pb.SubscribeResponse.FromString(b)
        for b in ENCODER.events(take, wire.SUBSCRIBE, batches=True, max_items=30, max_bytes=10_000)
    ]
    rest = [
        pb.SubscribeResponse.FromString(b)
        for b in ENCODER.events(take, wire.SUBSCRIBE, batches=True, max_items=30, max_bytes=10_000)
    ]
    sizes = [len(e.batch.notifications) for e in first]
    assert sum(sizes) == 30 and all(1 < s < 10 for s in sizes)
    assert all(len(e.SerializeToString()) <= 10_000 + 16 for e in first)
    offsets = [n.position.offset for e in first + rest for n in (e.batch.notifications or [e.notification])]
    assert offsets == list(range(1, 41))
    big = [notification(1, body="y" * 20_000), notification(2)]
    events = [
        pb.SubscribeResponse.FromString(b)
        for b in ENCODER.events(feed(big), wire.SUBSCRIBE, batches=True, max_bytes=10_000)
    ]
    assert [e.notification.position.offset for e in events] == [1, 2]  # too big to batch: alone


def test_what_was_taken_goes_out_before_the_feed_ends() -> None:
    pubs = [notification(i) for i in range(1, 4)]
    out: list[bytes] = []
    with pytest.raises(HubError):
        for event in ENCODER.events(
            feed(pubs, resource_exhausted("slow", reason="SLOW_CONSUMER")), wire.SUBSCRIBE, batches=True
        ):
            out.append(event)
    (only,) = [pb.SubscribeResponse.FromString(b) for b in out]
    assert [n.position.offset for n in only.batch.notifications] == [1, 2, 3]


def test_replay_sends_everything_in_order_past_the_batch_bound() -> None:
    pubs = [notification(i) for i in range(1, 1201)]
    events = [pb.ListenResponse.FromString(b) for b in ENCODER.replay(pubs, wire.LISTEN, batches=True)]
    assert len(events) == 3  # 512 + 512 + 176
    assert [n.position.offset for e in events for n in e.batch.notifications] == list(range(1, 1201))
    singles = [
        pb.ListenResponse.FromString(b) for b in ENCODER.replay(pubs[:100], wire.LISTEN, batches=False)
    ]
    assert [e.notification.position.offset for e in singles] == list(range(1, 101))
    assert list(ENCODER.replay([], wire.LISTEN, batches=True)) == []


def test_a_busy_batching_stream_writes_at_most_once_per_delay() -> None:
    now = [100.0]
    pacer = wire.Pacer(0.02, clock=lambda: now[0])
    assert pacer.due(1) == 0.0  # quiet so far: at once
    pacer.wrote()
    now[0] += 0.005
    assert pacer.due(3) == pytest.approx(0.015)  # busy: gather until 20 ms after the last write
    assert pacer.due(0) == 0.0  # nothing queued (a command woke the stream)
    assert pacer.due(wire.MAX_BATCH_ITEMS) == 0.0  # a full batch goes at once
    now[0] += 0.5
    assert pacer.due(1) == 0.0  # quiet again
    off = wire.Pacer(0.0, clock=lambda: now[0])
    off.wrote()
    assert off.due(5) == 0.0
