"""Where document descriptions and snapshots are kept between restarts.

`SnapshotStore` is the interface; `MemorySnapshotStore` is the default (one
process, gone on restart). A store keeps, per document, its description
(title, owner, members) and the sequencer state (document with tombstones,
client table) as JSON-able dicts.

`SaveSchedule` is the debounce rule for snapshots (after Hocuspocus): save once
the document has been quiet for `debounce` seconds, but never later than
`max_wait` seconds after the first unsaved change.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


class SnapshotStore(ABC):
    @abstractmethod
    async def load(self, document_id: str) -> dict[str, Any] | None:
        """The last saved sequencer state, or None."""

    @abstractmethod
    async def save(self, document_id: str, state: dict[str, Any]) -> None:
        """Replace the saved state (the caller passes a state it will not mutate)."""

    @abstractmethod
    async def load_meta(self, document_id: str) -> dict[str, Any] | None:
        """The document description, or None when there is no such document."""

    @abstractmethod
    async def save_meta(self, document_id: str, meta: dict[str, Any]) -> None:
        """Create or replace the document description."""

    async def create_meta(self, document_id: str, meta: dict[str, Any]) -> bool:
        """Store the description of a NEW document; False (nothing written) when it exists.
        Stores shared by replicas override this with an atomic compare-and-set."""
        if await self.load_meta(document_id) is not None:
            return False
        await self.save_meta(document_id, meta)
        return True

    @abstractmethod
    async def list_metas(self) -> list[dict[str, Any]]:
        """Every document description."""

    @abstractmethod
    async def delete(self, document_id: str) -> None:
        """Forget the document (description and state)."""


class MemorySnapshotStore(SnapshotStore):
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.metas: dict[str, dict[str, Any]] = {}
        self.saves = 0

    async def load(self, document_id: str) -> dict[str, Any] | None:
        state = self.states.get(document_id)
        return copy.deepcopy(state) if state is not None else None

    async def save(self, document_id: str, state: dict[str, Any]) -> None:
        self.states[document_id] = state
        self.saves += 1

    async def load_meta(self, document_id: str) -> dict[str, Any] | None:
        meta = self.metas.get(document_id)
        return copy.deepcopy(meta) if meta is not None else None

    async def save_meta(self, document_id: str, meta: dict[str, Any]) -> None:
        self.metas[document_id] = copy.deepcopy(meta)

    async def list_metas(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(m) for m in self.metas.values()]

    async def delete(self, document_id: str) -> None:
        self.states.pop(document_id, None)
        self.metas.pop(document_id, None)


@dataclass
class SaveSchedule:
    debounce: float
    max_wait: float
    first_dirty: float | None = None
    last_dirty: float | None = None

    def mark(self, now: float) -> None:
        if self.first_dirty is None:
            self.first_dirty = now
        self.last_dirty = now

    @property
    def dirty(self) -> bool:
        return self.first_dirty is not None

    def due_at(self) -> float | None:
        """When the next save is due (None: nothing to save)."""
        if self.first_dirty is None or self.last_dirty is None:
            return None
        return min(self.last_dirty + self.debounce, self.first_dirty + self.max_wait)

    def saved(self) -> None:
        self.first_dirty = self.last_dirty = None
