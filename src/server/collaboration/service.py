"""CollaborationService: the only module of the package that touches grpc.

convert.py translates between the protobuf contract and the plain-Python model,
relay.py routes streams between replicas; this module is the servicer. One
`Collaborate` stream = one reader task that handles commands and one writer
loop (this generator) that drains the session's outbox.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from ..broker.base import BrokerError
from ..context import HubContext
from ..platform.auth import Principal, current_principal
from ..platform.errors import Code, HubError, invalid_argument
from ..platform.protowire import add_preencoding_service
from ..platform.streams import commands_until_shutdown
from . import events as ev
from . import wire
from .cluster import Cluster
from .commands import Commands
from .config import CollabConfig
from .convert import (  # noqa: F401  (re-exported for older importers)
    LEASE_REASON_TO_PB,
    LEFT_REASON_TO_PB,
    ROLE_FROM_PB,
    ROLE_TO_PB,
    STATUS_FROM_PB,
    STATUS_TO_PB,
    encode,
)
from .directory import OWNER_MOVED, Directory, DocumentMeta
from .documents import Documents, broker_down
from .history import VersionHistory, summary
from .metrics import CollabMetrics, sweeper
from .outbox import OVERFLOW, Outbox
from .relay import Connection, Deleted, Relay, unavailable
from .store_pg import PostgresStore
from .stores import open_store

# -- the servicer ---------------------------------------------------------------------------------
SERVICE = "realtime.v1.CollaborationService"
GOING_AWAY = "going_away"
log = logging.getLogger("realtime.collaboration")


_M = TypeVar("_M", bound=Callable[..., Awaitable[Any]])


def _available(method: _M) -> _M:
    """A unary method: the broker or store being down is UNAVAILABLE (retryable), not INTERNAL."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except BrokerError as exc:
            raise broker_down(exc) from None

    return wrapper  # type: ignore[return-value]


class CollaborationServicer(collaboration_pb2_grpc.CollaborationServiceServicer):
    def __init__(
        self, hub: HubContext, directory: Directory, config: CollabConfig, cluster: Cluster | None = None
    ) -> None:
        self._hub = hub
        self.directory = directory
        self.config = config
        self.cluster = cluster
        self.documents = Documents(directory, cluster)
        self.relay = Relay(cluster, self, config.presence_ttl, directory.clock) if cluster else None
        self.commands = Commands(self.documents, self.relay)
        self.history = VersionHistory(directory.store, self.documents.recent)

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
            doc = (await self.documents.open(request.document_id)).room.seq.doc
        elif live is not None and request.document_id in self.cluster.epochs:
            doc = live.room.seq.doc  # we own it and write it
        else:  # a read does not claim the document (a claim lives only while someone edits)
            doc = await self.documents.read_shared(request.document_id)
        info = await self._info(meta, who)
        info.version = doc.version
        return pb.GetDocumentResponse(document=info, snapshot=snapshot_to_pb(doc))

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
            self.documents.disown(request.document_id)
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
    ) -> AsyncIterator[bytes]:
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

    async def _messages(self, conn: Connection) -> AsyncIterator[bytes]:
        """The connection's outgoing messages, serialized, until its outbox closes. A broadcast
        is serialized once for every participant (wire.py): the stream only writes its bytes."""
        outbox = conn.outbox
        while True:
            event = await outbox.get()
            if event is None:
                return
            session_id = conn.session.session_id if conn.session is not None else conn.stream_id
            if isinstance(event, ev.AppliedBatch) and event.origin != session_id:
                more = outbox.take_applied(session_id)
                if more:  # this reader is behind: send the queued batches as one message
                    yield wire.applied_together(event, more, session_id)
                    continue
            yield wire.for_session(event, session_id)

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
            await self.commands.handle(command, conn)
        except HubError as err:
            conn.outbox.put(ev.Error(err, command_id=command.id))
        except BrokerError as exc:
            conn.outbox.put(ev.Error(broker_down(exc), command_id=command.id))
        except Exception:
            log.exception("collaboration command failed")
            conn.outbox.put(
                ev.Error(HubError(Code.INTERNAL, "internal error; see the server log"), command_id=command.id)
            )

    async def _end(self, conn: Connection) -> None:
        """The client's stream ended."""
        self.documents.detach(conn, "disconnected")
        if self.relay is not None:
            await self.relay.ended(conn)

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

    def encoded(self, conn: Connection) -> AsyncIterator[bytes]:
        return self._messages(conn)

    def detach(self, conn: Connection, reason: str) -> None:
        self.documents.detach(conn, reason)

    def classify(self, data: bytes) -> tuple[str, str]:
        event = pb.CollaborateResponse.FromString(data)
        return event.WhichOneof("event") or "", event.command_id

    def document_deleted(self, document_id: str) -> None:
        self.documents.deleted(document_id)

    async def close(self) -> None:
        """Shutdown: save, then hand the documents over (release ownership) for a fast takeover."""
        await self.documents.close()


def add_to_server(servicer: CollaborationServicer, server: Any) -> None:
    """Like the generated `add_CollaborationServiceServicer_to_server`, but a response may be
    bytes the service serialized itself (one encoding shared by every participant, wire.py)."""
    add_preencoding_service(server, servicer, pb, "CollaborationService")


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
    hub.metrics.registry.register(CollabMetrics(directory))  # type: ignore[arg-type]
    add_to_server(servicer, hub.server)
    hub.spawn(sweeper(directory, config.sweep_interval), name="collaboration-sweeper")
    if cluster is not None:
        assert servicer.relay is not None
        await cluster.start(servicer.relay.receive, servicer.relay_changed)
        hub.spawn(servicer.relay.watch(cluster.owner_of), name="collaboration-watch")
    hub.on_stop.append(servicer.close)
    hub.collaboration = servicer  # type: ignore[attr-defined]
    return [SERVICE]
