"""Translation between the protobuf contract and the plain-Python model of collaboration.

Used by the servicer, and by clients (the CLI, tests, the bench) that keep a `Replica`.
Generated message classes only: no grpc here.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import common_pb2

from ..platform.status import error_event
from . import events as ev
from . import textop
from .document import Document, Element
from .leases import Lease
from .ops import (
    JSON,
    Applied,
    ClientOp,
    CreateElement,
    DeleteElement,
    EditText,
    Malformed,
    MoveElement,
    Op,
    SetProperty,
)

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


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def value_from_pb(value: struct_pb2.Value) -> JSON:
    return json_format.MessageToDict(value)


def value_to_pb(value: JSON) -> struct_pb2.Value:
    out = struct_pb2.Value()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    json_format.ParseDict(value, out)
    return out


# -- operations ---------------------------------------------------------------------------------
def op_from_pb(p: pb.DocumentOperation, max_insert: int | None = None) -> ClientOp:
    """Decode one operation; what cannot be decoded becomes `Malformed` (refused with a reason).

    `max_insert=None` decodes what a server sent (an applied operation): any well-formed edit,
    even one that changes nothing, is accepted as it is."""
    kind = p.WhichOneof("kind")
    op: Op
    try:
        if kind == "create":
            c = p.create
            op = CreateElement(
                c.element_id,
                c.parent_id,
                c.kind,
                c.position,
                {k: value_from_pb(v) for k, v in c.properties.items()},
            )
        elif kind == "delete":
            op = DeleteElement(p.delete.element_id)
        elif kind == "set":
            s = p.set
            op = SetProperty(s.element_id, s.key, value_from_pb(s.value) if s.HasField("value") else None)
        elif kind == "move":
            m = p.move
            op = MoveElement(m.element_id, m.parent_id, m.position)
        elif kind == "edit_text":
            e = p.edit_text
            comps: list[int | str] = []
            for comp in e.components:
                which = comp.WhichOneof("kind")
                if which == "retain":
                    comps.append(comp.retain)
                elif which == "insert":
                    comps.append(comp.insert)
                elif which == "delete":
                    comps.append(-comp.delete)
                else:
                    raise textop.TextOpError("a text component has no kind set")
            checked = textop.normalize(comps) if max_insert is None else textop.validate(comps, max_insert)
            op = EditText(e.element_id, e.key, checked)
        else:
            op = Malformed("the operation has no kind set (create, delete, set, move or edit_text)")
    except textop.TextOpError as exc:
        op = Malformed(f"edit_text: {exc}")
    return ClientOp(p.client_seq, op)


def op_to_pb(client_seq: int, op: Op) -> pb.DocumentOperation:
    out = pb.DocumentOperation(client_seq=client_seq)
    if isinstance(op, CreateElement):
        out.create.element_id = op.element_id
        out.create.parent_id = op.parent_id
        out.create.kind = op.kind
        out.create.position = op.position
        for k, v in op.properties.items():
            out.create.properties[k].CopyFrom(value_to_pb(v))
    elif isinstance(op, DeleteElement):
        out.delete.element_id = op.element_id
    elif isinstance(op, SetProperty):
        out.set.element_id = op.element_id
        out.set.key = op.key
        if op.value is not None:
            out.set.value.CopyFrom(value_to_pb(op.value))
    elif isinstance(op, MoveElement):
        out.move.element_id = op.element_id
        out.move.parent_id = op.parent_id
        out.move.position = op.position
    elif isinstance(op, EditText):
        out.edit_text.element_id = op.element_id
        out.edit_text.key = op.key
        for c in op.components:
            if isinstance(c, str):
                out.edit_text.components.add(insert=c)
            elif c > 0:
                out.edit_text.components.add(retain=c)
            else:
                out.edit_text.components.add(delete=-c)
    return out


def applied_to_pb(a: Applied) -> pb.AppliedOperation:
    return pb.AppliedOperation(
        version=a.version,
        author=a.author,
        client_id=a.client_id,
        operation=op_to_pb(a.client_seq, a.op),
        applied_at=timestamp(a.applied_at),
    )


def applied_from_pb(p: pb.AppliedOperation) -> Applied:
    cop = op_from_pb(p.operation)
    return Applied(
        p.version, p.author, p.client_id, cop.client_seq, cop.op, p.applied_at.ToNanoseconds() / 1e9
    )


# -- documents ----------------------------------------------------------------------------------
def element_to_pb(e: Element) -> pb.DocumentElement:
    out = pb.DocumentElement(
        element_id=e.element_id,
        parent_id=e.parent_id,
        kind=e.kind,
        position=e.position,
        created_by=e.created_by,
        created_version=e.created_version,
    )
    for k, v in e.properties.items():
        out.properties[k].CopyFrom(value_to_pb(v))
    return out


def snapshot_to_pb(doc: Document) -> pb.DocumentSnapshot:
    return pb.DocumentSnapshot(
        document_id=doc.document_id, version=doc.version, elements=[element_to_pb(e) for e in doc.ordered()]
    )


def snapshot_from_pb(p: pb.DocumentSnapshot) -> Document:
    doc = Document(p.document_id, p.version)
    for e in p.elements:
        doc.elements[e.element_id] = Element(
            e.element_id,
            e.parent_id,
            e.kind,
            e.position,
            {k: value_from_pb(v) for k, v in e.properties.items()},
            e.created_by,
            e.created_version,
        )
    doc.recount()
    return doc


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
