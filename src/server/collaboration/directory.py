"""The directory: which documents exist, who may do what, and their live rooms.

Access: the owner and the members shared with see a document; admins see
every document (as owner). Others get NOT_FOUND, as for unknown ids, so nobody
learns which ids exist; a member lacking the role for an action gets PERMISSION_DENIED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from realtime.common.collaboration.document import Document, Limits
from realtime.common.collaboration.ops import Applied

from ..platform.auth import Principal
from ..platform.errors import (
    HubError,
    already_exists,
    invalid_argument,
    not_found,
    permission_denied,
    resource_exhausted,
)
from . import events as ev
from .config import CollabConfig
from .history import HistoryStore, OpLog
from .room import EDITOR, OWNER, VIEWER, Room, Session
from .sequencer import Sequencer
from .store import MemorySnapshotStore, SaveSchedule, SnapshotStore

log = logging.getLogger("realtime.collaboration")

ROLES = (OWNER, EDITOR, VIEWER)
#: Outbox close reason: the stream must end with UNAVAILABLE so the client reconnects.
OWNER_MOVED = "owner_moved"
_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass
class DocumentMeta:
    document_id: str
    title: str
    owner: str
    members: dict[str, str]
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "title": self.title,
            "owner": self.owner,
            "members": dict(self.members),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentMeta:
        return cls(d["document_id"], d["title"], d["owner"], dict(d["members"]), float(d["created_at"]))


@dataclass
class LiveDocument:
    meta: DocumentMeta
    room: Room
    schedule: SaveSchedule
    saver: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: Held for a whole save: a save in progress is finished, never cut short (see `finish`).
    saving: asyncio.Lock = field(default_factory=asyncio.Lock)


class Directory:
    def __init__(
        self,
        config: CollabConfig,
        store: SnapshotStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
    ) -> None:
        #: True when several replicas share the store: descriptions are always read fresh.
        self.shared = shared
        #: With several replicas: the journal entries after a saved version (replayed on open).
        self.tail_loader: Callable[[str, int], Awaitable[list[Applied]]] | None = None
        #: With several replicas: whether this replica still writes the document (else a
        #: replica that lost it without noticing could overwrite the new owner's snapshot).
        self.may_save: Callable[[str], Awaitable[bool]] | None = None
        self.config = config
        self.store = store or MemorySnapshotStore()
        #: With a store that keeps a version history: the operations waiting to be written to it.
        self.oplog = OpLog(self.store) if isinstance(self.store, HistoryStore) else None
        self.clock = clock
        self.live: dict[str, LiveDocument] = {}
        self.sessions_per_user: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self._loading: dict[str, asyncio.Lock] = {}
        #: Read-modify-write of descriptions (create, share) takes turns per key in this process.
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def _turn(self, *keys: str) -> AsyncIterator[None]:
        """Hold the locks of `keys` (in a fixed order: no deadlock); forgotten when unused."""
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(set(keys)):
                lock, users = self._turns.get(key, (asyncio.Lock(), 0))
                self._turns[key] = (lock, users + 1)
                stack.callback(self._release_turn, key)
                await stack.enter_async_context(lock)
            yield

    def _release_turn(self, key: str) -> None:
        lock, users = self._turns[key]
        if users == 1:
            del self._turns[key]
        else:
            self._turns[key] = (lock, users - 1)

    # -- access ------------------------------------------------------------------------------
    @staticmethod
    def role_of(who: Principal, meta: DocumentMeta) -> str | None:
        if who.is_admin or meta.owner == who.subject:
            return OWNER
        return meta.members.get(who.subject)

    async def meta(self, document_id: str) -> DocumentMeta:
        live = self.live.get(document_id)
        if live is not None and not self.shared:
            return live.meta
        raw = await self.store.load_meta(document_id) if document_id else None
        if raw is None:
            raise not_found(f"document {document_id!r} does not exist", reason="DOCUMENT_NOT_FOUND")
        return DocumentMeta.from_dict(raw)

    async def access(self, who: Principal, document_id: str) -> tuple[DocumentMeta, str]:
        meta = await self.meta(document_id)
        role = self.role_of(who, meta)
        if role is None:  # the same answer as for a missing document: ids are not revealed
            raise not_found(f"document {document_id!r} does not exist", reason="DOCUMENT_NOT_FOUND")
        return meta, role

    # -- documents -----------------------------------------------------------------------------
    async def create(self, who: Principal, document_id: str, title: str) -> DocumentMeta:
        if document_id and not _ID.match(document_id):
            raise invalid_argument(
                "document_id must be 1-128 characters of A-Za-z0-9._-", [("document_id", "invalid")]
            )
        if len(title) > 200:
            raise invalid_argument("title is longer than 200 characters", [("title", "too long")])
        document_id = document_id or uuid.uuid4().hex[:16]
        # Count, check and save as one step per owner and per id: many creates at once could
        # otherwise all pass the limit, and two creates of one id would both "succeed".
        async with self._turn("owner:" + who.subject, "doc:" + document_id):
            return await self._create(who, document_id, title)

    async def _create(self, who: Principal, document_id: str, title: str) -> DocumentMeta:
        metas = await self.store.list_metas()
        owned = sum(1 for m in metas if m["owner"] == who.subject)
        if owned >= self.config.max_documents_per_user:
            raise resource_exhausted(
                f"you own {owned} documents; the limit is {self.config.max_documents_per_user}"
            )
        meta = DocumentMeta(
            document_id, title or document_id, who.subject, {who.subject: OWNER}, self.clock()
        )
        # compare-and-set: of two replicas creating one id at once, exactly one gets here
        if not await self.store.create_meta(document_id, meta.to_dict()):
            raise already_exists(f"document {document_id!r} already exists")
        await self.store.save(document_id, Sequencer(Document(document_id)).state())
        return meta

    async def list(self, who: Principal) -> list[DocumentMeta]:
        metas = [DocumentMeta.from_dict(m) for m in await self.store.list_metas()]
        return sorted((m for m in metas if self.role_of(who, m) is not None), key=lambda m: m.document_id)

    async def delete(self, who: Principal, document_id: str) -> None:
        async with self._turn("doc:" + document_id):  # a share at once must not bring it back
            await self._delete(who, document_id)

    async def _delete(self, who: Principal, document_id: str) -> None:
        _, role = await self.access(who, document_id)
        if role != OWNER:
            raise permission_denied("only the owner can delete a document")
        live = self.live.pop(document_id, None)
        if live is not None:
            live.room.close()
            if live.saver is not None:
                live.saver.cancel()
        await self.store.delete(document_id)
        if self.oplog is not None:
            self.oplog.forget(document_id)

    async def share(self, who: Principal, document_id: str, user_id: str, role: str | None) -> DocumentMeta:
        # One change of the members at a time: shares at once would each save the list they read.
        async with self._turn("doc:" + document_id):
            return await self._share(who, document_id, user_id, role)

    async def _share(self, who: Principal, document_id: str, user_id: str, role: str | None) -> DocumentMeta:
        meta, my_role = await self.access(who, document_id)
        if my_role != OWNER:
            raise permission_denied("only the owner can share a document")
        if not user_id or len(user_id) > 256:
            raise invalid_argument("user_id must be 1-256 characters", [("user_id", "invalid")])
        if user_id == meta.owner:
            raise invalid_argument("the owner's role cannot be changed", [("user_id", "is the owner")])
        if role not in (None, EDITOR, VIEWER):
            raise invalid_argument("role must be editor, viewer or unspecified", [("role", "invalid")])
        if role is None:
            meta.members.pop(user_id, None)
        else:
            meta.members[user_id] = role
        await self.store.save_meta(document_id, meta.to_dict())
        live = self.live.get(document_id)
        if live is not None:
            for session in live.room.sessions.values():
                if session.user_id == user_id and not session.is_admin:
                    session.role = role or VIEWER
        return meta

    # -- live rooms -------------------------------------------------------------------------------
    async def open(self, document_id: str) -> LiveDocument:
        """The live room of a document, loaded from the store on first use."""
        live = self.live.get(document_id)
        if live is not None:
            return live
        lock = self._loading.setdefault(document_id, asyncio.Lock())
        async with lock:
            live = self.live.get(document_id)
            if live is not None:
                return live
            meta = await self.meta(document_id)
            state = await self.store.load(document_id)
            limits = Limits(max_insert_length=self.config.max_insert_length)
            doc = Document.from_dict(state["doc"], limits) if state else Document(document_id, limits=limits)
            clients = state["clients"] if state else {}
            seq = Sequencer(
                doc, clients, log_limit=self.config.log_limit, keep=self.config.log_keep, clock=self.clock
            )
            if self.tail_loader is not None:
                for applied in await self.tail_loader(document_id, seq.version):
                    seq.load_applied(applied)
            if self.oplog is not None:
                await self.oplog.opened(document_id, seq)
            schedule = SaveSchedule(self.config.save_debounce, self.config.save_max_wait)
            room = Room(document_id, seq, self.config, clock=self.clock, stats=self.stats)
            live = LiveDocument(meta, room, schedule)
            live.room.on_change = lambda: self._changed(live)
            live.saver = asyncio.get_running_loop().create_task(
                self._save_loop(live), name=f"save:{document_id}"
            )
            self.live[document_id] = live
        self._loading.pop(document_id, None)
        return live

    def _changed(self, live: LiveDocument) -> None:
        live.schedule.mark(self.clock())
        live.wake.set()
        if self.oplog is not None:
            self.oplog.collect(live.meta.document_id, live.room.seq)

    async def _save_loop(self, live: LiveDocument) -> None:
        while True:
            live.wake.clear()
            due = live.schedule.due_at()
            if due is None:
                await live.wake.wait()
                continue
            delay = due - self.clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(live.wake.wait(), delay)
                except TimeoutError:
                    pass
                continue
            await self.save(live)

    async def save(self, live: LiveDocument) -> None:
        async with live.saving:
            await self._save(live)

    async def finish(self, live: LiveDocument) -> None:
        """Stop `live`'s background saver and save what it has not (shutdown, hand-back).

        A save the saver has begun has already cleared `dirty`: cancelling it then would lose
        the changes it was writing (on PostgreSQL, operations and the checkpoint). So wait for
        it to end first, then stop the saver and save whatever is still unsaved."""
        async with live.saving:
            if live.saver is not None:
                live.saver.cancel()
            if live.schedule.dirty:
                await self._save(live)

    async def _save(self, live: LiveDocument) -> None:
        live.schedule.saved()
        try:
            async with live.room.lock:  # committed state only (no batch halfway through its journal)
                state = live.room.seq.state()
            if self.may_save is not None and not await self.may_save(live.meta.document_id):
                log.warning("not saving %s: another replica writes it now", live.meta.document_id)
                return
            if self.oplog is not None:  # operations first: a saved snapshot never runs ahead of the log
                await self.oplog.flush(live.meta.document_id, state)
            await self.store.save(live.meta.document_id, state)
        except HubError as exc:  # the store is down (UNAVAILABLE): expected, no traceback every retry
            log.warning("saving document %s failed (%s); will retry", live.meta.document_id, exc)
            live.schedule.mark(self.clock())
        except Exception:
            log.exception("saving document %s failed; will retry", live.meta.document_id)
            live.schedule.mark(self.clock())

    async def close(self) -> None:
        """Shutdown: every document's saves finish and what is unsaved is saved."""
        for live in list(self.live.values()):
            await self.finish(live)

    def evict(self, document_id: str, error: HubError) -> None:
        """Drop a live room (ownership lost, journal failed): its sessions are told and cut off."""
        live = self.live.pop(document_id, None)
        if live is None:
            return
        if live.saver is not None:
            live.saver.cancel()
        room = live.room
        room.closed = True
        for session in list(room.sessions.values()):
            room.sessions.pop(session.session_id)
            session.room = None
            session.outbox.put(ev.Error(error))
            session.outbox.close(OWNER_MOVED)

    def sweep(self) -> None:
        for live in list(self.live.values()):
            live.room.sweep()

    # -- sessions -----------------------------------------------------------------------------------
    def admit(self, session: Session) -> None:
        """Count a joining session against its user's limit."""
        if self.sessions_per_user[session.user_id] >= self.config.max_sessions_per_user:
            raise resource_exhausted(
                f"user {session.user_id!r} already has {self.sessions_per_user[session.user_id]} sessions; "
                f"at most {self.config.max_sessions_per_user} are allowed",
                reason="SESSION_LIMIT",
            )
        self.sessions_per_user[session.user_id] += 1
        session.counted = True

    def release(self, session: Session) -> None:
        if not session.counted:
            return
        session.counted = False
        self.sessions_per_user[session.user_id] -= 1
        if self.sessions_per_user[session.user_id] <= 0:
            del self.sessions_per_user[session.user_id]
