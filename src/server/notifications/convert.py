"""Notifications between the model (plain Python) and the generated messages, and their wire bytes."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from realtime.v1 import common_pb2, notifications_pb2

from ..broker.base import Publication, StreamPosition
from ..platform.errors import invalid_argument
from . import marks
from .channels import validate_channel
from .marks import MarkResult
from .model import Notification, from_publication
from .presence import JOIN, event_of
from .session import EPOCH_CHANGED, HISTORY_EXCEEDED, OFFSET_AHEAD, Subscribed
from .wire import Encoder

pb = notifications_pb2


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def position(pos: StreamPosition) -> common_pb2.StreamPosition:
    return common_pb2.StreamPosition(epoch=pos.epoch, offset=pos.offset)


def to_proto(n: Notification, read: bool = False) -> notifications_pb2.Notification:
    c = n.content
    return pb.Notification(
        id=n.id,
        channel=n.channel,
        position=common_pb2.StreamPosition(epoch=n.epoch, offset=n.offset),
        time=timestamp(n.time),
        title=c.title,
        body=c.body,
        data=c.data,
        content_type=c.content_type,
        level=c.level,
        read=read,
        publisher=c.publisher,
    )


_NOT_RECOVERED = {
    EPOCH_CHANGED: pb.NOT_RECOVERED_REASON_EPOCH_CHANGED,
    HISTORY_EXCEEDED: pb.NOT_RECOVERED_REASON_HISTORY_EXCEEDED,
    OFFSET_AHEAD: pb.NOT_RECOVERED_REASON_OFFSET_AHEAD,
}
_UNSPECIFIED = pb.NOT_RECOVERED_REASON_UNSPECIFIED
_MARK_STATUS = {
    marks.MARKED: pb.MARK_READ_STATUS_MARKED,
    marks.ALREADY_READ: pb.MARK_READ_STATUS_ALREADY_READ,
    marks.INVALID_ID: pb.MARK_READ_STATUS_INVALID_ID,
    marks.NOT_FOUND: pb.MARK_READ_STATUS_NOT_FOUND,
    marks.PERMISSION_DENIED: pb.MARK_READ_STATUS_PERMISSION_DENIED,
}


def mark_results(results: list[MarkResult]) -> list[notifications_pb2.MarkReadResult]:
    return [
        pb.MarkReadResult(
            notification_id=r.notification_id, status=_MARK_STATUS[r.status], description=r.description
        )
        for r in results
    ]


def subscribed_event(done: Subscribed) -> notifications_pb2.SubscribedEvent:
    return pb.SubscribedEvent(
        channel=done.channel,
        position=position(done.position),
        resumed=done.resumed,
        recovered=done.recovered,
        not_recovered_reason=_NOT_RECOVERED.get(done.reason, _UNSPECIFIED),
    )


def listen_channels(
    request: notifications_pb2.ListenRequest, limit: int
) -> list[tuple[str, StreamPosition | None, bool]]:
    """(channel, since, join_leave) per channel of a Listen request; INVALID_ARGUMENT when malformed."""
    if not request.channels:
        raise invalid_argument("no channels to listen to", [("channels", "at least one channel")])
    if len(request.channels) > limit:
        raise invalid_argument("too many channels", [("channels", f"at most {limit}")])
    if request.HasField("since") and len(request.channels) != 1:
        raise invalid_argument(
            "since applies to a single channel", [("since", "set channels[i].since with several channels")]
        )
    out: list[tuple[str, StreamPosition | None, bool]] = []
    seen: set[str] = set()
    for i, c in enumerate(request.channels):
        validate_channel(c.channel, f"channels[{i}].channel")
        if c.channel in seen:
            raise invalid_argument("a channel is listed twice", [(f"channels[{i}].channel", "duplicate")])
        seen.add(c.channel)
        pos = request.since if request.HasField("since") else (c.since if c.HasField("since") else None)
        out.append(
            (c.channel, StreamPosition(pos.epoch, pos.offset) if pos is not None else None, c.join_leave)
        )
    return out


def notification_bytes(pub: Publication) -> bytes:
    return bytes(to_proto(from_publication(pub)).SerializeToString())


def presence_bytes(pub: Publication) -> bytes:
    channel, change, client_id, user_id = event_of(pub)
    kind = pb.PRESENCE_CHANGE_JOIN if change == JOIN else pb.PRESENCE_CHANGE_LEAVE
    event = pb.PresenceEvent(channel=channel, change=kind, client_id=client_id, user_id=user_id)
    return bytes(event.SerializeToString())


#: Live and replayed events are encoded once per publication (wire.py) and yielded as bytes.
ENCODER = Encoder(notification_bytes, presence_bytes)
