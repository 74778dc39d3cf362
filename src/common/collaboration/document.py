"""The document: a tree of elements with properties, changed only by operations.

`Document.apply(op)` checks an operation against the current state and applies
it, returning an undo function (a batch is atomic: the sequencer undoes the
applied part when a later operation of the batch fails). Replicas apply the
sequencer's `Applied` operations with the same method, so every copy of a
document goes through the same code.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..codes import Code
from . import fractional, textop
from .ops import (
    JSON,
    CreateElement,
    DeleteElement,
    EditText,
    Malformed,
    MoveElement,
    Op,
    OpRefused,
    SetProperty,
)

Undo = Callable[[], None]


@dataclass(frozen=True)
class Limits:
    """Size limits that keep one document from hurting the process."""

    max_elements: int = 10_000
    max_id_length: int = 128
    max_kind_length: int = 64
    max_key_length: int = 128
    max_properties: int = 64
    max_value_bytes: int = 64 * 1024
    max_text_length: int = 256 * 1024
    max_insert_length: int = 64 * 1024
    #: The live elements as a snapshot on the wire: it must fit one message (1 MiB by default)
    #: with the document's description, participants and leases beside it.
    max_document_bytes: int = 896 * 1024


@dataclass
class Element:
    element_id: str
    parent_id: str
    kind: str
    position: str
    properties: dict[str, JSON]
    created_by: str = ""
    created_version: int = 0
    deleted: bool = False

    def sort_key(self) -> tuple[str, str]:
        return (self.position, self.element_id)


def _varint(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def _field(size: int) -> int:
    """A length-delimited field of `size` bytes: tag, length, payload."""
    return 1 + _varint(size) + size


def value_wire_size(value: JSON) -> int:
    """Bytes of `value` as a google.protobuf.Value (how snapshots carry properties)."""
    if value is None or isinstance(value, bool):
        return 2
    if isinstance(value, int | float):
        return 9
    if isinstance(value, str):
        return _field(len(value.encode()))
    if isinstance(value, list):
        return _field(sum(_field(value_wire_size(v)) for v in value))
    if isinstance(value, dict):
        return _field(sum(property_wire_size(k, v) for k, v in value.items()))
    return 0


def property_wire_size(key: str, value: JSON) -> int:
    """One map entry (key, Value) of an element's properties on the wire."""
    return _field(_field(len(key.encode())) + _field(value_wire_size(value)))


#: An element's own tag and length, and its created_version, at most.
_ELEMENT_OVERHEAD = 6 + 11


def element_wire_size(e: Element) -> int:
    """An upper bound of the bytes `e` takes in a DocumentSnapshot."""
    strings = (e.element_id, e.parent_id, e.kind, e.position, e.created_by)
    own = sum(_field(len(text.encode())) for text in strings)
    return _ELEMENT_OVERHEAD + own + sum(property_wire_size(k, v) for k, v in e.properties.items())


