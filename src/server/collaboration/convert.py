"""Translation of the hub's collaboration events (and leases, participants) to the protobuf
contract. The model's converters (operations, documents) are in
`realtime.common.collaboration.convert`, shared with the clients.
Generated message classes only: no grpc here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import duration_pb2

from realtime.common.collaboration.convert import applied_to_pb, snapshot_to_pb, timestamp
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import common_pb2

from ..platform.status import error_event
from . import events as ev
from .leases import Lease

ROLE_TO_PB = {
    "owner": pb.DOCUMENT_ROLE_OWNER,
    "editor": pb.DOCUMENT_ROLE_EDITOR,
    "viewer": pb.DOCUMENT_ROLE_VIEWER,
}
ROLE_FROM_PB = {v: k for k, v in ROLE_TO_PB.items()}
STATUS_TO_PB = {
    "viewing": pb.PARTICIPANT_STATUS_VIEWING,
    "editing": pb.PARTICIPANT_STATUS_EDITING,
    "idle": pb.PARTICIPANT_STATUS_IDLE,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()} | {pb.PARTICIPANT_STATUS_UNSPECIFIED: "viewing"}
LEASE_REASON_TO_PB = {
    "released": pb.LEASE_RELEASE_REASON_RELEASED,
    "expired": pb.LEASE_RELEASE_REASON_EXPIRED,
    "holder_left": pb.LEASE_RELEASE_REASON_HOLDER_LEFT,
    "broken_by_owner": pb.LEASE_RELEASE_REASON_BROKEN_BY_OWNER,
    "element_deleted": pb.LEASE_RELEASE_REASON_ELEMENT_DELETED,
}
LEFT_REASON_TO_PB = {
    "left": pb.PARTICIPANT_LEFT_REASON_LEFT,
    "disconnected": pb.PARTICIPANT_LEFT_REASON_DISCONNECTED,
    "presence_expired": pb.PARTICIPANT_LEFT_REASON_PRESENCE_EXPIRED,
    "document_deleted": pb.PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED,
}


def lease_to_pb(lease: Lease) -> pb.ElementLease:
    return pb.ElementLease(
        element_id=lease.element_id,
        holder_session_id=lease.session_id,
        holder_user_id=lease.user_id,
        holder_name=lease.holder_name,
        expires_at=timestamp(lease.expires_at),
    )


def participant_to_pb(s: Any) -> pb.DocumentParticipant:
    return pb.DocumentParticipant(
        session_id=s.session_id,
        user_id=s.user_id,
        display_name=s.display_name or s.user_id,
        color=s.color,
        status=STATUS_TO_PB.get(s.status, pb.PARTICIPANT_STATUS_VIEWING),
        selected_element_id=s.selected_element_id,
        role=ROLE_TO_PB.get(s.role, pb.DOCUMENT_ROLE_UNSPECIFIED),
        client_id=s.client_id,
    )


def _duration(seconds: float) -> Any:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def _applied(r: Any, e: ev.AppliedBatch) -> None:
    r.applied.operations.extend(applied_to_pb(a) for a in e.operations)


def _cursor(r: Any, e: ev.Cursor) -> None:
    r.cursor.CopyFrom(
        pb.CursorMovedEvent(
            session_id=e.session_id,
            user_id=e.user_id,
            element_id=e.element_id,
            x=e.x,
            y=e.y,
            text_offset=e.text_offset,
        )
    )


def _joined(r: Any, e: ev.Joined) -> None:
    j = r.joined
    j.document_id = e.document_id
    j.version = e.catchup.version
    if e.catchup.snapshot is not None:
        j.snapshot.CopyFrom(snapshot_to_pb(e.catchup.snapshot))
    j.replay.extend(applied_to_pb(a) for a in e.catchup.tail)
    j.recovered = e.catchup.recovered
    j.participants.extend(participant_to_pb(p) for p in e.participants)
    j.leases.extend(lease_to_pb(x) for x in e.leases)
    j.role = ROLE_TO_PB[e.role]
    j.session_id = e.session_id
    j.last_client_seq = e.last_client_seq


def _rejected(r: Any, e: ev.Rejected) -> None:
    for x in e.rejections:
        item = r.rejected.operations.add(
            client_seq=x.client_seq, code=int(x.code), reason=x.reason, message=x.message
        )
        if x.lease is not None:
            item.lease.CopyFrom(lease_to_pb(x.lease))


def _presence(r: Any, e: ev.PresenceChanged) -> None:
    r.presence.participant.CopyFrom(participant_to_pb(e.participant))


def _lease_granted(r: Any, e: ev.LeaseGranted) -> None:
    r.lease_granted.lease.CopyFrom(lease_to_pb(e.lease))


def _lease_denied(r: Any, e: ev.LeaseDenied) -> None:
    r.lease_denied.element_id = e.element_id
    r.lease_denied.held_by.CopyFrom(lease_to_pb(e.held_by))


def _lease_released(r: Any, e: ev.LeaseReleased) -> None:
    r.lease_released.lease.CopyFrom(lease_to_pb(e.lease))
    r.lease_released.reason = LEASE_REASON_TO_PB[e.reason]
    r.lease_released.broken_by = e.broken_by


def _participant_joined(r: Any, e: ev.ParticipantJoined) -> None:
    r.participant_joined.participant.CopyFrom(participant_to_pb(e.participant))


def _participant_left(r: Any, e: ev.ParticipantLeft) -> None:
    r.participant_left.session_id = e.session_id
    r.participant_left.user_id = e.user_id
    r.participant_left.reason = LEFT_REASON_TO_PB[e.reason]


def _error(r: Any, e: ev.Error) -> None:
    r.error.CopyFrom(error_event(e.error))


def _pong(r: Any, e: ev.Pong) -> None:
    r.pong.CopyFrom(common_pb2.PongEvent())


def _duplicate(r: Any, e: ev.Duplicate) -> None:
    r.duplicate.client_seqs.extend(e.client_seqs)
    r.duplicate.version = e.version
    r.duplicate.absorbed_client_seqs.extend(e.absorbed)


def _left(r: Any, e: ev.Left) -> None:
    r.left.document_id = e.document_id


def _going_away(r: Any, e: ev.GoingAway) -> None:
    r.going_away.CopyFrom(common_pb2.GoingAwayEvent(reason=e.reason, grace=_duration(e.grace)))


#: How each kind of event fills its CollaborateResponse.
_FILL: dict[type[ev.Event], Callable[[Any, Any], None]] = {
    ev.AppliedBatch: _applied,
    ev.Cursor: _cursor,
    ev.Joined: _joined,
    ev.Rejected: _rejected,
    ev.PresenceChanged: _presence,
    ev.LeaseGranted: _lease_granted,
    ev.LeaseDenied: _lease_denied,
    ev.LeaseReleased: _lease_released,
    ev.ParticipantJoined: _participant_joined,
    ev.ParticipantLeft: _participant_left,
    ev.Error: _error,
    ev.Pong: _pong,
    ev.Duplicate: _duplicate,
    ev.Left: _left,
    ev.GoingAway: _going_away,
}


def encode(event: ev.Event) -> pb.CollaborateResponse:
    """The protobuf form of an event, without command_id (wire.py adds it for the recipients
    that get it, and serializes a broadcast once)."""
    r = pb.CollaborateResponse()
    fill = _FILL.get(type(event))
    if fill is not None:
        fill(r, event)
    return r
