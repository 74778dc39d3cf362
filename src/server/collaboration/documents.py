"""The documents this replica serves: opening them, owning them among replicas, handing them back.

Plain Python (no grpc, no protobuf): service.py and commands.py call it. With one replica
(`cluster` None) a document opens and stays live; with several, the replica a document is
opened on claims it, keeps the claim while someone edits, and hands it back when the last
participant leaves (so no claim outlives its use), saving first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import Applied

from ..broker.base import BrokerError
from ..platform.errors import Code, HubError
from .cluster import Cluster
from .directory import Directory, LiveDocument
from .history import Recent
from .relay import Connection, unavailable

log = logging.getLogger("realtime.collaboration")


def broker_down(exc: BrokerError) -> HubError:
    return HubError(
        Code.UNAVAILABLE,
        f"the shared store is unavailable: {exc}",
        reason="BROKER_UNAVAILABLE",
        retry_after=1.0,
    )


class Documents:
    def __init__(self, directory: Directory, cluster: Cluster | None) -> None:
        self.directory = directory
        self.cluster = cluster
        self.owned: dict[str, asyncio.Task[None]] = {}  # document id -> ownership renewal
        self.tasks: set[asyncio.Task[None]] = set()  # hand-backs in progress

    # -- opening and owning -----------------------------------------------------------------------
    async def owner(self, document_id: str) -> str:
        """The owning replica, claiming the document for this one when it is free."""
        assert self.cluster is not None
        try:
            return await self.cluster.claim(document_id)
        except BrokerError as exc:
            raise broker_down(exc) from None

    async def open(self, document_id: str) -> LiveDocument:
        live = await self.directory.open(document_id)
        if self.cluster is not None:
            cluster = self.cluster
            if live.room.journal is None:

                async def journal(applied: list[Applied]) -> None:
                    await cluster.journal(document_id, applied)

                live.room.journal = journal
            if document_id not in self.owned:
                self.owned[document_id] = asyncio.get_running_loop().create_task(
                    self._keep_ownership(document_id), name=f"collab-own:{document_id}"
                )
        return live

    async def _keep_ownership(self, document_id: str) -> None:
        assert self.cluster is not None
        while True:
            await asyncio.sleep(self.cluster.owner_ttl / 3)
            try:
                kept = await self.cluster.renew(document_id)
            except BrokerError:
                kept = False
            if not kept:
                log.warning("lost ownership of document %s", document_id)
                self.owned.pop(document_id, None)
                self.evict(document_id, unavailable("this replica lost the document; reconnect"))
                return

    def evict(self, document_id: str, error: HubError) -> None:
        self.directory.evict(document_id, error)
        if self.cluster is not None:
            self.cluster.epochs.pop(document_id, None)
        task = self.owned.pop(document_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def disown(self, document_id: str) -> None:
        if self.cluster is not None:
            self.cluster.epochs.pop(document_id, None)
        task = self.owned.pop(document_id, None)
        if task is not None:
            task.cancel()

    # -- leaving ------------------------------------------------------------------------------------
    def detach(self, conn: Connection, reason: str) -> None:
        """The connection's session leaves its room (if any); the last one out hands it back."""
        session = conn.session
        conn.session = None
        if session is None:
            return
        room = session.room
        if room is not None:
            room.leave(session, reason)
        self.directory.release(session)
        if room is not None and not room.sessions and self.cluster is not None:
            task = asyncio.get_running_loop().create_task(self._hand_back(room.document_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _hand_back(self, document_id: str) -> None:
        """Everyone left: close the room and remove our owner claim, so no claim outlives its use
        and the next participant, on any replica, opens the document where it connects."""
        assert self.cluster is not None
        live = self.directory.live.get(document_id)
        if live is None:
            return
        async with live.room.lock:  # no journal write in flight
            if live.room.sessions or self.directory.live.get(document_id) is not live:
                return
            del self.directory.live[document_id]
            live.room.closed = True
        try:
            await self.directory.finish(live)  # a save in progress ends first; then what is unsaved
            if document_id not in self.directory.live:  # nobody reopened it meanwhile
                self.disown(document_id)
                await self.cluster.release(document_id)
        except BrokerError as exc:
            log.warning("could not hand document %s back: %s (the claim expires)", document_id, exc)

    def deleted(self, document_id: str) -> None:
        """Another replica deleted the document: drop its room here."""
        live = self.directory.live.pop(document_id, None)
        if live is not None:
            for session in list(live.room.sessions.values()):
                self.directory.release(session)
            live.room.close()
            if live.saver is not None:
                live.saver.cancel()
        self.disown(document_id)

    async def close(self) -> None:
        """Shutdown: save, then hand the documents over (release ownership) for a fast takeover."""
        await self.directory.close()
        for document_id in list(self.owned):
            self.disown(document_id)
            if self.cluster is not None:
                with contextlib.suppress(Exception):
                    await self.cluster.release(document_id)
        if self.cluster is not None:
            await self.cluster.close()

    # -- reading --------------------------------------------------------------------------------------
    async def read_shared(self, document_id: str) -> Document:
        """The document as the shared store and journal have it (another replica owns it)."""
        assert self.cluster is not None
        state = await self.directory.store.load(document_id)
        doc = Document.from_dict(state["doc"]) if state else Document(document_id)
        for applied in await self.cluster.journal_since(document_id, doc.version):
            if applied.version == doc.version + 1:
                doc.apply(applied.op, applied.author, applied.version)
                doc.version = applied.version
        return doc

    async def recent(self, document_id: str) -> Recent:
        """The recent operations this replica can see and the document they start from."""
        live = self.directory.live.get(document_id)
        if self.cluster is not None and (live is None or document_id not in self.cluster.epochs):
            # another replica writes it (or nobody does): a read does not claim the document
            state = await self.directory.store.load(document_id)
            ops = await self.cluster.journal_since(document_id, 0)
            if ops and ops[0].version == 1:
                base = Document(document_id)
            else:
                base = Document.from_dict(state["doc"]) if state else Document(document_id)
            current = max(base.version, ops[-1].version if ops else 0)
            return base, ops, current
        if self.cluster is None or live is None:
            live = await self.open(document_id)
        seq = live.room.seq
        by_version = {a.version: a for a in seq.log}
        if self.directory.oplog is not None:  # not yet written to the history store
            by_version.update((a.version, a) for a in self.directory.oplog.pending.get(document_id, []))
        return seq.floor.copy(), [by_version[v] for v in sorted(by_version)], seq.version
