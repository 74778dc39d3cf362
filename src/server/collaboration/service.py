"""CollaborationService: the only module of the package that touches grpc.

convert.py translates between the protobuf contract and the plain-Python model,
relay.py routes streams between replicas; this module is the servicer. One
`Collaborate` stream = one reader task that handles commands and one writer
loop (this generator) that drains the session's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from realtime.common.collaboration.convert import (  # noqa: F401  (re-exported for older importers)
    applied_from_pb,
    applied_to_pb,
    element_to_pb,
    op_from_pb,
    op_to_pb,
    snapshot_from_pb,
    snapshot_to_pb,
    timestamp,
)
from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import Applied
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from ..broker.base import BrokerError
from ..context import HubContext
from ..platform.auth import Principal, current_principal
from ..platform.errors import Code, HubError, failed_precondition, invalid_argument
from ..platform.streams import commands_until_shutdown
from . import events as ev
from .cluster import Cluster
from .config import CollabConfig
from .convert import (  # noqa: F401  (re-exported for older importers)
    LEASE_REASON_TO_PB,
    LEFT_REASON_TO_PB,
    ROLE_FROM_PB,
    ROLE_TO_PB,
    STATUS_FROM_PB,
    STATUS_TO_PB,
    encode,
    for_session,
)
from .directory import OWNER_MOVED, Directory, DocumentMeta, LiveDocument
from .history import Recent, VersionHistory, summary
from .outbox import OVERFLOW, Outbox
from .relay import Connection, Deleted, Relay, unavailable
from .room import Session
from .store_pg import PostgresStore
from .stores import open_store

# -- the servicer ---------------------------------------------------------------------------------
SERVICE = "realtime.v1.CollaborationService"
GOING_AWAY = "going_away"
log = logging.getLogger("realtime.collaboration")


def _broker_down(exc: BrokerError) -> HubError:
    return HubError(
        Code.UNAVAILABLE,
        f"the shared store is unavailable: {exc}",
        reason="BROKER_UNAVAILABLE",
        retry_after=1.0,
    )


_M = TypeVar("_M", bound=Callable[..., Awaitable[Any]])


def _available(method: _M) -> _M:
    """A unary method: the broker or store being down is UNAVAILABLE (retryable), not INTERNAL."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except BrokerError as exc:
            raise _broker_down(exc) from None

    return wrapper  # type: ignore[return-value]


