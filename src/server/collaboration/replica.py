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

from collections.abc import Iterable

from . import textop
from .document import Document
from .ops import Applied, ClientOp, EditText, Op, OpRefused, SetProperty


class Replica:
    def __init__(self, client_id: str, document_id: str = "") -> None:
        self.client_id = client_id
        self.confirmed = Document(document_id)
        self.inflight: list[ClientOp] = []
        self.buffer: list[ClientOp] = []
        self.next_seq = 1
        self.applied_count = 0
        # After a snapshot replaced our state, pending operations up to this sequence
        # number cannot be rebased here: they are sent with their old base version so the
        # sequencer refuses what depends on it (text edits: STALE_BASE_VERSION).
        self._stale: tuple[int, int] | None = None  # (last stale client_seq, old base version)

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
        if self.inflight or not self.buffer:
            return None
        base = self.version
        if self._stale is not None:
            last_stale, base = self._stale
            self._stale = None
            limit = min(limit, sum(1 for c in self.buffer if c.client_seq <= last_stale)) or limit
        self.inflight, self.buffer = self.buffer[:limit], self.buffer[limit:]
        return base, list(self.inflight)

    # -- from the server ---------------------------------------------------------------------------
    def load(self, snapshot: Document | None, tail: Iterable[Applied]) -> None:
        """Apply a join answer: a snapshot (replaces the confirmed state) and/or a replay."""
        if snapshot is not None:
            if self.pending:
                self._stale = (self.pending[-1].client_seq, self.version)
            self.confirmed = snapshot.copy()
        for applied in tail:
            self.receive(applied)

    def receive(self, applied: Applied) -> None:
        """Apply one sequenced operation (ours = acknowledgement; others' = rebase our pending)."""
        if applied.version <= self.version:
            return  # already have it (a replay overlapping what we saw live)
        if applied.version != self.version + 1:
            raise ValueError(f"gap: have version {self.version}, got {applied.version}")
        self.confirmed.apply(applied.op, applied.author, applied.version)
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

    def duplicate(self, client_seqs: Iterable[int]) -> None:
        """The server had applied these before (we saw them, or will in a replay)."""
        self.rejected(client_seqs)

    def reconnected(self) -> None:
        """The stream was lost: what was in flight is sent again (the server de-duplicates)."""
        self.buffer = self.inflight + self.buffer
        self.inflight = []

    def _ack(self, client_seq: int) -> None:
        self.inflight = [c for c in self.inflight if c.client_seq != client_seq]
        self.buffer = [c for c in self.buffer if c.client_seq != client_seq]

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
