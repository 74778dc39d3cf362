"""Translation between the protobuf contract and the plain-Python model of collaboration.

Used by the servicer, and by clients (the CLI, tests, the bench) that keep a `Replica`.
Generated message classes only: no grpc here.
"""

from __future__ import annotations

import math

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from realtime.v1 import collaboration_pb2 as pb

from . import textop
from .document import Document, Element
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
