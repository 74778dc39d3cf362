"""A client's copy of a document (what a client library keeps; used by the CLI, tests and bench).

It holds the `confirmed` state (the server's operations applied in version
order) and the client's own unacknowledged operations: the `inflight` batch
(sent, at most one at a time) and the `buffer` (not sent yet). The local view
is the confirmed state with the pending operations on top.

When another author's operation arrives, pending text edits of the same
property are rebased over it with the same transform, in the same order, as
the sequencer uses, so when the acknowledgement of a pending operation comes
back it matches what the client already shows (the ShareDB/Jupiter scheme).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from . import textop
from .document import Document
from .ops import Applied, ClientOp, EditText, Op, OpRefused, SetProperty


@dataclass(frozen=True, slots=True)
class NotRebased:
    """A pending operation the client could not carry onto a new snapshot (with why)."""

    op: ClientOp
    reason: str
    message: str


class Replica:
    def __init__(self, client_id: str, document_id: str = "") -> None:
        self.client_id = client_id
        self.confirmed = Document(document_id)
        self.inflight: list[ClientOp] = []
        self.buffer: list[ClientOp] = []
        self.next_seq = 1
        self.applied_count = 0
        #: Set when an operation from the server did not fit (or a version was skipped): the
        #: confirmed state is no longer trustworthy, so the client must rejoin WITHOUT
        #: since_version; `load` then rebases the pending operations onto the snapshot.
        self.out_of_sync: str | None = None
        self._resend = 0  # the size of the batch to resend first after a reconnect

    @property
    def version(self) -> int:
        return self.confirmed.version

    @property
    def pending(self) -> list[ClientOp]:
        return self.inflight + self.buffer

    # -- local edits -----------------------------------------------------------------------------
    def local(self, op: Op) -> ClientOp:
        cop = ClientOp(self.next_seq, op)
        self.next_seq += 1
        self.buffer.append(cop)
        return cop

    def take_batch(self, limit: int = 200) -> tuple[int, list[ClientOp]] | None:
        """The next batch to send (base version, operations), or None while one is in flight."""
        if self.inflight or not self.buffer or self.out_of_sync is not None:
            return None
        if self._resend:  # a batch sent before a reconnect goes again exactly as it was cut
            limit, self._resend = min(limit, self._resend), 0
        self.inflight, self.buffer = self.buffer[:limit], self.buffer[limit:]
        return self.version, list(self.inflight)

    # -- from the server ---------------------------------------------------------------------------
    def load(
        self, snapshot: Document | None, tail: Iterable[Applied], last_client_seq: int | None = None
    ) -> list[NotRebased]:
        """Apply a join answer: a snapshot (replaces the confirmed state) and/or a replay.

        With a snapshot, pending operations the server already applied (`last_client_seq`) are
        dropped and the others are rebased onto it: text edits are transformed over the change
        between the old and the new text, so offline typing survives a compacted log. What
        cannot be carried over is returned (and never sent)."""
        if snapshot is None:
            for applied in tail:
                self.receive(applied)
            return []
        # The server's current state is the snapshot plus the tail: rebase onto that (the tail
        # may hold operations of ours that `last_client_seq` already counts as applied).
        current = snapshot.copy()
        for applied in tail:
            if applied.version == current.version + 1:
                try:
                    current.apply(applied.op, applied.author, applied.version)
                except OpRefused as exc:
                    self.out_of_sync = f"the replay does not apply to the snapshot: {exc.message}"
                    return []
                current.version = applied.version
        # Our operations the server applied are in `current`; the later pending ones were made
        # on top of them as we had them, so the rebase starts from our state with them applied.
        old = self.confirmed.copy()
        if last_client_seq is not None:
            for cop in self.pending:
                if cop.client_seq <= last_client_seq:
                    with contextlib.suppress(OpRefused):
                        old.apply(cop.op)
            self._ack(last_client_seq)
        refused = self._rebase_onto(old, current)
        self.confirmed = current
        self.out_of_sync = None
        return refused

    def receive(self, applied: Applied) -> None:
        """Apply one sequenced operation (ours = acknowledgement; others' = rebase our pending).

        Never raises: an operation that does not fit marks the replica `out_of_sync`."""
        if self.out_of_sync is not None or applied.version <= self.version:
            return  # already have it (a replay overlapping what we saw live), or resyncing
        if applied.version != self.version + 1:
            self.out_of_sync = f"gap: have version {self.version}, got {applied.version}"
            return
        try:
            self.confirmed.apply(applied.op, applied.author, applied.version)
        except OpRefused as exc:
            self.out_of_sync = f"version {applied.version} does not apply here: {exc.message}"
            return
        self.confirmed.version = applied.version
        self.applied_count += 1
        if applied.client_id == self.client_id:
            self._ack(applied.client_seq)
        else:
            self._rebase(applied.op)

    def rejected(self, client_seqs: Iterable[int]) -> None:
        gone = set(client_seqs)
        self.inflight = [c for c in self.inflight if c.client_seq not in gone]
        self.buffer = [c for c in self.buffer if c.client_seq not in gone]

    def refused(self, rejections: Iterable[tuple[int, str]]) -> list[int]:
        """A batch was refused: (client_seq, reason) per operation; returns the seqs dropped.

        A batch refused only because its base version fell behind the server's kept log
        (STALE_BASE_VERSION, and the BATCH_ABORTED rest of it) is not lost: it goes back to
        the front of the buffer and the replica asks for a snapshot (`out_of_sync`), onto
        which `load` rebases it."""
        reasons = dict(rejections)
        if reasons and set(reasons.values()) <= {"STALE_BASE_VERSION", "BATCH_ABORTED"}:
            if "STALE_BASE_VERSION" in reasons.values():
                self.reconnected()
                self.out_of_sync = "the batch's base version is older than the server's log"
                return []
        self.rejected(reasons)
        return sorted(reasons)

    def duplicate(self, client_seqs: Iterable[int]) -> None:
        """The server had applied these before (we saw them, or will in a replay), or they
        became no-ops against concurrent edits (absorbed): either way they are done."""
        self.rejected(client_seqs)

    def reconnected(self) -> None:
        """The stream was lost: what was in flight is sent again (the server de-duplicates).

        It goes again as one batch of its own: the server applies a batch whole or not at all,
        so the resend is then wholly a duplicate or wholly new, never a mix whose new part
        would be rebased over our own already-applied operations."""
        if self.inflight:
            self._resend = len(self.inflight)
        self.buffer = self.inflight + self.buffer
        self.inflight = []

    def _ack(self, client_seq: int) -> None:
        # The server applies a client's operations in client_seq order and never goes back, so
        # everything up to an acknowledged one is settled (applied, absorbed or answered).
        self.inflight = [c for c in self.inflight if c.client_seq > client_seq]
        self.buffer = [c for c in self.buffer if c.client_seq > client_seq]

    def _rebase(self, op: Op) -> None:
        if not isinstance(op, EditText):
            return
        key = (op.element_id, op.key)
        remote = op.components
        for lst in (self.inflight, self.buffer):
            for i, cop in enumerate(lst):
                mine = cop.op
                if isinstance(mine, SetProperty) and (mine.element_id, mine.key) == key:
                    return  # our pending set replaces the text: the remote edit stops mattering
                if isinstance(mine, EditText) and (mine.element_id, mine.key) == key:
                    remote, rebased = textop.transform(remote, mine.components)
                    lst[i] = ClientOp(cop.client_seq, EditText(mine.element_id, mine.key, rebased))
        # An unsent edit that became a no-op (someone deleted the same text) is not sent at all.
        self.buffer = [c for c in self.buffer if not _empty_edit(c.op)]

    def _rebase_onto(self, old: Document, new: Document) -> list[NotRebased]:
        """Rebase every pending text edit over (old text -> new text) per property."""
        concurrent: dict[tuple[str, str], textop.TextOp] = {}
        replaced: set[tuple[str, str]] = set()
        kept: list[ClientOp] = []
        refused: list[NotRebased] = []
        for cop in self.pending:
            op = cop.op
            key = (op.element_id, op.key) if isinstance(op, (EditText, SetProperty)) else None
            if isinstance(op, SetProperty):
                replaced.add((op.element_id, op.key))
            if not isinstance(op, EditText) or key in replaced:
                kept.append(cop)
                continue
            assert key is not None
            change = concurrent.get(key)
            if change is None:
                if key[0] not in old.elements:
                    change = ()  # created by one of our pending operations: nobody else edited it
                else:
                    try:
                        change = textop.diff(_text_or_none(old, key) or "", new.text(*key))
                    except OpRefused as exc:  # deleted, or replaced by a value that is not text
                        refused.append(NotRebased(cop, exc.reason, exc.message))
                        continue
            change, mine = textop.transform(change, op.components)
            concurrent[key] = change
            if mine:
                kept.append(ClientOp(cop.client_seq, EditText(op.element_id, op.key, mine)))
        self.inflight, self.buffer = [], kept
        return refused

    # -- reading ----------------------------------------------------------------------------------
    def view(self) -> Document:
        """The confirmed state with our pending operations on top (those that still apply)."""
        doc = self.confirmed.copy()
        for cop in self.pending:
            try:
                doc.apply(cop.op)
            except OpRefused:
                pass
        return doc


def _empty_edit(op: Op) -> bool:
    return isinstance(op, EditText) and not op.components


def _text_or_none(doc: Document, key: tuple[str, str]) -> str | None:
    try:
        return doc.text(*key)
    except OpRefused:
        return None
