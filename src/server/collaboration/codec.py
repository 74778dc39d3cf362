"""JSON form of operations and applied operations (the op journal in the broker, snapshots)."""

from __future__ import annotations

from typing import Any

from realtime.common.collaboration.ops import (
    Applied,
    CreateElement,
    DeleteElement,
    EditText,
    Malformed,
    MoveElement,
    Op,
    SetProperty,
)


def op_to_json(op: Op) -> dict[str, Any]:
    if isinstance(op, CreateElement):
        return {
            "t": "create",
            "e": op.element_id,
            "p": op.parent_id,
            "k": op.kind,
            "pos": op.position,
            "props": op.properties,
        }
    if isinstance(op, DeleteElement):
        return {"t": "delete", "e": op.element_id}
    if isinstance(op, SetProperty):
        return {"t": "set", "e": op.element_id, "key": op.key, "v": op.value}
    if isinstance(op, MoveElement):
        return {"t": "move", "e": op.element_id, "p": op.parent_id, "pos": op.position}
    if isinstance(op, EditText):
        return {"t": "edit", "e": op.element_id, "key": op.key, "c": list(op.components)}
    return {"t": "malformed", "m": op.message}


def op_from_json(d: dict[str, Any]) -> Op:
    t = d["t"]
    if t == "create":
        return CreateElement(d["e"], d["p"], d["k"], d["pos"], dict(d["props"]))
    if t == "delete":
        return DeleteElement(d["e"])
    if t == "set":
        return SetProperty(d["e"], d["key"], d["v"])
    if t == "move":
        return MoveElement(d["e"], d["p"], d["pos"])
    if t == "edit":
        return EditText(d["e"], d["key"], tuple(d["c"]))
    return Malformed(str(d.get("m", "")))


def applied_to_json(a: Applied) -> dict[str, Any]:
    return {
        "v": a.version,
        "a": a.author,
        "c": a.client_id,
        "s": a.client_seq,
        "op": op_to_json(a.op),
        "at": a.applied_at,
    }


def applied_from_json(d: dict[str, Any]) -> Applied:
    return Applied(int(d["v"]), d["a"], d["c"], int(d["s"]), op_from_json(d["op"]), float(d["at"]))
