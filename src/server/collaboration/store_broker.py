"""A SnapshotStore in the broker's key-value store, shared by every hub replica (Redis)."""

from __future__ import annotations

import json
from typing import Any

from ..broker.base import Broker, BrokerUnavailable
from .store import SnapshotStore

INDEX = "collab:index"


class BrokerSnapshotStore(SnapshotStore):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def load(self, document_id: str) -> dict[str, Any] | None:
        raw = await self.broker.kv_get(f"collab:state:{document_id}")
        return json.loads(raw) if raw is not None else None

    async def save(self, document_id: str, state: dict[str, Any]) -> None:
        await self.broker.kv_set(f"collab:state:{document_id}", json.dumps(state).encode())

    async def load_meta(self, document_id: str) -> dict[str, Any] | None:
        raw = await self.broker.kv_get(f"collab:meta:{document_id}")
        return json.loads(raw) if raw is not None else None

    async def save_meta(self, document_id: str, meta: dict[str, Any]) -> None:
        await self.broker.kv_set(f"collab:meta:{document_id}", json.dumps(meta).encode())
        await self._update_index(lambda ids: ids | {document_id})

    async def create_meta(self, document_id: str, meta: dict[str, Any]) -> bool:
        """Atomic: of replicas creating the same id at once, exactly one succeeds."""
        created = await self.broker.kv_set_if_absent(f"collab:meta:{document_id}", json.dumps(meta).encode())
        if created:
            await self._update_index(lambda ids: ids | {document_id})
        return created

    async def list_metas(self) -> list[dict[str, Any]]:
        out = []
        for document_id in sorted(await self._ids()):
            meta = await self.load_meta(document_id)
            if meta is not None:
                out.append(meta)
        return out

    async def delete(self, document_id: str) -> None:
        await self.broker.kv_delete(f"collab:meta:{document_id}")
        await self.broker.kv_delete(f"collab:state:{document_id}")
        await self.broker.remove_history(f"collab:log:{document_id}")
        await self.broker.kv_delete(f"collab:head:{document_id}")
        await self._update_index(lambda ids: ids - {document_id})

    async def _ids(self) -> set[str]:
        raw = await self.broker.kv_get(INDEX)
        return set(json.loads(raw)) if raw is not None else set()

    async def _update_index(self, change: Any) -> None:
        # compare-and-set loop: replicas creating documents at once do not lose each other's ids
        for _ in range(100):
            raw = await self.broker.kv_get(INDEX)
            ids = set(json.loads(raw)) if raw is not None else set()
            new = json.dumps(sorted(change(ids))).encode()
            if raw is None:
                if await self.broker.kv_set_if_absent(INDEX, new):
                    return
            elif await self.broker.kv_compare_and_set(INDEX, raw, new):
                return
        raise BrokerUnavailable("could not update the document index (too much contention)")
