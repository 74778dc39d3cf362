"""Transform on the collisions that broke real sessions: same-position deletes, a delete inside a
concurrent insert, edits that become no-ops; and what the sequencer and client replica do then."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.common.collaboration import textop
from realtime.common.collaboration.convert import applied_from_pb, applied_to_pb
from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import Applied, ClientOp, CreateElement, EditText
from realtime.common.collaboration.replica import Replica
from realtime.server.collaboration.sequencer import Sequencer

texts = st.text(alphabet="abcdef", max_size=12)


@st.composite
def text_and_ops(draw: st.DrawFn, n: int = 2) -> tuple[str, list[textop.TextOp]]:
    text = draw(texts)
    ops = []
    for _ in range(n):
        at = draw(st.integers(0, len(text)))
        delete = draw(st.integers(0, len(text) - at))
        insert = draw(st.text(alphabet="XYZ", max_size=3))
        ops.append(textop.splice(at, delete, insert))
    return text, ops


@settings(max_examples=400, deadline=None)
@given(text_and_ops())
def test_transform_converges_on_any_pair(case: tuple[str, list[textop.TextOp]]) -> None:
    text, (a, b) = case
    a2, b2 = textop.transform(a, b)
    assert textop.apply(textop.apply(text, a), b2) == textop.apply(textop.apply(text, b), a2)


@settings(max_examples=300, deadline=None)
@given(texts.filter(bool), st.data())
def test_same_deletes_become_empty_on_both_sides(text: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(text) - 1))
    n = data.draw(st.integers(1, len(text) - at))
    op = textop.splice(at, n, "")
    a2, b2 = textop.transform(op, op)
    assert a2 == () and b2 == ()
    assert textop.apply(textop.apply(text, op), b2) == text[:at] + text[at + n :]


@settings(max_examples=300, deadline=None)
@given(texts, st.data())
def test_delete_overlapping_a_concurrent_insert_keeps_the_insert(text: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(text)))
    insert = textop.splice(at, 0, "NEW")
    start = data.draw(st.integers(0, at))
    end = data.draw(st.integers(at, len(text)))
    delete = textop.splice(start, end - start, "")
    for first, second in ((insert, delete), (delete, insert)):
        a2, b2 = textop.transform(first, second)
        result = textop.apply(textop.apply(text, first), b2)
        assert result == textop.apply(textop.apply(text, second), a2)
        assert "NEW" in result  # typing is never eaten by a concurrent delete


@settings(max_examples=200, deadline=None)
@given(text_and_ops(3))
def test_sequencer_absorbs_no_op_edits_and_never_logs_an_empty_edit(
    case: tuple[str, list[textop.TextOp]],
) -> None:
    text, ops = case
    seq = Sequencer(Document("d"))
    seq.submit("u", "c0", 0, [ClientOp(1, CreateElement("t", "", "text", "V", {"body": text}))])
    answered = []
    for i, op in enumerate(ops):
        if not op:
            continue
        r = seq.submit(f"u{i}", f"c{i + 1}", 1, [ClientOp(1, EditText("t", "body", op))])
        assert not r.rejected
        answered.append(bool(r.applied) != bool(r.absorbed))
    assert all(answered)
    for a in seq.log:
        assert not isinstance(a.op, EditText) or a.op.components
    assert [a.version for a in seq.log] == list(range(1, seq.version + 1))


def test_two_users_delete_the_same_character_the_second_is_absorbed() -> None:
    seq = Sequencer(Document("d"))
    seq.submit("u", "c0", 0, [ClientOp(1, CreateElement("t", "", "text", "V", {"body": "abc"}))])
    first = seq.submit("a", "ca", 1, [ClientOp(1, EditText("t", "body", (1, -1)))])
    second = seq.submit(
        "b",
        "cb",
        1,
        [ClientOp(1, EditText("t", "body", (1, -1))), ClientOp(2, EditText("t", "body", ("Z",)))],
    )
    assert [a.version for a in first.applied] == [2]
    assert second.absorbed == [1]
    assert [(a.client_seq, a.op) for a in second.applied] == [(2, EditText("t", "body", ("Z",)))]
    assert seq.doc.text("t", "body") == "Zac"
    # a resend of the absorbed edit is a duplicate, not a second delete
    assert seq.submit("b", "cb", 1, [ClientOp(1, EditText("t", "body", (1, -1)))]).duplicate == [1]


def test_client_replica_never_dies_on_what_the_server_sends() -> None:
    r = Replica("me", "d")
    r.receive(Applied(1, "u", "x", 1, CreateElement("t", "", "text", "V", {"body": "abc"}), 0.0))
    # an empty edit (sent by an older server) decodes and applies as a no-op
    empty = applied_from_pb(applied_to_pb(Applied(2, "u", "x", 2, EditText("t", "body", ()), 0.0)))
    r.receive(empty)
    assert r.version == 2 and r.out_of_sync is None
    # an edit that does not fit, or a skipped version, marks the replica for a resync
    r.receive(Applied(3, "u", "x", 3, EditText("t", "body", (10, -1)), 0.0))
    assert r.out_of_sync is not None and r.version == 2
    assert r.take_batch() is None  # nothing is sent on a state we do not trust
    gap = Replica("me", "d")
    gap.receive(Applied(5, "u", "x", 1, CreateElement("t", "", "text", "V", {}), 0.0))
    assert gap.out_of_sync is not None


def test_unsent_edit_that_became_a_no_op_is_not_sent() -> None:
    r = Replica("me", "d")
    r.receive(Applied(1, "u", "x", 1, CreateElement("t", "", "text", "V", {"body": "abc"}), 0.0))
    r.local(EditText("t", "body", (1, -1)))
    r.receive(Applied(2, "u", "x", 2, EditText("t", "body", (1, -1)), 0.0))
    assert r.pending == []


def test_offline_edits_are_rebased_onto_a_snapshot_past_the_log() -> None:
    r = Replica("me", "d")
    r.receive(Applied(1, "u", "x", 1, CreateElement("t", "", "text", "V", {"body": "hello world"}), 0.0))
    r.local(EditText("t", "body", textop.splice(5, 0, " dear")))  # "hello dear world"
    r.local(EditText("t", "body", textop.splice(0, 1, "J")))  # "Jello dear world"
    taken = r.take_batch()
    assert taken is not None
    r.reconnected()
    # meanwhile others made many edits; the log was compacted: the client gets a snapshot
    snap = Document("d", 900)
    snap.apply(CreateElement("t", "", "text", "V", {"body": "oh, hello big world!"}))
    refused = r.load(snap, [], last_client_seq=0)
    assert refused == []
    assert r.view().text("t", "body") == "oh, Jello dear big world!"
    base, ops = r.take_batch() or (0, [])
    assert base == 900 and [c.client_seq for c in ops] == [1, 2]
    # the server applies them at version 900 as the client shows them
    seq = Sequencer(snap.copy())
    assert not seq.submit("me", "me", base, ops).rejected
    assert seq.doc.text("t", "body") == "oh, Jello dear big world!"


def test_offline_edits_already_applied_are_not_sent_twice_and_impossible_ones_are_named() -> None:
    r = Replica("me", "d")
    r.receive(Applied(1, "u", "x", 1, CreateElement("t", "", "text", "V", {"body": "ab"}), 0.0))
    r.receive(Applied(2, "u", "x", 2, CreateElement("g", "", "text", "V", {"body": "x"}), 0.0))
    r.local(EditText("t", "body", ("Q",)))
    r.local(EditText("g", "body", ("R",)))
    snap = Document("d", 50)
    snap.apply(CreateElement("t", "", "text", "V", {"body": "Qab"}))  # seq 1 was applied
    snap.apply(CreateElement("g", "", "text", "V", {"body": 7}))  # replaced by a number
    refused = r.load(snap, [], last_client_seq=1)
    assert [(x.op.client_seq, x.reason) for x in refused] == [(2, "NOT_TEXT")]
    assert r.pending == []


def test_rebase_onto_a_snapshot_counts_our_applied_operations_once() -> None:
    r = Replica("me", "d")
    r.receive(Applied(1, "u", "x", 1, CreateElement("t", "", "text", "V", {"body": "abc"}), 0.0))
    r.local(EditText("t", "body", (3, "XY")))  # applied by the server; the ack was lost
    r.local(EditText("t", "body", (5, "Z")))  # made on top of it: "abcXYZ"
    snap = Document("d", 40)
    snap.apply(CreateElement("t", "", "text", "V", {"body": "0abcXY"}))  # others typed "0"
    assert r.load(snap, [], last_client_seq=1) == []
    assert [c.client_seq for c in r.pending] == [2]
    assert r.view().text("t", "body") == "0abcXYZ"
