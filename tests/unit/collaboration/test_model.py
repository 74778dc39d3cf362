"""Pure model pieces: text operations, fractional indexes, the document, the sequencer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.common.collaboration import fractional, textop
from realtime.common.collaboration.document import Document, Limits
from realtime.common.collaboration.ops import (
    ClientOp,
    CreateElement,
    DeleteElement,
    EditText,
    Malformed,
    MoveElement,
    SetProperty,
)
from realtime.server.collaboration.sequencer import Sequencer


def text_ops(text: str) -> st.SearchStrategy[textop.TextOp]:
    @st.composite
    def build(draw: st.DrawFn) -> textop.TextOp:
        comps: list[textop.Component] = []
        pos = 0
        while pos < len(text) and draw(st.booleans()):
            step = draw(st.integers(1, len(text) - pos))
            comps.append(step if draw(st.booleans()) else -step)
            pos += step
            if draw(st.booleans()):
                comps.append(draw(st.text("xyzé😀", min_size=1, max_size=3)))
        if draw(st.booleans()):
            comps.append(draw(st.text("XY", min_size=1, max_size=2)))
        return textop.normalize(comps)

    return build()


@given(st.text("abcd", max_size=8).flatmap(lambda t: st.tuples(st.just(t), text_ops(t), text_ops(t))))
def test_transform_converges(case: tuple[str, textop.TextOp, textop.TextOp]) -> None:
    text, a, b = case
    a2, b2 = textop.transform(a, b)
    assert textop.apply(textop.apply(text, a), b2) == textop.apply(textop.apply(text, b), a2)


def test_text_edits_use_code_points_and_keep_both_inserts() -> None:
    assert textop.apply("h😀llo", textop.splice(2, 0, "é")) == "h😀éllo"
    a, b = textop.splice(1, 0, "A"), textop.splice(1, 0, "B")
    _, b2 = textop.transform(a, b)
    assert textop.apply(textop.apply("xy", a), b2) == "xABy"  # the first-applied insert goes first
    # a delete over a concurrent insert keeps the insert
    d, i = textop.splice(0, 4, ""), textop.splice(2, 0, "!")
    d2, i2 = textop.transform(d, i)
    assert textop.apply(textop.apply("abcd", d), i2) == "!" == textop.apply(textop.apply("abcd", i), d2)


def test_text_op_validation() -> None:
    for bad in ([], [0], [""], [True], [1.5], ["x" * 11]):
        with pytest.raises(textop.TextOpError):
            textop.validate(bad, max_insert=10)  # type: ignore[arg-type]
    with pytest.raises(textop.TextOpError):
        textop.apply("ab", (3, "x"))
    with pytest.raises(textop.TextOpError):
        textop.apply("ab", (1, -2))
    assert textop.validate([2, -1, "x", 3], 10) == (2, "x", -1)


def test_fractional_keys_order_and_validate() -> None:
    a = fractional.between(None, None)
    b = fractional.between(a, None)
    c = fractional.between(a, b)
    z = fractional.between(None, a)
    assert z < a < c < b
    assert all(fractional.is_valid(k) for k in (a, b, c, z))
    for bad in ("", "a0", "a b", "x" * 129):
        assert not fractional.is_valid(bad)
    with pytest.raises(ValueError):
        fractional.between(b, a)


def test_document_checks_and_undo() -> None:
    doc = Document("d", limits=Limits(max_elements=3, max_value_bytes=50))
    doc.apply(CreateElement("s", "", "slide", "V"))
    doc.apply(CreateElement("t", "s", "text", "V", {"body": "hi"}))
    before = doc.to_dict()
    cases = [
        (CreateElement("s", "", "slide", "W"), "ELEMENT_EXISTS"),
        (CreateElement("u", "nope", "x", "V"), "PARENT_NOT_FOUND"),
        (CreateElement("u", "", "x", "0"), "INVALID_ARGUMENT"),
        (CreateElement("", "", "x", "V"), "INVALID_ARGUMENT"),
        (SetProperty("t", "big", "x" * 100), "VALUE_TOO_LARGE"),
        (SetProperty("t", "n", float("nan")), "INVALID_ARGUMENT"),
        (MoveElement("s", "t", "V"), "CYCLE"),
        (EditText("t", "body", (9, "x")), "OUT_OF_RANGE"),
        (Malformed("nothing"), "INVALID_ARGUMENT"),
        (SetProperty("ghost", "a", 1), "ELEMENT_NOT_FOUND"),
    ]
    for op, reason in cases:
        with pytest.raises(Exception) as caught:
            doc.apply(op)
        assert getattr(caught.value, "reason", None) == reason, op
    assert doc.to_dict() == before
    doc.apply(CreateElement("u", "", "x", "W"))
    with pytest.raises(Exception) as caught:
        doc.apply(CreateElement("v", "", "x", "X"))
    assert getattr(caught.value, "reason", None) == "DOCUMENT_TOO_LARGE"
    undo = doc.apply(DeleteElement("s"))
    assert [e.element_id for e in doc.ordered()] == ["u"]
    with pytest.raises(Exception) as caught:
        doc.apply(EditText("t", "body", ("x",)))
    assert getattr(caught.value, "reason", None) == "ELEMENT_DELETED"
    undo()
    assert [e.element_id for e in doc.ordered()] == ["s", "t", "u"]
    doc.apply(SetProperty("t", "n", 3))
    with pytest.raises(Exception) as caught:
        doc.apply(EditText("t", "n", ("x",)))
    assert getattr(caught.value, "reason", None) == "NOT_TEXT"
    assert Document.from_dict(doc.to_dict()).content() == doc.content()


def test_siblings_with_equal_positions_order_by_id() -> None:
    doc = Document("d")
    doc.apply(CreateElement("b", "", "x", "V"))
    doc.apply(CreateElement("a", "", "x", "V"))
    assert [e.element_id for e in doc.ordered()] == ["a", "b"]


def seq_with_text() -> Sequencer:
    s = Sequencer(Document("d"), log_limit=10, keep=4, clock=lambda: 0.0)
    s.submit("u", "c0", 0, [ClientOp(1, CreateElement("t", "", "text", "V", {"body": "abc"}))])
    return s


def sets(*pairs: tuple[int, object]) -> list[ClientOp]:
    return [ClientOp(seq, SetProperty("t", "x", value)) for seq, value in pairs]


def test_batches_are_atomic_and_deduplicated() -> None:
    s = seq_with_text()
    r = s.submit("u", "c1", 1, [ClientOp(1, SetProperty("t", "x", 1)), ClientOp(2, DeleteElement("zz"))])
    assert [x.reason for x in r.rejected] == ["BATCH_ABORTED", "ELEMENT_NOT_FOUND"]
    assert s.version == 1 and "x" not in s.doc.elements["t"].properties
    ok = s.submit(
        "u", "c1", 1, [ClientOp(3, SetProperty("t", "x", 1)), ClientOp(4, SetProperty("t", "y", 2))]
    )
    assert [a.version for a in ok.applied] == [2, 3]
    assert s.submit("u", "c1", 1, [ClientOp(3, SetProperty("t", "x", 9))]).duplicate == [3]
    bad = s.submit(
        "u", "c1", 3, [ClientOp(4, SetProperty("t", "x", 9)), ClientOp(5, SetProperty("t", "x", 9))]
    )
    # a resend overlapping what was applied: the applied prefix is a duplicate, the rest applies
    assert bad.duplicate == [4] and [(a.client_seq, a.version) for a in bad.applied] == [(5, 4)]
    bad = s.submit(
        "u", "c2", 3, [ClientOp(2, SetProperty("t", "x", 9)), ClientOp(1, SetProperty("t", "x", 9))]
    )
    assert bad.rejected[0].reason == "INVALID_ARGUMENT"  # seqs must increase


def test_text_edit_rebased_over_concurrent_edits_and_refused_after_replacement() -> None:
    s = seq_with_text()
    s.submit("u", "c1", 1, [ClientOp(1, EditText("t", "body", (3, "D")))])
    r = s.submit("u", "c2", 1, [ClientOp(1, EditText("t", "body", ("Z",)))])
    assert r.applied and s.doc.text("t", "body") == "ZabcD"
    # a batch whose second edit depends on its first is rebased consistently
    r = s.submit(
        "u",
        "c3",
        1,
        [ClientOp(1, EditText("t", "body", (1, "1"))), ClientOp(2, EditText("t", "body", (2, "2")))],
    )
    assert s.doc.text("t", "body") == "Za12bcD"
    s.submit("u", "c4", s.version, [ClientOp(1, SetProperty("t", "body", "new"))])
    r = s.submit("u", "c5", 4, [ClientOp(1, EditText("t", "body", ("x",)))])
    assert r.rejected[0].reason == "PROPERTY_REPLACED"
    r = s.submit("u", "c5", s.version, [ClientOp(2, EditText("t", "body", ("x",)))])
    assert s.doc.text("t", "body") == "xnew"


def test_compaction_keeps_replay_and_refuses_stale_text_bases() -> None:
    s = seq_with_text()
    for i in range(12):
        s.submit("u", "c1", s.version, [ClientOp(i + 1, SetProperty("t", "n", i))])
    assert len(s.log) <= 10 and s.floor_version > 1
    catch = s.since(s.floor_version)
    assert catch.recovered and [a.version for a in catch.tail] == list(
        range(s.floor_version + 1, s.version + 1)
    )
    old = s.since(1)
    assert old.snapshot is not None and old.snapshot.version == s.floor_version
    replayed = old.snapshot.copy()
    for a in old.tail:
        replayed.apply(a.op)
    assert replayed.content() == s.doc.content()
    r = s.submit("u", "c2", 1, [ClientOp(1, EditText("t", "body", ("x",)))])
    assert r.rejected[0].reason == "STALE_BASE_VERSION"
    r = s.submit("u", "c2", 1, [ClientOp(2, SetProperty("t", "m", 1))])
    assert r.applied  # only text edits need the base
    with pytest.raises(Exception) as caught:
        s.since(s.version + 1)
    assert getattr(caught.value, "reason", None) == "VERSION_FROM_FUTURE"
    restored = Sequencer(Document.from_dict(s.state()["doc"]), s.state()["clients"])
    assert restored.doc.content() == s.doc.content()
    assert restored.submit("u", "c2", 0, [ClientOp(2, SetProperty("t", "m", 5))]).duplicate == [2]


def test_journal_codec_round_trips_every_operation() -> None:
    from realtime.common.collaboration.ops import Applied
    from realtime.server.collaboration.codec import applied_from_json, applied_to_json

    ops = [
        CreateElement("a", "", "slide", "V", {"t": "x", "n": [1, {"k": None}]}),
        DeleteElement("a"),
        SetProperty("a", "k", {"deep": [1.5, True]}),
        MoveElement("a", "b", "W"),
        EditText("a", "t", (2, "hé😀", -1)),
        Malformed("why"),
    ]
    for i, op in enumerate(ops):
        a = Applied(i + 1, "u", "c", i + 7, op, 12.5)
        assert applied_from_json(applied_to_json(a)) == a


def test_place_between_neighbours_that_share_a_key() -> None:
    assert fractional.place("V", "V") > "V"
    assert "A" < fractional.place("A", "C") < "C"
    assert fractional.place(None, None) == fractional.between(None, None)
