"""The sequencer: one per document, the only writer.

It applies each accepted batch in order, gives every operation the next
version, keeps the recent log (for replay after reconnects and for rebasing
text edits made on an older version) and remembers, per client id, the last
sequence number applied so a resent batch is applied once.

Compaction: when the log grows past `log_limit`, the oldest operations are
folded into `floor` (the document at the log's first version) until `keep`
remain. A reconnect with a `since_version` older than the floor gets the floor
snapshot plus the whole log (snapshot + tail); a text edit based on a version
older than the floor cannot be rebased and is refused (STALE_BASE_VERSION).
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtime.common.collaboration import textop
from realtime.common.collaboration.document import Document, Undo
from realtime.common.collaboration.ops import (
    Applied,
    ClientOp,
    EditText,
    Op,
    OpRefused,
    Rejection,
    SetProperty,
)

from ..platform.errors import Code, HubError, invalid_argument

Guard = Callable[[Op], None]
MAX_CLIENTS = 10_000


@dataclass
class SubmitResult:
    applied: list[Applied] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    #: client_seqs applied before (a resend): acknowledged, not applied again.
    duplicate: list[int] = field(default_factory=list)
    #: client_seqs of text edits that became no-ops when rebased (e.g. both users deleted the
    #: same character): acknowledged, no version used, never broadcast.
    absorbed: list[int] = field(default_factory=list)


@dataclass
class Catchup:
    """What a (re)joining client needs: a snapshot (or None for a pure replay) and the tail."""

    snapshot: Document | None
    tail: list[Applied]
    version: int

    @property
    def recovered(self) -> bool:
        return self.snapshot is None


class Sequencer:
    def __init__(
        self,
        doc: Document,
        clients: dict[str, int] | None = None,
        *,
        log_limit: int = 1000,
        keep: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= keep < log_limit:
            raise ValueError("keep must be smaller than log_limit")
        self.doc = doc
        self.floor = doc.copy()
        self.log: deque[Applied] = deque()
        self.clients: OrderedDict[str, int] = OrderedDict(clients or {})
        self.log_limit = log_limit
        self.keep = keep
        self.clock = clock

    @property
    def version(self) -> int:
        return self.doc.version

    @property
    def floor_version(self) -> int:
        return self.floor.version

    # -- writing -----------------------------------------------------------------------
    def submit(
        self,
        author: str,
        client_id: str,
        base_version: int,
        ops: Sequence[ClientOp],
        guard: Guard | None = None,
    ) -> SubmitResult:
        """Apply the batch atomically, or reject every operation of it (document unchanged)."""
        if not ops:
            raise invalid_argument("an op command needs at least one operation", [("op.operations", "empty")])
        seqs = [c.client_seq for c in ops]
        if any(s <= 0 for s in seqs) or any(b <= a for a, b in itertools.pairwise(seqs)):
            return self._reject_all(
                ops, Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", "client_seq must be > 0 and increase"
            )
        last = self.clients.get(client_id, 0)
        if seqs[-1] <= last:
            return SubmitResult(duplicate=seqs)
        # A resend after a reconnect may start with operations applied before: those are
        # acknowledged as duplicates, the rest applied (refusing all would lose the new ones).
        duplicate = [s for s in seqs if s <= last]
        ops = [c for c in ops if c.client_seq > last]
        if duplicate and any(a.client_id == client_id and a.version > base_version for a in self.log):
            # The rest is relative to our own earlier operations as the client had them, but
            # they were applied after base_version: rebasing over the log would count them twice.
            return self._reject_all(
                ops,
                Code.FAILED_PRECONDITION,
                "STALE_BASE_VERSION",
                f"operations up to {last} of this client were applied after base_version "
                f"{base_version}; rejoin and resend the rest",
            )
        if base_version > self.version:
            return self._reject_all(
                ops,
                Code.OUT_OF_RANGE,
                "VERSION_FROM_FUTURE",
                f"base_version {base_version} is beyond the current version {self.version}",
            )
        undos: list[Undo] = []
        applied: list[Applied] = []
        absorbed: list[int] = []
        rebase = _Rebase(self, base_version)
        now = self.clock()
        for index, cop in enumerate(ops):
            version = self.version + 1
            try:
                op = rebase.transform(cop.op)
                if isinstance(op, EditText) and not op.components:
                    # Concurrent edits already did it: nothing to apply or to broadcast (an
                    # edit with no components is not a valid operation on the wire).
                    self.doc.text(op.element_id, op.key)  # still refused on a deleted element
                    absorbed.append(cop.client_seq)
                    continue
                if guard is not None:
                    guard(op)
                undos.append(self.doc.apply(op, author, version))
            except OpRefused as refused:
                for undo in reversed(undos):
                    undo()
                self.doc.version -= len(applied)
                return SubmitResult(rejected=_rejections(ops, index, refused), duplicate=duplicate)
            rebase.applied(op)
            self.doc.version = version
            applied.append(Applied(version, author, client_id, cop.client_seq, op, now))
        self.log.extend(applied)
        self.clients[client_id] = seqs[-1]
        self.clients.move_to_end(client_id)
        while len(self.clients) > MAX_CLIENTS:
            self.clients.popitem(last=False)
        self._compact()
        return SubmitResult(applied=applied, duplicate=duplicate, absorbed=absorbed)

    def _reject_all(self, ops: Sequence[ClientOp], code: Code, reason: str, message: str) -> SubmitResult:
        return SubmitResult(rejected=[Rejection(c.client_seq, code, reason, message) for c in ops])

    def load_applied(self, applied: Applied) -> None:
        """Apply an operation another owner already sequenced (failover replay); versions must follow."""
        if applied.version != self.version + 1:
            raise ValueError(f"expected version {self.version + 1}, got {applied.version}")
        self.doc.apply(applied.op, applied.author, applied.version)
        self.doc.version = applied.version
        self.log.append(applied)
        if applied.client_seq > self.clients.get(applied.client_id, 0):
            self.clients[applied.client_id] = applied.client_seq
        self._compact()

    def _compact(self) -> None:
        if len(self.log) <= self.log_limit:
            return
        while len(self.log) > self.keep:
            old = self.log.popleft()
            self.floor.apply(old.op, old.author, old.version)
            self.floor.version = old.version

    # -- reading -------------------------------------------------------------------------
    def since(self, version: int | None) -> Catchup:
        """Catch a client up from `version` (None: a first join, answered with a snapshot)."""
        if version is None:
            return Catchup(self.doc.copy(), [], self.version)
        if version > self.version:
            raise HubError(
                Code.OUT_OF_RANGE,
                f"since_version {version} is beyond the current version {self.version}",
                reason="VERSION_FROM_FUTURE",
            )
        if version >= self.floor_version:
            return Catchup(None, [a for a in self.log if a.version > version], self.version)
        return Catchup(self.floor.copy(), list(self.log), self.version)

    def state(self) -> dict[str, Any]:
        """What a snapshot store keeps: the document (with tombstones) and the client table.

        A copy: saves write it after awaits (operations first, then checkpoint and snapshot),
        while edits go on. `to_dict` hands out each element's live properties dict, so a
        state taken at version N would be written with the text of later versions (a
        checkpoint or snapshot ahead of its version). Property values are replaced, never
        changed in place, so copying the dicts is enough."""
        doc = self.doc.to_dict()
        for row in doc["elements"]:
            row[4] = dict(row[4])  # properties
        return {"doc": doc, "clients": dict(self.clients)}


class _Rebase:
    """Rebases one batch's text edits over the edits applied since its base version."""

    def __init__(self, seq: Sequencer, base: int) -> None:
        self._seq = seq
        self._base = base
        self._concurrent: dict[tuple[str, str], list[textop.TextOp]] = {}
        self._reset: set[tuple[str, str]] = set()

    def transform(self, op: Op) -> Op:
        if not isinstance(op, EditText):
            return op
        key = (op.element_id, op.key)
        if key in self._reset:
            return op  # set earlier in this batch: the edit is relative to that value
        concurrent = self._concurrent.get(key)
        if concurrent is None:
            concurrent = self._collect(key)
            self._concurrent[key] = concurrent
        x = op.components
        for i, c in enumerate(concurrent):
            concurrent[i], x = textop.transform(c, x)
        return EditText(op.element_id, op.key, x)

    def applied(self, op: Op) -> None:
        if isinstance(op, SetProperty):
            key = (op.element_id, op.key)
            self._reset.add(key)
            self._concurrent.pop(key, None)

    def _collect(self, key: tuple[str, str]) -> list[textop.TextOp]:
        seq = self._seq
        if self._base == seq.version:
            return []
        if self._base < seq.floor_version:
            raise OpRefused(
                Code.FAILED_PRECONDITION,
                "STALE_BASE_VERSION",
                f"base_version {self._base} is older than the log kept ({seq.floor_version}); "
                "rejoin and redo the edit",
            )
        found: list[textop.TextOp] = []
        for a in reversed(seq.log):
            if a.version <= self._base:
                break
            op = a.op
            if isinstance(op, EditText) and (op.element_id, op.key) == key:
                found.append(op.components)
            elif isinstance(op, SetProperty) and (op.element_id, op.key) == key:
                raise OpRefused(
                    Code.ABORTED,
                    "PROPERTY_REPLACED",
                    f"property {key[1]!r} was replaced at version {a.version}, "
                    f"after base_version {self._base}",
                )
        found.reverse()
        return found


def _rejections(ops: Sequence[ClientOp], failed: int, refused: OpRefused) -> list[Rejection]:
    out = []
    for i, cop in enumerate(ops):
        if i == failed:
            out.append(
                Rejection(cop.client_seq, refused.code, refused.reason, refused.message, refused.lease)
            )
        else:
            out.append(
                Rejection(
                    cop.client_seq,
                    Code.ABORTED,
                    "BATCH_ABORTED",
                    f"operation {ops[failed].client_seq} of the batch was refused ({refused.reason})",
                )
            )
    return out
