"""Undo and redo per participant, on the client (after Yjs's UndoManager).

Client-side, not a server command: the stacks belong to one person's editing
session, the inverse of an operation is just another operation, and the server
already knows how to sequence, transform, acknowledge and journal operations, so
an undo sent as a normal `op` needs no new contract, works through a replica
relay, survives an owner failover and is de-duplicated like any other edit. A
server-side `undo` would have to keep per-client stacks on the owning replica and
move them on failover, for no gain.

How (the ordering matters where people type at the same place): an item on
the undo or redo stack is first tied to the user's own pending operation; when
the server acknowledges that operation, its inverse is computed from the form the
server applied, against the confirmed text it was applied to, and from then on
every later confirmed operation (anyone's, in version order) transforms the
inverse forward with the sequencer's text transform. `undo()` moves the inverse
over the user's still-pending edits onto the text the user sees, and sends it as a
normal operation (whose own inverse goes on the redo stack). So an undo removes
exactly the user's own change even after others typed around or inside it, and
leaves their text alone. A new edit clears the redo stack.

Covered: text edits (`EditText`) and property values (`SetProperty`, whose inverse
restores the value the user replaced). Creating, deleting and moving elements are
not recorded: element ids are never reused, so a deleted element cannot come back
as itself. An inverse that became empty (someone else already deleted the text
the user typed) is skipped; when nothing is left, `undo()` returns None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from . import textop
from .document import Document
from .ops import JSON, Applied, ClientOp, EditText, Op, OpRefused, SetProperty
from .replica import NotRebased, Replica

#: Changes remembered per participant (the oldest are forgotten first).
DEFAULT_LIMIT = 100


@dataclass
class _Item:
    """How to undo one change: tied to a pending operation (`origin`) until the server applies it."""

    element_id: str
    key: str
    origin: int = 0  # the client_seq of the pending operation it undoes (0 once confirmed)
    text: textop.TextOp | None = None  # confirmed: the inverse text edit, or
    value: JSON = None  # confirmed: the value to restore (when text is None)
    is_text: bool = True


def invert(components: Iterable[textop.Component], text: str) -> textop.TextOp:
    """The edit that takes `apply(text, components)` back to `text`."""
    out: list[textop.Component] = []
    pos = 0
    for c in components:
        if isinstance(c, str):
            out.append(-len(c))
        elif c > 0:
            out.append(c)
            pos += c
        else:
            out.append(text[pos : pos - c])
            pos -= c
    return textop.normalize(out)


class UndoManager:
    """Wraps a Replica: route the user's edits and the server's operations through it."""

    def __init__(self, replica: Replica, limit: int = DEFAULT_LIMIT) -> None:
        self.replica = replica
        self.limit = limit
        self.undo_stack: list[_Item] = []
        self.redo_stack: list[_Item] = []

    # -- the user's own changes -------------------------------------------------------------------
    def edit(self, op: Op) -> ClientOp:
        """A change the user made: remember how to undo it, then queue it like any local edit."""
        self.redo_stack.clear()
        return self._local(op, self.undo_stack)

    def undo(self) -> ClientOp | None:
        """Queue the inverse of the user's last change still worth undoing; None if there is none."""
        return self._pop(self.undo_stack, self.redo_stack)

    def redo(self) -> ClientOp | None:
        """Queue the inverse of the last undo; None if there is none."""
        return self._pop(self.redo_stack, self.undo_stack)

    def _pop(self, source: list[_Item], target: list[_Item]) -> ClientOp | None:
        while source:
            op = self._on_view(source.pop())
            if op is not None and self._applies(op):
                return self._local(op, target)
        return None

    def _local(self, op: Op, stack: list[_Item]) -> ClientOp:
        cop = self.replica.local(op)
        if isinstance(op, (EditText, SetProperty)):
            stack.append(
                _Item(op.element_id, op.key, origin=cop.client_seq, is_text=isinstance(op, EditText))
            )
            del stack[: max(0, len(stack) - self.limit)]
        return cop

    def _applies(self, op: Op) -> bool:
        try:
            self.replica.view().apply(op)
        except OpRefused:
            return False  # e.g. the element was deleted meanwhile
        return True

    def _on_view(self, item: _Item) -> Op | None:
        """The item's inverse as an operation on the text the user sees now (None: nothing to undo)."""
        pending = self.replica.pending
        key = (item.element_id, item.key)
        start = 0
        if item.origin:  # still pending: invert its current (rebased) form against the text before it
            index = next((i for i, c in enumerate(pending) if c.client_seq == item.origin), None)
            if index is None:
                return None
            doc = self.replica.confirmed.copy()
            for cop in pending[:index]:
                with contextlib.suppress(OpRefused):
                    doc.apply(cop.op)
            inverse = _inverse(pending[index].op, doc)
            if inverse is None:
                return None
            item = inverse
            start = index + 1
        if not item.is_text:
            return SetProperty(item.element_id, item.key, item.value)
        text = item.text or ()
        for cop in pending[start:]:
            mine = cop.op
            if isinstance(mine, EditText) and (mine.element_id, mine.key) == key:
                _, text = textop.transform(mine.components, text)
            elif isinstance(mine, SetProperty) and (mine.element_id, mine.key) == key:
                return None  # the user replaced the text since
        return EditText(item.element_id, item.key, text) if text else None

    # -- everyone's changes -------------------------------------------------------------------------
    def receive(self, applied: Applied) -> None:
        """An operation from the server (call instead of `replica.receive`)."""
        if self.replica.out_of_sync is not None or applied.version != self.replica.version + 1:
            self.replica.receive(applied)  # a replay overlap (ignored) or a gap (out of sync)
            return
        before = self.replica.confirmed
        inverse = _inverse(applied.op, before) if applied.client_id == self.replica.client_id else None
        self._confirmed(applied.op)
        if inverse is not None:
            for stack in (self.undo_stack, self.redo_stack):
                for i, item in enumerate(stack):
                    if item.origin == applied.client_seq:
                        stack[i] = inverse
        self.replica.receive(applied)

    def load(
        self, snapshot: Document | None, tail: Iterable[Applied], last_client_seq: int | None = None
    ) -> list[NotRebased]:
        """A join answer (call instead of `replica.load`); returns what could not be rebased.

        A snapshot replaces what the confirmed inverses refer to, so they are forgotten; an item
        still tied to a pending operation the replica carried onto the snapshot is kept (its
        inverse is computed from that operation's rebased form once the server applies it)."""
        if snapshot is None:
            for applied in tail:
                self.receive(applied)
            return []
        refused = self.replica.load(snapshot, tail, last_client_seq)
        pending = {c.client_seq for c in self.replica.pending}
        for stack in (self.undo_stack, self.redo_stack):
            stack[:] = [i for i in stack if i.origin and i.origin in pending]
        return refused

    def rejected(self, client_seqs: Iterable[int]) -> None:
        """The server refused these operations (call instead of `replica.rejected`)."""
        gone = set(client_seqs)
        self._forget(gone)
        self.replica.rejected(gone)

    def refused(self, rejections: Iterable[tuple[int, str]]) -> list[int]:
        """A refused batch (call instead of `replica.refused`); returns the seqs dropped."""
        dropped = self.replica.refused(rejections)
        self._forget(set(dropped))
        return dropped

    def _forget(self, gone: set[int]) -> None:
        for stack in (self.undo_stack, self.redo_stack):
            stack[:] = [i for i in stack if i.origin not in gone]

    def _confirmed(self, op: Op) -> None:
        """`op` was applied to the confirmed state: move the confirmed inverses over it."""
        if isinstance(op, SetProperty):
            # the text was replaced: inverses of edits to the old text mean nothing now
            for stack in (self.undo_stack, self.redo_stack):
                stack[:] = [
                    i
                    for i in stack
                    if i.origin or not i.is_text or (i.element_id, i.key) != (op.element_id, op.key)
                ]
            return
        if not isinstance(op, EditText):
            return  # a deleted element: an undo aimed at it is skipped when it comes up (_applies)
        for stack in (self.undo_stack, self.redo_stack):
            for item in stack:
                if (
                    not item.origin
                    and item.is_text
                    and (item.element_id, item.key) == (op.element_id, op.key)
                ):
                    _, item.text = textop.transform(op.components, item.text or ())


def _inverse(op: Op, before: Document) -> _Item | None:
    """The confirmed item undoing `op`, applied to `before` (None: not undoable, or refused)."""
    try:
        if isinstance(op, EditText):
            text = invert(op.components, before.text(op.element_id, op.key))
            return _Item(op.element_id, op.key, text=text)
        if isinstance(op, SetProperty):
            old = before.live(op.element_id).properties.get(op.key)
            return _Item(op.element_id, op.key, value=old, is_text=False)
    except OpRefused:
        return None
    return None
