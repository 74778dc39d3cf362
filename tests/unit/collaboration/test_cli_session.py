"""`realtime doc join`'s event handling: it never dies on what the server sends, says what it
could not rebase, and rejoins for a snapshot when its copy no longer fits."""

from __future__ import annotations

import argparse

import pytest

from realtime.client.cli.doc_session import Session
from realtime.common.collaboration.convert import applied_to_pb, snapshot_to_pb
from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import Applied, CreateElement, EditText
from realtime.v1 import collaboration_pb2 as pb


def session() -> Session:
    return Session(argparse.Namespace(client_id="me", document_id="d", json=False, name="Me", timeout=5))


def joined(doc: Document, last_seq: int = 0) -> pb.CollaborateResponse:
    event = pb.CollaborateResponse()
    event.joined.document_id = "d"
    event.joined.version = doc.version
    event.joined.snapshot.CopyFrom(snapshot_to_pb(doc))
    event.joined.last_client_seq = last_seq
    return event


def applied(*items: Applied) -> pb.CollaborateResponse:
    event = pb.CollaborateResponse()
    event.applied.operations.extend(applied_to_pb(a) for a in items)
    return event


def test_cli_prints_absorbed_edits_and_survives_empty_and_misfit_operations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    s = session()
    doc = Document("d", 1)
    doc.apply(CreateElement("t", "", "text", "V", {"body": "abc"}))
    s.on_event(joined(doc))
    s.local(EditText("t", "body", (1, -1)))
    dup = pb.CollaborateResponse()
    dup.duplicate.client_seqs.append(1)
    dup.duplicate.absorbed_client_seqs.append(1)
    s.on_event(dup)
    assert "absorbed: operations 1" in capsys.readouterr().out
    assert not s.replica.pending
    s.on_event(applied(Applied(2, "u", "x", 1, EditText("t", "body", ()), 0.0)))  # an older server's form
    s.on_event(pb.CollaborateResponse(applied=pb.OperationsAppliedEvent()))  # no operations at all
    s.on_event(applied(Applied(3, "u", "x", 2, EditText("t", "body", (40, -1)), 0.0)))  # does not fit
    assert s.replica.out_of_sync is not None
    sent = [s.queue.get_nowait() for _ in range(s.queue.qsize())]
    assert [c.WhichOneof("command") for c in sent][-2:] == ["leave", "join"]
    assert not sent[-1].join.HasField("since_version")  # a fresh snapshot


def test_cli_names_offline_edits_it_cannot_rebase(capsys: pytest.CaptureFixture[str]) -> None:
    s = session()
    doc = Document("d", 1)
    doc.apply(CreateElement("t", "", "text", "V", {"body": "abc"}))
    s.on_event(joined(doc))
    s.replica.local(EditText("t", "body", (3, "!")))  # typed offline
    later = Document("d", 900)
    later.apply(CreateElement("t", "", "text", "V", {"body": 42}))  # replaced by a number meanwhile
    s.on_event(joined(later))
    out = capsys.readouterr().out
    assert "not rebased: operation 1 (NOT_TEXT" in out
    assert not s.replica.pending
