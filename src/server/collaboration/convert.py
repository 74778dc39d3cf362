"""Translation of the hub's collaboration events (and leases, participants) to the protobuf
contract. The model's converters (operations, documents) are in
`realtime.common.collaboration.convert`, shared with the clients.
Generated message classes only: no grpc here.
"""

from __future__ import annotations

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


def encode(event: ev.Event) -> pb.CollaborateResponse:
    """The protobuf form of an event, without command_id (see `_for`)."""
    r = pb.CollaborateResponse()
    if isinstance(event, ev.AppliedBatch):
        r.applied.operations.extend(applied_to_pb(a) for a in event.operations)
    elif isinstance(event, ev.Cursor):
        r.cursor.CopyFrom(
            pb.CursorMovedEvent(
                session_id=event.session_id,
                user_id=event.user_id,
                element_id=event.element_id,
                x=event.x,
                y=event.y,
                text_offset=event.text_offset,
            )
        )
    elif isinstance(event, ev.Joined):
        j = r.joined
        j.document_id = event.document_id
        j.version = event.catchup.version
        if event.catchup.snapshot is not None:
            j.snapshot.CopyFrom(snapshot_to_pb(event.catchup.snapshot))
        j.replay.extend(applied_to_pb(a) for a in event.catchup.tail)
        j.recovered = event.catchup.recovered
        j.participants.extend(participant_to_pb(p) for p in event.participants)
        j.leases.extend(lease_to_pb(x) for x in event.leases)
        j.role = ROLE_TO_PB[event.role]
        j.session_id = event.session_id
        j.last_client_seq = event.last_client_seq
    elif isinstance(event, ev.Rejected):
        for x in event.rejections:
            item = r.rejected.operations.add(
                client_seq=x.client_seq, code=int(x.code), reason=x.reason, message=x.message
            )
            if x.lease is not None:
                item.lease.CopyFrom(lease_to_pb(x.lease))
    elif isinstance(event, ev.PresenceChanged):
        r.presence.participant.CopyFrom(participant_to_pb(event.participant))
    elif isinstance(event, ev.LeaseGranted):
        r.lease_granted.lease.CopyFrom(lease_to_pb(event.lease))
    elif isinstance(event, ev.LeaseDenied):
        r.lease_denied.element_id = event.element_id
        r.lease_denied.held_by.CopyFrom(lease_to_pb(event.held_by))
    elif isinstance(event, ev.LeaseReleased):
        r.lease_released.lease.CopyFrom(lease_to_pb(event.lease))
        r.lease_released.reason = LEASE_REASON_TO_PB[event.reason]
        r.lease_released.broken_by = event.broken_by
    elif isinstance(event, ev.ParticipantJoined):
        r.participant_joined.participant.CopyFrom(participant_to_pb(event.participant))
    elif isinstance(event, ev.ParticipantLeft):
        r.participant_left.session_id = event.session_id
        r.participant_left.user_id = event.user_id
        r.participant_left.reason = LEFT_REASON_TO_PB[event.reason]
    elif isinstance(event, ev.Error):
        r.error.CopyFrom(error_event(event.error))
    elif isinstance(event, ev.Pong):
        r.pong.CopyFrom(common_pb2.PongEvent())
    elif isinstance(event, ev.Duplicate):
        r.duplicate.client_seqs.extend(event.client_seqs)
        r.duplicate.version = event.version
        r.duplicate.absorbed_client_seqs.extend(event.absorbed)
    elif isinstance(event, ev.Left):
        r.left.document_id = event.document_id
    elif isinstance(event, ev.GoingAway):
        r.going_away.CopyFrom(common_pb2.GoingAwayEvent(reason=event.reason, grace=_duration(event.grace)))
    return r


def for_session(event: ev.Event, session_id: str) -> pb.CollaborateResponse:
    """Encode once per event (broadcasts are shared); echo command_id only to its origin."""
    if isinstance(event, (ev.PresenceChanged, ev.Joined)):
        wire = encode(event)  # carries mutable participant state: encode as it is now
    else:
        if event.wire is None:
            event.wire = encode(event)
        wire = event.wire
    echo = event.command_id and (not event.origin or event.origin == session_id)
    if not echo:
        return wire  # type: ignore[no-any-return]
    out = pb.CollaborateResponse()
    out.CopyFrom(wire)
    out.command_id = event.command_id
    if out.WhichOneof("event") == "error":
        out.error.command_id = event.command_id
    return out
