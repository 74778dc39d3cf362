"""Version history: every applied operation with its author and time, and a document at any version.

Two kinds of store:

- A `HistoryStore` (PostgreSQL) keeps every operation forever plus checkpoints (a
  saved document every `CHECKPOINT_EVERY` versions), so any version can be rebuilt.
  Operations reach it off the live path: `OpLog` collects each live document's
  applied operations and writes them with the debounced snapshot save; while the
  store is down they wait in memory (bounded) and are written when it is back.
- Any other store (the broker's, the in-memory one) keeps no history of its own:
  the history is what the live log holds (the document's sequencer log, after its
  floor; with several replicas, the broker's op journal). Versions older than that
  answer FAILED_PRECONDITION `VERSION_NOT_KEPT` naming the oldest version kept.

This module is plain Python (no grpc): `service.py` adapts it.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.common.collaboration.document import Document
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

from ..platform.errors import Code, HubError, invalid_argument
from .sequencer import Sequencer

log = logging.getLogger("realtime.collaboration")

#: Versions between two checkpoints in a HistoryStore (bounds the replay for an old version).
CHECKPOINT_EVERY = 500
#: Operations one document may hold in memory while the history store is down.
MAX_PENDING = 200_000
#: Versions per ListVersions page: default and maximum.
DEFAULT_PAGE, MAX_PAGE = 50, 1000


class HistoryStore(ABC):
    """A document store that also keeps every operation (a version history)."""

    @abstractmethod
    async def append_ops(self, document_id: str, applied: Sequence[Applied]) -> None:
        """Add operations to the log (idempotent: a version already kept is left as it is)."""

    @abstractmethod
    async def last_logged(self, document_id: str) -> int:
        """The highest version in the log (0: none)."""

    @abstractmethod
    async def read_ops(self, document_id: str, after: int, until: int) -> list[Applied]:
        """The logged operations with after < version <= until, in version order."""

    @abstractmethod
    async def newest_ops(self, document_id: str, below: int, limit: int) -> list[Applied]:
        """At most `limit` logged operations with version < below, newest first."""

    @abstractmethod
    async def checkpoint(self, document_id: str, version: int) -> dict[str, Any] | None:
        """The newest checkpoint (a sequencer state) at or before `version`, or None."""

    @abstractmethod
    async def last_checkpoint(self, document_id: str) -> int:
        """The version of the newest checkpoint (0: none)."""

    @abstractmethod
    async def save_checkpoint(self, document_id: str, version: int, state: dict[str, Any]) -> None:
        """Keep a checkpoint of the document at `version`."""


class OpLog:
    """Collects live documents' applied operations and writes them to a HistoryStore."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.logged: dict[str, int] = {}  # document id -> highest version written
        self.pending: dict[str, list[Applied]] = {}
        self.checkpointed: dict[str, int] = {}
        self.dropped = 0

    async def opened(self, document_id: str, seq: Sequencer) -> None:
        """A document went live: what its log holds beyond the store's history is pending."""
        last = await self.store.last_logged(document_id)
        self.logged[document_id] = last
        self.pending[document_id] = [a for a in seq.log if a.version > last]
        self.checkpointed[document_id] = await self.store.last_checkpoint(document_id)

    def collect(self, document_id: str, seq: Sequencer) -> None:
        """After a change: queue the operations not seen yet (the just-applied batch is in the log)."""
        pending = self.pending.setdefault(document_id, [])
        seen = pending[-1].version if pending else self.logged.get(document_id, 0)
        for a in seq.log:
            if a.version > seen:
                pending.append(a)
        if len(pending) > MAX_PENDING:
            cut = len(pending) - MAX_PENDING
            self.dropped += cut
            log.error("history of %s: store down too long, %d operations not kept", document_id, cut)
            del pending[:cut]

    async def flush(self, document_id: str, state: dict[str, Any]) -> None:
        """Write the pending operations (and a checkpoint when one is due); raises when the store is down."""
        pending = self.pending.get(document_id, [])
        if pending:
            batch = list(pending)
            await self.store.append_ops(document_id, batch)
            del pending[: len(batch)]
            self.logged[document_id] = batch[-1].version
        version = int(state["doc"]["version"])
        if version - self.checkpointed.get(document_id, 0) >= CHECKPOINT_EVERY:
            await self.store.save_checkpoint(document_id, version, state)
            self.checkpointed[document_id] = version

    def forget(self, document_id: str) -> None:
        for table in (self.logged, self.pending, self.checkpointed):
            table.pop(document_id, None)


