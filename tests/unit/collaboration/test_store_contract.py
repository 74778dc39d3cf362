"""The SnapshotStore contract, one suite on every store: in memory, the broker's, PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from realtime.common.collaboration.ops import Applied, CreateElement, EditText
from realtime.server.broker.memory import MemoryBroker
from realtime.server.collaboration.history import HistoryStore
from realtime.server.collaboration.store import MemorySnapshotStore, SnapshotStore
from realtime.server.collaboration.store_broker import BrokerSnapshotStore
from realtime.server.collaboration.store_pg import PostgresStore


@pytest.fixture(params=["memory", "broker", "postgresql"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SnapshotStore]:
    if request.param == "memory":
        yield MemorySnapshotStore()
    elif request.param == "broker":
        yield BrokerSnapshotStore(MemoryBroker())
    else:
        pg = await PostgresStore.connect(str(request.getfixturevalue("pg_url")))
        try:
            yield pg
        finally:
            await pg.close()


def state(version: int) -> dict:  # type: ignore[type-arg]
    return {"doc": {"document_id": "d", "version": version, "elements": []}, "clients": {"c": version}}


async def test_descriptions_snapshots_and_delete(store: SnapshotStore) -> None:
    doc = "doc-" + secrets.token_hex(4)
    assert await store.load(doc) is None and await store.load_meta(doc) is None
    meta = {
        "document_id": doc,
        "title": "T",
        "owner": "alice",
        "members": {"alice": "owner"},
        "created_at": 1.5,
    }
    assert await store.create_meta(doc, meta)  # a new id: created
    assert not await store.create_meta(doc, {**meta, "owner": "mallory"})  # exists: nothing written
    assert await store.load_meta(doc) == meta
    await store.save(doc, state(3))
    await store.save(doc, state(4))
    assert await store.load_meta(doc) == meta
    assert await store.load(doc) == state(4)
    assert doc in {m["document_id"] for m in await store.list_metas()}
    meta["members"]["bob"] = "editor"
    await store.save_meta(doc, meta)
    assert (await store.load_meta(doc))["members"] == {"alice": "owner", "bob": "editor"}  # type: ignore[index]
    await store.delete(doc)
    assert await store.load(doc) is None and await store.load_meta(doc) is None
    assert doc not in {m["document_id"] for m in await store.list_metas()}


async def test_the_postgres_log_is_idempotent_and_paged(pg_url: str) -> None:
    pg = await PostgresStore.connect(pg_url)
    await pg.migrate()  # a second migration run changes nothing
    try:
        assert isinstance(pg, HistoryStore)
        doc = "log-" + secrets.token_hex(4)
        ops = [Applied(1, "alice", "c", 1, CreateElement("t", "", "text", "V", {"text": ""}), 1.0)]
        ops += [
            Applied(v, "bob", "c2", v, EditText("t", "text", (v - 2, "x")), float(v)) for v in range(2, 11)
        ]
        await pg.append_ops(doc, ops[:6])
        await pg.append_ops(doc, ops)  # a retried write: versions already kept stay as they are
        assert await pg.last_logged(doc) == 10
        assert await pg.read_ops(doc, 3, 5) == ops[3:5]
        assert [a.version for a in await pg.newest_ops(doc, 8, 3)] == [7, 6, 5]
        await pg.save_checkpoint(doc, 5, state(5))
        assert await pg.checkpoint(doc, 9) == state(5) and await pg.checkpoint(doc, 4) is None
        assert await pg.last_checkpoint(doc) == 5
        await pg.delete(doc)
        assert await pg.last_logged(doc) == 0
    finally:
        await pg.close()