class CollaborationServicer(collaboration_pb2_grpc.CollaborationServiceServicer):
    def __init__(
        self, hub: HubContext, directory: Directory, config: CollabConfig, cluster: Cluster | None = None
    ) -> None:
        self._hub = hub
        self.directory = directory
        self.config = config
        self.cluster = cluster
        self._tasks: set[asyncio.Task[None]] = set()
        self.relay = Relay(cluster, self, config.presence_ttl, directory.clock) if cluster else None
        self.owned: dict[str, asyncio.Task[None]] = {}  # document id -> ownership renewal
        self.history = VersionHistory(directory.store, self._recent)

    # -- unary ----------------------------------------------------------------------------------
    async def _info(self, meta: DocumentMeta, who: Principal) -> pb.DocumentInfo:
        live = self.directory.live.get(meta.document_id)
        if live is not None:
            version, count = live.room.seq.version, len(live.room.sessions)
        else:
            state = await self.directory.store.load(meta.document_id)
            version, count = (int(state["doc"]["version"]) if state else 0), 0
        role = self.directory.role_of(who, meta)
        return pb.DocumentInfo(
            document_id=meta.document_id,
            title=meta.title,
            owner=meta.owner,
            members={u: ROLE_TO_PB[r] for u, r in meta.members.items()},
            version=version,
            created_at=timestamp(meta.created_at),
            your_role=ROLE_TO_PB.get(role or "", pb.DOCUMENT_ROLE_UNSPECIFIED),
            participant_count=count,
        )

    @_available
    async def CreateDocument(
        self, request: pb.CreateDocumentRequest, context: Any
    ) -> pb.CreateDocumentResponse:
        who = current_principal()
        meta = await self.directory.create(who, request.document_id, request.title)
        return pb.CreateDocumentResponse(document=await self._info(meta, who))

    @_available
    async def GetDocument(self, request: pb.GetDocumentRequest, context: Any) -> pb.GetDocumentResponse:
        who = current_principal()
        meta, _ = await self.directory.access(who, request.document_id)
        if request.HasField("version"):
            return await self._document_at(meta, who, request.version)
        live = self.directory.live.get(request.document_id)
        if self.cluster is None:
            doc = (await self._open(request.document_id)).room.seq.doc
        elif live is not None and request.document_id in self.cluster.epochs:
            doc = live.room.seq.doc  # we own it and write it
        else:  # a read does not claim the document (a claim lives only while someone edits)
            doc = await self._read_shared(request.document_id)
        info = await self._info(meta, who)
        info.version = doc.version
        return pb.GetDocumentResponse(document=info, snapshot=snapshot_to_pb(doc))

    async def _read_shared(self, document_id: str) -> Document:
        """The document as the shared store and journal have it (another replica owns it)."""
        assert self.cluster is not None
        state = await self.directory.store.load(document_id)
        doc = Document.from_dict(state["doc"]) if state else Document(document_id)
        for applied in await self.cluster.journal_since(document_id, doc.version):
            if applied.version == doc.version + 1:
                doc.apply(applied.op, applied.author, applied.version)
                doc.version = applied.version
        return doc

    # -- version history ------------------------------------------------------------------------
    async def _recent(self, document_id: str) -> Recent:
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
            live = await self._open(document_id)
        seq = live.room.seq
        by_version = {a.version: a for a in seq.log}
        if self.directory.oplog is not None:  # not yet written to the history store
            by_version.update((a.version, a) for a in self.directory.oplog.pending.get(document_id, []))
        return seq.floor.copy(), [by_version[v] for v in sorted(by_version)], seq.version

    async def _document_at(self, meta: DocumentMeta, who: Principal, version: int) -> pb.GetDocumentResponse:
        doc = await self.history.document_at(meta.document_id, version)
        info = await self._info(meta, who)
        info.version = doc.version
        return pb.GetDocumentResponse(document=info, snapshot=snapshot_to_pb(doc))

    @_available
    async def ListVersions(self, request: pb.ListVersionsRequest, context: Any) -> pb.ListVersionsResponse:
        who = current_principal()
        await self.directory.access(who, request.document_id)
        page = await self.history.list_versions(request.document_id, request.page_size, request.page_token)
        return pb.ListVersionsResponse(
            versions=[
                pb.DocumentVersion(
                    version=a.version,
                    author=a.author,
                    client_id=a.client_id,
                    applied_at=timestamp(a.applied_at),
                    summary=summary(a.op),
                    operation=op_to_pb(a.client_seq, a.op),
                )
                for a in page.versions
            ],
            next_page_token=str(page.next_below) if page.next_below else "",
            current_version=page.current,
            oldest_version=page.oldest,
        )

    @_available
    async def ListDocuments(self, request: pb.ListDocumentsRequest, context: Any) -> pb.ListDocumentsResponse:
        who = current_principal()
        size = request.page_size or 100
        if not 0 < size <= 1000:
            raise invalid_argument("page_size must be 1-1000 (0 means 100)", [("page_size", "out of range")])
        metas = [m for m in await self.directory.list(who) if m.document_id > request.page_token]
        page = metas[:size]
        token = page[-1].document_id if len(metas) > size else ""
        return pb.ListDocumentsResponse(
            documents=[await self._info(m, who) for m in page], next_page_token=token
        )

    @_available
    async def DeleteDocument(
        self, request: pb.DeleteDocumentRequest, context: Any
    ) -> pb.DeleteDocumentResponse:
        who = current_principal()
        live = self.directory.live.get(request.document_id)
        sessions = list(live.room.sessions.values()) if live is not None else []
        await self.directory.delete(who, request.document_id)
        for session in sessions:
            self.directory.release(session)
        if self.cluster is not None:
            owner = await self.cluster.owner_of(request.document_id)
            if owner is not None and owner != self.cluster.instance_id and self.relay is not None:
                await self.relay.send(owner, Deleted(self.cluster.instance_id, request.document_id))
            self._disown(request.document_id)
        return pb.DeleteDocumentResponse(document_id=request.document_id)

    @_available
    async def ShareDocument(self, request: pb.ShareDocumentRequest, context: Any) -> pb.ShareDocumentResponse:
        who = current_principal()
        if request.role == pb.DOCUMENT_ROLE_OWNER:
            raise invalid_argument("a document has one owner; share as editor or viewer", [("role", "owner")])
        if request.role not in ROLE_FROM_PB and request.role != pb.DOCUMENT_ROLE_UNSPECIFIED:
            raise invalid_argument("unknown role", [("role", str(request.role))])
        role = ROLE_FROM_PB.get(request.role)
        meta = await self.directory.share(who, request.document_id, request.user_id, role)
        return pb.ShareDocumentResponse(document=await self._info(meta, who))

    # -- the live session -----------------------------------------------------------------------
    async def Collaborate(
        self, requests: AsyncIterator[pb.CollaborateRequest], context: Any
    ) -> AsyncIterator[pb.CollaborateResponse]:
        who = current_principal()
        conn = self._connection(who)
        reader = asyncio.get_running_loop().create_task(self._read(requests, conn), name="collab-reader")
        try:
            async for message in self._messages(conn):
                yield message
            if conn.outbox.closed == OVERFLOW:
                raise HubError(
                    Code.RESOURCE_EXHAUSTED,
                    f"this stream fell {self.config.max_queued_events} events behind; "
                    "reconnect with since_version to catch up",
                    reason="SLOW_CONSUMER",
                )
            if conn.outbox.closed == OWNER_MOVED:
                raise unavailable("the document moved to another replica; reconnect with since_version")
            if conn.outbox.closed == GOING_AWAY:  # clients retry UNAVAILABLE (on another replica)
                raise unavailable("the server is shutting down; reconnect with since_version", "GOING_AWAY")
            if conn.read_error is not None:
                raise conn.read_error
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await self._end(conn)

    def _connection(self, who: Principal) -> Connection:
        return Connection(
            who,
            Outbox(max_events=self.config.max_queued_events, cursor_interval=1.0 / self.config.cursor_rate),
        )

    async def _messages(self, conn: Connection) -> AsyncIterator[pb.CollaborateResponse]:
        """The connection's outgoing messages until its outbox closes."""
        outbox = conn.outbox
        while True:
            event = await outbox.get()
            if event is None:
                return
            if isinstance(event, ev.Relayed):
                yield pb.CollaborateResponse.FromString(event.data)
                continue
            session_id = conn.session.session_id if conn.session is not None else conn.stream_id
            message = for_session(event, session_id)
            if isinstance(event, ev.AppliedBatch) and event.origin != session_id:
                more = outbox.take_applied(session_id)
                if more:  # this reader is behind: send the queued batches as one message
                    merged = pb.CollaborateResponse()
                    merged.CopyFrom(message)
                    for extra in more:
                        merged.applied.operations.extend(for_session(extra, session_id).applied.operations)
                    message = merged
            yield message

    async def _read(self, requests: AsyncIterator[pb.CollaborateRequest], conn: Connection) -> None:
        outbox = conn.outbox
        try:
            async for command in commands_until_shutdown(requests, self._hub.shutdown):
                if command is None:
                    outbox.put(ev.GoingAway("server shutting down", self._hub.shutdown.grace))
                    outbox.close(GOING_AWAY)
                    return
                await self._run(command, conn)
            outbox.close("client_done")
        except asyncio.CancelledError:
            raise
        except HubError as err:  # e.g. bytes that are not a CollaborateRequest (MALFORMED_REQUEST)
            conn.read_error = err
            outbox.close("read_error")
        except Exception as exc:  # the client's side of the stream broke
            log.debug("collaborate stream read ended: %s", exc)
            outbox.close("read_error")

    async def _run(self, command: pb.CollaborateRequest, conn: Connection) -> None:
        try:
            await self._handle(command, conn)
        except HubError as err:
            conn.outbox.put(ev.Error(err, command_id=command.id))
        except BrokerError as exc:
            conn.outbox.put(ev.Error(_broker_down(exc), command_id=command.id))
        except Exception:
            log.exception("collaboration command failed")
            conn.outbox.put(
                ev.Error(HubError(Code.INTERNAL, "internal error; see the server log"), command_id=command.id)
            )

    def _detach(self, conn: Connection, reason: str) -> None:
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
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
            if live.saver is not None:
                live.saver.cancel()
        try:
            if live.schedule.dirty:
                await self.directory.save(live)
            if document_id not in self.directory.live:  # nobody reopened it meanwhile
                self._disown(document_id)
                await self.cluster.release(document_id)
        except BrokerError as exc:
            log.warning("could not hand document %s back: %s (the claim expires)", document_id, exc)

    async def _end(self, conn: Connection) -> None:
        """The client's stream ended."""
        self._detach(conn, "disconnected")
        if self.relay is not None:
            await self.relay.ended(conn)

    async def _handle(self, command: pb.CollaborateRequest, conn: Connection) -> None:
        kind = command.WhichOneof("command")
        cid = command.id
        if conn.proxy is not None:
            if kind == "join":
                raise failed_precondition("already joined; leave first", reason="ALREADY_JOINED")
            assert self.relay is not None
            await self.relay.command(conn, command.SerializeToString())
            return
        if kind == "join":
            await self._join(command, conn)
            return
        if kind == "ping":
            if conn.session is not None and conn.session.room is not None:
                conn.session.room.touch(conn.session)
            conn.outbox.put(ev.Pong(command_id=cid))
            return
        if kind is None:
            raise invalid_argument(
                "command is empty: set one of join, op, presence, cursor, ...", [("command", "unset")]
            )
        session = conn.session
        if session is None or session.room is None:
            if session is not None:  # the document was deleted under us
                self._detach(conn, "document_deleted")
            raise failed_precondition(f"send join before {kind}", reason="NOT_JOINED")
        room = session.room
        room.touch(session)
        if kind == "op":
            limit = room.seq.doc.limits.max_insert_length
            ops = [op_from_pb(o, limit) for o in command.op.operations]
            if room.journal is None:
                room.submit(session, command.op.base_version, ops, cid)
            else:
                try:
                    await room.submit_journaled(session, command.op.base_version, ops, cid)
                except BrokerError as exc:
                    # Not durable, so not acknowledged: drop the room; clients reload from the journal.
                    self._evict(room.document_id, unavailable(f"the journal is unavailable: {exc}"))
                    return
        elif kind == "presence":
            status = STATUS_FROM_PB.get(command.presence.status)
            if status is None:
                raise invalid_argument(
                    "unknown presence status", [("presence.status", str(command.presence.status))]
                )
            room.presence(session, status, command.presence.selected_element_id, cid)
        elif kind == "cursor":
            c = command.cursor
            if not (math.isfinite(c.x) and math.isfinite(c.y)):
                raise invalid_argument("cursor coordinates must be finite", [("cursor", "not finite")])
            room.cursor(session, c.element_id, c.x, c.y, c.text_offset)
        elif kind == "acquire_lease":
            room.acquire(session, command.acquire_lease.element_id, cid)
        elif kind == "release_lease":
            room.release(session, command.release_lease.element_id, command.release_lease.force, cid)
        elif kind == "leave":
            document_id = room.document_id
            self._detach(conn, "left")
            conn.outbox.put(ev.Left(document_id, command_id=cid))

    async def _join(self, command: pb.CollaborateRequest, conn: Connection) -> None:
        join, cid = command.join, command.id
        if conn.session is not None and conn.session.room is not None:
            raise failed_precondition(
                f"already joined {conn.session.room.document_id!r}; leave first", reason="ALREADY_JOINED"
            )
        if not 0 < len(join.client_id) <= 128:
            raise invalid_argument("client_id must be 1-128 characters", [("join.client_id", "invalid")])
        if len(join.display_name) > 128 or len(join.color) > 32:
            raise invalid_argument("display_name or color too long", [("join.display_name", "too long")])
        who = conn.who
        _, role = await self.directory.access(who, join.document_id)
        if self.cluster is not None:
            owner = await self._owner(join.document_id)
            if owner != self.cluster.instance_id:
                if conn.remote is not None:  # forwarded here, but ownership moved on: the client retries
                    raise unavailable("this replica no longer owns the document; reconnect")
                assert self.relay is not None
                await self.relay.join(conn, owner, join.document_id, cid, command.SerializeToString())
                return
        live = await self._open(join.document_id)
        session = Session(
            session_id=uuid.uuid4().hex[:16],
            user_id=who.subject,
            client_id=join.client_id,
            role=role,
            outbox=conn.outbox,
            display_name=join.display_name or who.subject,
            color=join.color,
            is_admin=who.is_admin,
        )
        self.directory.admit(session)
        try:
            # under the lock: a batch being journaled is not in the snapshot or replay yet (if
            # its commit fails, nobody may have seen it, or that client would keep a version
            # the document never had)
            async with live.room.lock:
                if live.room.closed:  # evicted or handed back while we waited
                    raise unavailable("the document moved while joining; reconnect")
                live.room.join(session, join.since_version if join.HasField("since_version") else None, cid)
        except BaseException:
            self.directory.release(session)
            raise
        conn.session = session

    # -- several replicas ---------------------------------------------------------------------------
    async def _owner(self, document_id: str) -> str:
        """The owning replica, claiming the document for this one when it is free."""
        assert self.cluster is not None
        try:
            return await self.cluster.claim(document_id)
        except BrokerError as exc:
            raise _broker_down(exc) from None

    async def _open(self, document_id: str) -> LiveDocument:
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
                self._evict(document_id, unavailable("this replica lost the document; reconnect"))
                return

    def _evict(self, document_id: str, error: HubError) -> None:
        self.directory.evict(document_id, error)
        if self.cluster is not None:
            self.cluster.epochs.pop(document_id, None)
        task = self.owned.pop(document_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _disown(self, document_id: str) -> None:
        if self.cluster is not None:
            self.cluster.epochs.pop(document_id, None)
        task = self.owned.pop(document_id, None)
        if task is not None:
            task.cancel()

    async def relay_changed(self, relaying: bool) -> None:
        """The inbox subscription was lost or is back: end relayed streams; health follows."""
        assert self.relay is not None
        await self.relay.relay_changed(relaying)
        # a named problem: the broker coming back does not say SERVING before the relay is back
        await self._hub.health.mark_problem("collaboration-relay", not relaying)

    # -- what the relay borrows (relay.Host) ---------------------------------------------------------
    def connection(self, who: Principal) -> Connection:
        return self._connection(who)

    async def run_bytes(self, data: bytes, conn: Connection) -> None:
        await self._run(pb.CollaborateRequest.FromString(data), conn)

    async def encoded(self, conn: Connection) -> AsyncIterator[bytes]:
        async for message in self._messages(conn):
            yield message.SerializeToString()

    def detach(self, conn: Connection, reason: str) -> None:
        self._detach(conn, reason)

    def classify(self, data: bytes) -> tuple[str, str]:
        event = pb.CollaborateResponse.FromString(data)
        return event.WhichOneof("event") or "", event.command_id

    def document_deleted(self, document_id: str) -> None:
        live = self.directory.live.pop(document_id, None)
        if live is not None:
            for session in list(live.room.sessions.values()):
                self.directory.release(session)
            live.room.close()
            if live.saver is not None:
                live.saver.cancel()
        self._disown(document_id)

    async def close(self) -> None:
        """Shutdown: save, then hand the documents over (release ownership) for a fast takeover."""
        await self.directory.close()
        for document_id in list(self.owned):
            self._disown(document_id)
            if self.cluster is not None:
                with contextlib.suppress(Exception):
                    await self.cluster.release(document_id)
        if self.cluster is not None:
            await self.cluster.close()


class _Metrics:
    """realtime_collab_* metrics, read from the directory when /metrics is scraped."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        d = self.directory
        rooms = [live.room for live in d.live.values()]
        yield GaugeMetricFamily(
            "realtime_collab_documents_open", "Documents with a live room here.", len(rooms)
        )
        yield GaugeMetricFamily(
            "realtime_collab_participants",
            "Sessions joined to rooms here.",
            sum(len(r.sessions) for r in rooms),
        )
        yield GaugeMetricFamily(
            "realtime_collab_leases",
            "Leases held in rooms here.",
            sum(len(r.leases.by_element) for r in rooms),
        )
        ops = CounterMetricFamily("realtime_collab_operations", "Operations by outcome.", labels=["result"])
        ops.add_metric(["applied"], d.stats["operations_applied"])
        ops.add_metric(["rejected"], d.stats["operations_rejected"])
        yield ops
        yield CounterMetricFamily(
            "realtime_collab_duplicate_batches",
            "Resent batches answered as duplicates.",
            d.stats["batches_duplicate"],
        )
        yield CounterMetricFamily(
            "realtime_collab_cursor_updates", "Cursor commands received.", d.stats["cursor_updates"]
        )


async def _sweeper(directory: Directory, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        directory.sweep()


async def register(hub: HubContext) -> list[str]:
    config = CollabConfig.load(hub.settings.extra)
    # Tests inject a clock (`extra={"collab_clock": fake}`) to move time instead of sleeping.
    clock = hub.settings.extra.get("collab_clock") or time.time
    broker = hub.broker
    cluster: Cluster | None = None
    shared = broker is not None and broker.engine != "memory"
    store = await open_store(hub.settings.document_store, broker, shared)
    if isinstance(store, PostgresStore):
        hub.on_stop.append(store.close)  # runs after servicer.close has saved every document
    if shared and broker is not None and store is not None:
        # Several replicas share state through the broker: documents live in its key-value
        # store, each has one owning replica, and accepted operations go to its journal.
        cluster = Cluster(broker, hub.instance_id, config.owner_ttl)
        directory = Directory(config, store, clock=clock, shared=True)
        directory.tail_loader = cluster.open_tail
        directory.may_save = cluster.still_writer
    else:
        directory = Directory(config, store, clock=clock)
    servicer = CollaborationServicer(hub, directory, config, cluster)
    hub.metrics.registry.register(_Metrics(directory))  # type: ignore[arg-type]
    collaboration_pb2_grpc.add_CollaborationServiceServicer_to_server(servicer, hub.server)
    hub.spawn(_sweeper(directory, config.sweep_interval), name="collaboration-sweeper")
    if cluster is not None:
        assert servicer.relay is not None
        await cluster.start(servicer.relay.receive, servicer.relay_changed)
        hub.spawn(servicer.relay.watch(cluster.owner_of), name="collaboration-watch")
    hub.on_stop.append(servicer.close)
    hub.collaboration = servicer  # type: ignore[attr-defined]
    return [SERVICE]