def summary(op: Op) -> str:
    """One line a person reads in a history list."""
    if isinstance(op, CreateElement):
        return f"create {op.kind} {op.element_id}"
    if isinstance(op, DeleteElement):
        return f"delete {op.element_id}"
    if isinstance(op, SetProperty):
        return f"set {op.element_id}.{op.key}" if op.value is not None else f"unset {op.element_id}.{op.key}"
    if isinstance(op, MoveElement):
        return f"move {op.element_id}"
    if isinstance(op, EditText):
        added = sum(len(c) for c in op.components if isinstance(c, str))
        removed = sum(-c for c in op.components if isinstance(c, int) and c < 0)
        return f"edit {op.element_id}.{op.key} +{added} -{removed}"
    if isinstance(op, Malformed):
        return "malformed"
    return type(op).__name__


@dataclass
class VersionPage:
    versions: list[Applied]  # newest first
    next_below: int  # 0: no more
    oldest: int  # the oldest version whose document can be rebuilt
    current: int


def not_kept(version: int, oldest: int) -> HubError:
    return HubError(
        Code.FAILED_PRECONDITION,
        f"version {version} is no longer kept; the oldest version kept is {oldest}",
        reason="VERSION_NOT_KEPT",
    )


def _replay(base: Document, ops: Sequence[Applied], version: int) -> Document:
    doc = base.copy()
    for a in ops:
        if a.version <= doc.version:
            continue
        if a.version > version:
            break
        if a.version != doc.version + 1:
            raise ValueError(f"history has a gap before version {a.version}")
        doc.apply(a.op, a.author, a.version)
        doc.version = a.version
    if doc.version != version:
        raise ValueError(f"history ends at version {doc.version}, before {version}")
    return doc


#: The recent operations of a document and the document they start from:
#: (base document, operations after it, current version).
Recent = tuple[Document | None, list[Applied], int]


class VersionHistory:
    """Answers ListVersions and GetDocument-at-a-version for one hub replica."""

    def __init__(self, store: Any, recent: Callable[[str], Awaitable[Recent]]) -> None:
        self.store = store if isinstance(store, HistoryStore) else None
        self._recent = recent

    @staticmethod
    def page_size(size: int) -> int:
        size = size or DEFAULT_PAGE
        if not 0 < size <= MAX_PAGE:
            raise invalid_argument(
                f"page_size must be 1-{MAX_PAGE} (0 means {DEFAULT_PAGE})", [("page_size", "out of range")]
            )
        return size

    @staticmethod
    def parse_token(token: str) -> int | None:
        if not token:
            return None
        if not token.isdigit() or len(token) > 20:
            raise invalid_argument("page_token is not one this service gave", [("page_token", "invalid")])
        return int(token)

    async def list_versions(self, document_id: str, size: int, token: str) -> VersionPage:
        size = self.page_size(size)
        below_token = self.parse_token(token)
        base, recent, current = await self._recent(document_id)
        below = current + 1 if below_token is None else below_token
        newest = [a for a in reversed(recent) if a.version < below][:size]
        oldest = base.version if base is not None else current
        if self.store is not None:
            logged_below = min(below, recent[0].version) if recent else below
            if len(newest) < size:
                newest += await self.store.newest_ops(document_id, logged_below, size - len(newest))
            oldest = 0
        nxt = newest[-1].version if len(newest) == size and newest[-1].version > 1 else 0
        return VersionPage(newest, nxt, oldest, current)

    async def document_at(self, document_id: str, version: int) -> Document:
        base, recent, current = await self._recent(document_id)
        if version > current:
            raise HubError(
                Code.OUT_OF_RANGE,
                f"version {version} is beyond the current version {current}",
                reason="VERSION_FROM_FUTURE",
            )
        if base is not None and version >= base.version:
            try:
                return await asyncio.to_thread(_replay, base, recent, version)
            except ValueError:
                raise not_kept(version, current) from None
        if self.store is None:
            raise not_kept(version, base.version if base is not None else current)
        state = await self.store.checkpoint(document_id, version)
        start = Document.from_dict(state["doc"]) if state else Document(document_id)
        ops = await self.store.read_ops(document_id, start.version, version)
        ops += [a for a in recent if a.version > (ops[-1].version if ops else start.version)]
        try:
            return await asyncio.to_thread(_replay, start, ops, version)
        except ValueError:
            raise not_kept(version, current) from None
