"""Which document store a hub uses (`--document-store`), and version history over it."""

from __future__ import annotations

from ..broker.base import Broker
from .store import SnapshotStore
from .store_broker import BrokerSnapshotStore
from .store_pg import PostgresStore


async def open_store(setting: str, broker: Broker | None, shared: bool) -> SnapshotStore | None:
    """The store for `setting`: PostgreSQL for a postgresql:// URL, else the broker's store when
    replicas share one (`shared`), else None (the directory's in-memory store).

    A PostgreSQL that cannot be reached raises ValueError with a one-line reason (a startup error).
    """
    if setting.startswith(("postgresql://", "postgres://")):
        return await PostgresStore.connect(setting)
    if shared and broker is not None:
        return BrokerSnapshotStore(broker)
    return None
