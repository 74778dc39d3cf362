"""Encode once: the bytes of a collaboration event, shared by every participant it goes to.

A broadcast (operations applied, a lease, someone joining...) used to be copied and serialized
once per participant. Here its `CollaborateResponse` is serialized once and cached on the event;
every participant's stream writes those same bytes, so per-participant work is the write.

Events differ per recipient in one way: the session whose command caused a broadcast (its
`origin`; every recipient of a direct event) gets the command's id echoed. That variant is the
shared bytes behind a `command_id` field (field 1, so the result is byte for byte what the
protobuf runtime writes); an error echoes the id inside the error event too, so it is encoded as a
message (errors have one recipient). A presence change names a participant whose state may change
again before every stream has sent it: its bytes are cached per distinct state, so each stream
still sends the state as it is when it sends, encoded once per state.

Applied batches queued for a reader that fell behind go out as one message: the batches' encoded
operation lists joined under one `applied` field, no re-encoding.

Proto3 wire format by hand (platform/protowire.py); a unit test checks every form parses back to
the message the protobuf runtime would build. Generated message classes only: no grpc here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from realtime.common.collaboration.convert import applied_to_pb
from realtime.v1 import collaboration_pb2 as pb

from ..platform.protowire import field
from . import events as ev
from .convert import encode

#: realtime.v1.CollaborateResponse: `command_id` and the `applied` event.
COMMAND_ID = 1
APPLIED = 3


def _participant_state(p: Any) -> tuple[Any, ...]:
    """What `convert.participant_to_pb` reads from a session."""
    return (
        p.session_id,
        p.user_id,
        p.display_name,
        p.color,
        p.status,
        p.selected_element_id,
        p.role,
        p.client_id,
    )


def operations(batch: ev.AppliedBatch) -> bytes:
    """The batch's serialized `OperationsAppliedEvent` (its operations), made once."""
    if batch.operations_wire is None:
        event = pb.OperationsAppliedEvent(operations=[applied_to_pb(a) for a in batch.operations])
        batch.operations_wire = event.SerializeToString()
    return batch.operations_wire


def shared(event: ev.Event) -> bytes:
    """The event without `command_id`, as every participant but its origin gets it."""
    if isinstance(event, ev.PresenceChanged):
        state = _participant_state(event.participant)
        if event.wire is None or event.wire_state != state:
            event.wire = encode(event).SerializeToString()
            event.wire_state = state
        return event.wire
    if event.wire is None:
        if isinstance(event, ev.AppliedBatch):
            event.wire = field(APPLIED, operations(event))
        elif isinstance(event, ev.Relayed):
            event.wire = event.data
        else:
            event.wire = encode(event).SerializeToString()
    return event.wire


def echoes(event: ev.Event, session_id: str) -> bool:
    """Whether `session_id` gets the event's command id: its origin, or any recipient of a direct event."""
    return bool(event.command_id) and (not event.origin or event.origin == session_id)


def for_session(event: ev.Event, session_id: str) -> bytes:
    """The serialized `CollaborateResponse` session `session_id` gets for `event`."""
    if not echoes(event, session_id):
        return shared(event)
    if isinstance(event, ev.Error):  # the id goes in the error event as well
        message = encode(event)
        message.command_id = event.command_id
        message.error.command_id = event.command_id
        return message.SerializeToString()  # type: ignore[no-any-return]
    return field(COMMAND_ID, event.command_id.encode()) + shared(event)


def applied_together(first: ev.AppliedBatch, more: Sequence[ev.AppliedBatch], session_id: str) -> bytes:
    """`first` and the batches queued behind it as one `applied` message (consecutive versions),
    with `first`'s command id when `session_id` gets it (the others' ids are not echoed)."""
    head = field(COMMAND_ID, first.command_id.encode()) if echoes(first, session_id) else b""
    return head + field(APPLIED, b"".join([operations(first), *(operations(b) for b in more)]))
