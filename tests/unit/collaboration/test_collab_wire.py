"""Encode once (wire.py): a broadcast is serialized once; every form is what the protobuf runtime
would write for the message each recipient gets (the origin's with its command id echoed)."""

from __future__ import annotations

from realtime.common.codes import Code
from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import Applied, CreateElement, Rejection, SetProperty
from realtime.server.collaboration import events as ev
from realtime.server.collaboration import wire
from realtime.server.collaboration.convert import encode
from realtime.server.collaboration.leases import Lease
from realtime.server.collaboration.outbox import Outbox
from realtime.server.collaboration.room import Session
from realtime.server.collaboration.sequencer import Catchup
from realtime.server.platform.errors import HubError
from realtime.v1 import collaboration_pb2 as pb


def applied(version: int, seq: int = 1) -> Applied:
    return Applied(version, "alice", "c1", seq, SetProperty("e", "k", version), 1700000000.5)


def session(sid: str = "s1") -> Session:
    return Session(sid, "alice", "c1", "editor", Outbox(), display_name="Alice", color="#f00")


LEASE = Lease("e", "s1", "alice", "Alice", 1700000030.0)


def every_event() -> list[ev.Event]:
    """One event of each kind, broadcast (an origin) and direct, with and without a command id."""
    doc = Document("d")
    doc.apply(CreateElement("e", "", "slide", "V"), "alice", 1)
    return [
        ev.AppliedBatch([applied(1), applied(2, 2)], command_id="op-1", origin="s1"),
        ev.AppliedBatch([applied(3)], origin="s2"),
        ev.Cursor("s1", "alice", "e", 1.5, -2.0, 7),
        ev.Joined(
            "d", Catchup(doc, [applied(2)], 2), [session()], [LEASE], "editor", "s1", 4, command_id="j"
        ),
        ev.Joined("d", Catchup(None, [applied(1)], 1), [], [], "viewer", "s9", command_id="j"),
        ev.Rejected(
            [Rejection(3, Code.FAILED_PRECONDITION, "LEASED_BY_OTHER", "held", LEASE)], command_id="r"
        ),
        ev.PresenceChanged(session(), command_id="p", origin="s1"),
        ev.LeaseGranted(LEASE, command_id="l", origin="s1"),
        ev.LeaseDenied("e", LEASE, command_id="l2"),
        ev.LeaseReleased(LEASE, "broken_by_owner", "bob"),
        ev.ParticipantJoined(session("s3")),
        ev.ParticipantLeft("s3", "carol", "presence_expired"),
        ev.Error(HubError(Code.INVALID_ARGUMENT, "bad", reason="BAD"), command_id="e1"),
        ev.Error(HubError(Code.UNAVAILABLE, "moved")),
        ev.Pong(command_id="ping"),
        ev.Duplicate([1, 2], 9, [2], command_id="dup"),
        ev.Left("d", command_id="bye"),
        ev.GoingAway("shutting down", 2.5),
    ]


def expected(event: ev.Event, session_id: str) -> pb.CollaborateResponse:
    """The message a recipient gets, built with the protobuf runtime: the command id is echoed
    to the event's origin (to every recipient of a direct event), and inside an error too."""
    message = encode(event)
    if event.command_id and (not event.origin or event.origin == session_id):
        message.command_id = event.command_id
        if message.WhichOneof("event") == "error":
            message.error.command_id = event.command_id
    return message


def test_every_form_is_what_protobuf_writes_for_each_recipient() -> None:
    for event in every_event():
        for recipient in ("s1", "s2"):
            data = wire.for_session(event, recipient)
            want = expected(event, recipient)
            assert data == want.SerializeToString(), (type(event).__name__, recipient)
            assert pb.CollaborateResponse.FromString(data) == want


def test_a_broadcast_is_serialized_once_for_all_but_its_origin() -> None:
    batch = ev.AppliedBatch([applied(1)], command_id="op-1", origin="s1")
    others = [wire.for_session(batch, f"o{i}") for i in range(50)]
    assert all(data is others[0] for data in others)  # the same bytes object: encoded once
    ack = wire.for_session(batch, "s1")
    assert pb.CollaborateResponse.FromString(ack).command_id == "op-1"
    assert pb.CollaborateResponse.FromString(others[0]).command_id == ""
    assert ack.endswith(others[0])  # the ack is the shared bytes behind the command id


def test_a_presence_change_goes_out_as_the_participant_is_when_sent() -> None:
    who = session()
    event = ev.PresenceChanged(who, origin="s1")
    first = wire.for_session(event, "s2")
    assert wire.for_session(event, "s3") is first  # same state: same bytes
    who.status, who.selected_element_id = "editing", "e"  # changed again before all streams sent it
    later = wire.for_session(event, "s4")
    got = pb.CollaborateResponse.FromString(later).presence.participant
    assert (got.status, got.selected_element_id) == (pb.PARTICIPANT_STATUS_EDITING, "e")
    assert later == encode(event).SerializeToString()


def test_batches_queued_for_a_slow_reader_go_out_as_one_applied_message() -> None:
    first = ev.AppliedBatch([applied(1), applied(2, 2)], origin="s2")
    more = [ev.AppliedBatch([applied(3, 3)], command_id="x", origin="s3"), ev.AppliedBatch([applied(4, 4)])]
    want = pb.CollaborateResponse()
    for batch in (first, *more):
        want.applied.operations.extend(encode(batch).applied.operations)
    data = wire.applied_together(first, more, "s1")
    assert data == want.SerializeToString()
    direct = ev.AppliedBatch([applied(1)], command_id="mine")  # a direct batch echoes its id
    want_direct = expected(direct, "s1")
    want_direct.applied.operations.extend(encode(more[1]).applied.operations)
    assert pb.CollaborateResponse.FromString(wire.applied_together(direct, more[1:], "s1")) == want_direct


def test_a_relayed_event_is_written_as_received() -> None:
    data = expected(ev.Pong(command_id="p"), "s1").SerializeToString()
    assert wire.for_session(ev.Relayed(data), "stream") is data