def _invalid(message: str) -> OpRefused:
    return OpRefused(Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", message)


@dataclass
class Document:
    """Elements by id (deleted ones kept as tombstones so ids are never reused)."""

    document_id: str
    version: int = 0
    elements: dict[str, Element] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    live_count: int = 0
    #: The live elements' snapshot size (element_wire_size), kept up to date by every operation.
    wire_bytes: int = 0

    def recount(self) -> None:
        """Recompute `live_count` and `wire_bytes` from the elements (after loading them)."""
        live = [e for e in self.elements.values() if not e.deleted]
        self.live_count = len(live)
        self.wire_bytes = sum(element_wire_size(e) for e in live)

    def _grow(self, delta: int) -> None:
        """Refuse a change that would take the snapshot past `max_document_bytes`."""
        limit = self.limits.max_document_bytes
        if delta > 0 and self.wire_bytes + delta > limit:
            raise OpRefused(
                Code.RESOURCE_EXHAUSTED,
                "DOCUMENT_TOO_LARGE",
                f"the document would be {self.wire_bytes + delta} bytes; at most {limit} "
                "(what one message carries): delete or shorten something first",
            )

    # -- reading ---------------------------------------------------------------
    def live(self, element_id: str) -> Element:
        el = self.elements.get(element_id)
        if el is None:
            raise OpRefused(Code.NOT_FOUND, "ELEMENT_NOT_FOUND", f"element {element_id!r} does not exist")
        if el.deleted:
            raise OpRefused(
                Code.FAILED_PRECONDITION, "ELEMENT_DELETED", f"element {element_id!r} was deleted"
            )
        return el

    def ancestors(self, element_id: str) -> Iterator[str]:
        """The element itself, then its parent, up to the top level."""
        seen = 0
        current = element_id
        while current and seen <= len(self.elements):
            yield current
            el = self.elements.get(current)
            current = el.parent_id if el is not None else ""
            seen += 1

    def children(self, parent_id: str) -> list[Element]:
        kids = [e for e in self.elements.values() if not e.deleted and e.parent_id == parent_id]
        kids.sort(key=Element.sort_key)
        return kids

    def ordered(self) -> list[Element]:
        """Live elements depth first: each element followed by its subtree, siblings in order."""
        by_parent: dict[str, list[Element]] = {}
        for e in self.elements.values():
            if not e.deleted:
                by_parent.setdefault(e.parent_id, []).append(e)
        out: list[Element] = []
        stack = sorted(by_parent.get("", ()), key=Element.sort_key, reverse=True)
        while stack:  # depth first: each element, then its subtree
            el = stack.pop()
            out.append(el)
            stack.extend(sorted(by_parent.get(el.element_id, ()), key=Element.sort_key, reverse=True))
        return out

    def text(self, element_id: str, key: str) -> str:
        value = self.live(element_id).properties.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise OpRefused(
                Code.FAILED_PRECONDITION, "NOT_TEXT", f"property {key!r} of {element_id!r} is not a string"
            )
        return value

    # -- applying ------------------------------------------------------------------
    def apply(self, op: Op, author: str = "", version: int = 0) -> Undo:
        """Check and apply `op`; raise OpRefused (document unchanged) when it cannot be applied."""
        if isinstance(op, Malformed):
            raise _invalid(op.message)
        if isinstance(op, CreateElement):
            return self._create(op, author, version)
        if isinstance(op, DeleteElement):
            return self._delete(op)
        if isinstance(op, SetProperty):
            return self._set(op)
        if isinstance(op, MoveElement):
            return self._move(op)
        if isinstance(op, EditText):
            return self._edit(op)
        raise _invalid(f"unknown operation {type(op).__name__}")

    def _check_id(self, name: str, value: str, limit: int) -> None:
        if not value or len(value) > limit:
            raise _invalid(f"{name} must be 1-{limit} characters")

    def _check_position(self, position: str) -> None:
        if not fractional.is_valid(position):
            raise _invalid(
                f"position {position[:40]!r} is not a fractional index "
                "(1-128 characters of 0-9A-Za-z, not ending in '0')"
            )

    def _check_parent(self, parent_id: str) -> None:
        if parent_id:
            el = self.elements.get(parent_id)
            if el is None:
                raise OpRefused(Code.NOT_FOUND, "PARENT_NOT_FOUND", f"parent {parent_id!r} does not exist")
            if el.deleted:
                raise OpRefused(
                    Code.FAILED_PRECONDITION, "PARENT_DELETED", f"parent {parent_id!r} was deleted"
                )

    def _check_value(self, key: str, value: JSON) -> None:
        self._check_id("property key", key, self.limits.max_key_length)
        try:
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
        except (TypeError, ValueError) as exc:
            raise _invalid(f"property {key!r} has a value that is not JSON: {exc}") from None
        if size > self.limits.max_value_bytes:
            raise OpRefused(
                Code.RESOURCE_EXHAUSTED,
                "VALUE_TOO_LARGE",
                f"property {key!r} is {size} bytes; at most {self.limits.max_value_bytes} are allowed",
            )

    def _create(self, op: CreateElement, author: str, version: int) -> Undo:
        lim = self.limits
        self._check_id("element_id", op.element_id, lim.max_id_length)
        self._check_id("kind", op.kind, lim.max_kind_length)
        self._check_position(op.position)
        if op.element_id in self.elements:
            raise OpRefused(
                Code.ALREADY_EXISTS, "ELEMENT_EXISTS", f"element id {op.element_id!r} is already used"
            )
        self._check_parent(op.parent_id)
        if len(op.properties) > lim.max_properties:
            raise _invalid(f"at most {lim.max_properties} properties per element")
        for key, value in op.properties.items():
            self._check_value(key, value)
        if self.live_count >= lim.max_elements:
            raise OpRefused(
                Code.RESOURCE_EXHAUSTED,
                "DOCUMENT_TOO_LARGE",
                f"the document has {self.live_count} elements; at most {lim.max_elements} are allowed",
            )
        el = Element(
            op.element_id,
            op.parent_id,
            op.kind,
            op.position,
            {k: copy.deepcopy(v) for k, v in op.properties.items() if v is not None},
            author,
            version,
        )
        size = element_wire_size(el)
        self._grow(size)
        self.elements[op.element_id] = el
        self.live_count += 1
        self.wire_bytes += size

        def undo() -> None:
            del self.elements[op.element_id]
            self.live_count -= 1
            self.wire_bytes -= size

        return undo

    def _delete(self, op: DeleteElement) -> Undo:
        self.live(op.element_id)
        doomed = [
            e
            for e in self.elements.values()
            if not e.deleted and op.element_id in self.ancestors(e.element_id)
        ]
        size = sum(element_wire_size(e) for e in doomed)
        for e in doomed:
            e.deleted = True
        self.live_count -= len(doomed)
        self.wire_bytes -= size

        def undo() -> None:
            for e in doomed:
                e.deleted = False
            self.live_count += len(doomed)
            self.wire_bytes += size

        return undo

    def _set(self, op: SetProperty) -> Undo:
        el = self.live(op.element_id)
        self._check_value(op.key, op.value)
        had = op.key in el.properties
        if not had and op.value is not None and len(el.properties) >= self.limits.max_properties:
            raise _invalid(f"at most {self.limits.max_properties} properties per element")
        if isinstance(op.value, str) and len(op.value) > self.limits.max_text_length:
            raise OpRefused(Code.RESOURCE_EXHAUSTED, "VALUE_TOO_LARGE", "text too long")
        old = el.properties.get(op.key)
        before = property_wire_size(op.key, old) if had else 0
        delta = (0 if op.value is None else property_wire_size(op.key, op.value)) - before
        self._grow(delta)
        if op.value is None:
            el.properties.pop(op.key, None)
        else:
            el.properties[op.key] = copy.deepcopy(op.value)
        self.wire_bytes += delta

        def undo() -> None:
            if had:
                el.properties[op.key] = old
            else:
                el.properties.pop(op.key, None)
            self.wire_bytes -= delta

        return undo

    def _move(self, op: MoveElement) -> Undo:
        el = self.live(op.element_id)
        self._check_position(op.position)
        self._check_parent(op.parent_id)
        if op.element_id in self.ancestors(op.parent_id):
            raise OpRefused(
                Code.FAILED_PRECONDITION, "CYCLE", "an element cannot move into itself or its descendants"
            )
        old_parent, old_position = el.parent_id, el.position
        delta = sum(_field(len(new.encode())) - _field(len(was.encode())) for new, was in (
            (op.parent_id, old_parent), (op.position, old_position)))  # fmt: skip
        self._grow(delta)
        el.parent_id, el.position = op.parent_id, op.position
        self.wire_bytes += delta

        def undo() -> None:
            el.parent_id, el.position = old_parent, old_position
            self.wire_bytes -= delta

        return undo

    def _edit(self, op: EditText) -> Undo:
        self._check_id("property key", op.key, self.limits.max_key_length)
        text = self.text(op.element_id, op.key)
        try:
            new = textop.apply(text, op.components)
        except textop.TextOpError as exc:
            raise OpRefused(Code.OUT_OF_RANGE, "OUT_OF_RANGE", str(exc)) from None
        if len(new) > self.limits.max_text_length:
            raise OpRefused(
                Code.RESOURCE_EXHAUSTED,
                "VALUE_TOO_LARGE",
                f"the text would be {len(new)} code points; at most {self.limits.max_text_length}",
            )
        el = self.elements[op.element_id]
        had = op.key in el.properties
        delta = property_wire_size(op.key, new) - (property_wire_size(op.key, text) if had else 0)
        self._grow(delta)
        el.properties[op.key] = new
        self.wire_bytes += delta

        def undo() -> None:
            if had:
                el.properties[op.key] = text
            else:
                el.properties.pop(op.key, None)
            self.wire_bytes -= delta

        return undo

    # -- snapshots ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot, tombstones included (they keep ids from being reused)."""
        return {
            "document_id": self.document_id,
            "version": self.version,
            "elements": [
                [
                    e.element_id,
                    e.parent_id,
                    e.kind,
                    e.position,
                    e.properties,
                    e.created_by,
                    e.created_version,
                    e.deleted,
                ]
                for e in self.elements.values()
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], limits: Limits | None = None) -> Document:
        doc = cls(str(data["document_id"]), int(data["version"]), limits=limits or Limits())
        for row in data["elements"]:
            el = Element(row[0], row[1], row[2], row[3], dict(row[4]), row[5], int(row[6]), bool(row[7]))
            doc.elements[el.element_id] = el
        doc.recount()
        return doc

    def copy(self) -> Document:
        return Document.from_dict(copy.deepcopy(self.to_dict()), self.limits)

    def content(self) -> list[tuple[str, str, str, str, dict[str, JSON]]]:
        """The live content in canonical order (what replicas compare to converge)."""
        return [(e.element_id, e.parent_id, e.kind, e.position, e.properties) for e in self.ordered()]
