"""CollaborationService: the only module of the package that touches grpc and generated code.

The first half translates between the protobuf contract and the plain-Python
model (also used by the CLI and the bench); the second half is the servicer.
One `Collaborate` stream = one reader task that handles commands and one
writer loop (this generator) that drains the session's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc, common_pb2

from ..broker.base import BrokerError
from ..context import HubContext
from ..platform.auth import Principal, current_principal
from ..platform.errors import Code, HubError, failed_precondition, invalid_argument
from ..platform.status import error_event
from ..platform.streams import commands_until_shutdown
from . import events as ev
from . import textop
from .cluster import Cluster, b64, unb64
from .config import CollabConfig
from .directory import OWNER_MOVED, Directory, DocumentMeta, LiveDocument
from .document import Document, Element
from .history import Recent, VersionHistory, summary
from .leases import Lease
from .ops import (
    JSON,
    Applied,
    ClientOp,
    CreateElement,
    DeleteElement,
    EditText,
    Malformed,
    MoveElement,
    Op,
    SetProperty,
)
from .outbox import OVERFLOW, Outbox
from .room import Session
from .store_pg import PostgresStore
from .stores import open_store

ROLE_TO_PB = {
    "owner": pb.DOCUMENT_ROLE_OWNER,
    "editor": pb.DOCUMENT_ROLE_EDITOR,
    "viewer": pb.DOCUMENT_ROLE_VIEWER,
}
ROLE_FROM_PB = {v: k for k, v in ROLE_TO_PB.items()}
STATUS_TO_PB = {
    "viewing": pb.PARTICIPANT_STATUS_VIEWING,
    "editing": pb.PARTICIPANT_STATUS_EDITING,
    "idle": pb.PARTICIPANT_STATUS_IDLE,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()} | {pb.PARTICIPANT_STATUS_UNSPECIFIED: "viewing"}
LEASE_REASON_TO_PB = {
    "released": pb.LEASE_RELEASE_REASON_RELEASED,
    "expired": pb.LEASE_RELEASE_REASON_EXPIRED,
    "holder_left": pb.LEASE_RELEASE_REASON_HOLDER_LEFT,
    "broken_by_owner": pb.LEASE_RELEASE_REASON_BROKEN_BY_OWNER,
    "element_deleted": pb.LEASE_RELEASE_REASON_ELEMENT_DELETED,
}
LEFT_REASON_TO_PB = {
    "left": pb.PARTICIPANT_LEFT_REASON_LEFT,
    "disconnected": pb.PARTICIPANT_LEFT_REASON_DISCONNECTED,
    "presence_expired": pb.PARTICIPANT_LEFT_REASON_PRESENCE_EXPIRED,
    "document_deleted": pb.PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED,
}
MAX_INSERT = 64 * 1024


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def value_from_pb(value: struct_pb2.Value) -> JSON:
    return json_format.MessageToDict(value)


def value_to_pb(value: JSON) -> struct_pb2.Value:
    out = struct_pb2.Value()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    json_format.ParseDict(value, out)
    return out


# -- operations ---------------------------------------------------------------------------------
def op_from_pb(p: pb.DocumentOperation) -> ClientOp:
    """Decode one operation; what cannot be decoded becomes `Malformed` (refused with a reason)."""
    kind = p.WhichOneof("kind")
    op: Op
    try:
        if kind == "create":
            c = p.create
            op = CreateElement(
                c.element_id,
                c.parent_id,
                c.kind,
                c.position,
                {k: value_from_pb(v) for k, v in c.properties.items()},
            )
        elif kind == "delete":
            op = DeleteElement(p.delete.element_id)
        elif kind == "set":
            s = p.set
            op = SetProperty(s.element_id, s.key, value_from_pb(s.value) if s.HasField("value") else None)
        elif kind == "move":
            m = p.move
            op = MoveElement(m.element_id, m.parent_id, m.position)
        elif kind == "edit_text":
            e = p.edit_text
            comps: list[int | str] = []
            for comp in e.components:
                which = comp.WhichOneof("kind")
                if which == "retain":
                    comps.append(comp.retain)
                elif which == "insert":
                    comps.append(comp.insert)
                elif which == "delete":
                    comps.append(-comp.delete)
                else:
                    raise textop.TextOpError("a text component has no kind set")
            op = EditText(e.element_id, e.key, textop.validate(comps, MAX_INSERT))
        else:
            op = Malformed("the operation has no kind set (create, delete, set, move or edit_text)")
    except textop.TextOpError as exc:
        op = Malformed(f"edit_text: {exc}")
    return ClientOp(p.client_seq, op)


def op_to_pb(client_seq: int, op: Op) -> pb.DocumentOperation:
    out = pb.DocumentOperation(client_seq=client_seq)
    if isinstance(op, CreateElement):
        out.create.element_id = op.element_id
        out.create.parent_id = op.parent_id
        out.create.kind = op.kind
        out.create.position = op.position
        for k, v in op.properties.items():
            out.create.properties[k].CopyFrom(value_to_pb(v))
    elif isinstance(op, DeleteElement):
        out.delete.element_id = op.element_id
    elif isinstance(op, SetProperty):
        out.set.element_id = op.element_id
        out.set.key = op.key
        if op.value is not None:
            out.set.value.CopyFrom(value_to_pb(op.value))
    elif isinstance(op, MoveElement):
        out.move.element_id = op.element_id
        out.move.parent_id = op.parent_id
        out.move.position = op.position
    elif isinstance(op, EditText):
        out.edit_text.element_id = op.element_id
        out.edit_text.key = op.key
        for c in op.components:
            if isinstance(c, str):
                out.edit_text.components.add(insert=c)
            elif c > 0:
                out.edit_text.components.add(retain=c)
            else:
                out.edit_text.components.add(delete=-c)
    return out


def applied_to_pb(a: Applied) -> pb.AppliedOperation:
    return pb.AppliedOperation(
        version=a.version,
        author=a.author,
        client_id=a.client_id,
        operation=op_to_pb(a.client_seq, a.op),
        applied_at=timestamp(a.applied_at),
    )


def applied_from_pb(p: pb.AppliedOperation) -> Applied:
    cop = op_from_pb(p.operation)
    return Applied(
        p.version, p.author, p.client_id, cop.client_seq, cop.op, p.applied_at.ToNanoseconds() / 1e9
    )


# -- documents ----------------------------------------------------------------------------------
def element_to_pb(e: Element) -> pb.DocumentElement:
    out = pb.DocumentElement(
        element_id=e.element_id,
        parent_id=e.parent_id,
        kind=e.kind,
        position=e.position,
        created_by=e.created_by,
        created_version=e.created_version,
    )
    for k, v in e.properties.items():
        out.properties[k].CopyFrom(value_to_pb(v))
    return out


def snapshot_to_pb(doc: Document) -> pb.DocumentSnapshot:
    return pb.DocumentSnapshot(
        document_id=doc.document_id, version=doc.version, elements=[element_to_pb(e) for e in doc.ordered()]
    )


def snapshot_from_pb(p: pb.DocumentSnapshot) -> Document:
    doc = Document(p.document_id, p.version)
    for e in p.elements:
        doc.elements[e.element_id] = Element(
            e.element_id,
            e.parent_id,
            e.kind,
            e.position,
            {k: value_from_pb(v) for k, v in e.properties.items()},
            e.created_by,
            e.created_version,
        )
    doc.recount()
    return doc


def lease_to_pb(lease: Lease) -> pb.ElementLease:
    return pb.ElementLease(
        element_id=lease.element_id,
        holder_session_id=lease.session_id,
        holder_user_id=lease.user_id,
        holder_name=lease.holder_name,
        expires_at=timestamp(lease.expires_at),
    )


def participant_to_pb(s: Any) -> pb.DocumentParticipant:
    return pb.DocumentParticipant(
        session_id=s.session_id,
        user_id=s.user_id,
        display_name=s.display_name or s.user_id,
        color=s.color,
        status=STATUS_TO_PB.get(s.status, pb.PARTICIPANT_STATUS_VIEWING),
        selected_element_id=s.selected_element_id,
        role=ROLE_TO_PB.get(s.role, pb.DOCUMENT_ROLE_UNSPECIFIED),
        client_id=s.client_id,
    )


# -- the servicer ---------------------------------------------------------------------------------
SERVICE = "realtime.v1.CollaborationService"
log = logging.getLogger("realtime.collaboration")


def _duration(seconds: float) -> Any:
    from google.protobuf import duration_pb2

    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def encode(event: ev.Event) -> pb.CollaborateResponse:
    """The protobuf form of an event, without command_id (see `_for`)."""
    r = pb.CollaborateResponse()
    if isinstance(event, ev.AppliedBatch):
        r.applied.operations.extend(applied_to_pb(a) for a in event.operations)
    elif isinstance(event, ev.Cursor):
        r.cursor.CopyFrom(
            pb.CursorMovedEvent(
                session_id=event.session_id,
                user_id=event.user_id,
                element_id=event.element_id,
                x=event.x,
                y=event.y,
                text_offset=event.text_offset,
            )
        )
    elif isinstance(event, ev.Joined):
        j = r.joined
        j.document_id = event.document_id
        j.version = event.catchup.version
        if event.catchup.snapshot is not None:
            j.snapshot.CopyFrom(snapshot_to_pb(event.catchup.snapshot))
        j.replay.extend(applied_to_pb(a) for a in event.catchup.tail)
        j.recovered = event.catchup.recovered
        j.participants.extend(participant_to_pb(p) for p in event.participants)
        j.leases.extend(lease_to_pb(x) for x in event.leases)
        j.role = ROLE_TO_PB[event.role]
        j.session_id = event.session_id
    elif isinstance(event, ev.Rejected):
        for x in event.rejections:
            item = r.rejected.operations.add(
                client_seq=x.client_seq, code=int(x.code), reason=x.reason, message=x.message
            )
            if x.lease is not None:
                item.lease.CopyFrom(lease_to_pb(x.lease))
    elif isinstance(event, ev.PresenceChanged):
        r.presence.participant.CopyFrom(participant_to_pb(event.participant))
    elif isinstance(event, ev.LeaseGranted):
        r.lease_granted.lease.CopyFrom(lease_to_pb(event.lease))
    elif isinstance(event, ev.LeaseDenied):
        r.lease_denied.element_id = event.element_id
        r.lease_denied.held_by.CopyFrom(lease_to_pb(event.held_by))
    elif isinstance(event, ev.LeaseReleased):
        r.lease_released.lease.CopyFrom(lease_to_pb(event.lease))
        r.lease_released.reason = LEASE_REASON_TO_PB[event.reason]
        r.lease_released.broken_by = event.broken_by
    elif isinstance(event, ev.ParticipantJoined):
        r.participant_joined.participant.CopyFrom(participant_to_pb(event.participant))
    elif isinstance(event, ev.ParticipantLeft):
        r.participant_left.session_id = event.session_id
        r.participant_left.user_id = event.user_id
        r.participant_left.reason = LEFT_REASON_TO_PB[event.reason]
    elif isinstance(event, ev.Error):
        r.error.CopyFrom(error_event(event.error))
    elif isinstance(event, ev.Pong):
        r.pong.CopyFrom(common_pb2.PongEvent())
    elif isinstance(event, ev.Duplicate):
        r.duplicate.client_seqs.extend(event.client_seqs)
        r.duplicate.version = event.version
    elif isinstance(event, ev.Left):
        r.left.document_id = event.document_id
    elif isinstance(event, ev.GoingAway):
        r.going_away.CopyFrom(common_pb2.GoingAwayEvent(reason=event.reason, grace=_duration(event.grace)))
    return r


def _for(event: ev.Event, session_id: str) -> pb.CollaborateResponse:
    """Encode once per event (broadcasts are shared); echo command_id only to its origin."""
    if isinstance(event, (ev.PresenceChanged, ev.Joined)):
        wire = encode(event)  # carries mutable participant state: encode as it is now
    else:
        if event.wire is None:
            event.wire = encode(event)
        wire = event.wire
    echo = event.command_id and (not event.origin or event.origin == session_id)
    if not echo:
        return wire  # type: ignore[no-any-return]
    out = pb.CollaborateResponse()
    out.CopyFrom(wire)
    out.command_id = event.command_id
    if out.WhichOneof("event") == "error":
        out.error.command_id = event.command_id
    return out


class _Connection:
    """One Collaborate stream's state: the caller, its outbox and its joined session (if any).

    With several replicas a connection is either served here (`session`), relayed to the
    document's owner (`proxy`: this replica forwards commands and relays events), or is the
    owner-side twin of a client connected elsewhere (`remote`).
    """

    def __init__(self, who: Principal, outbox: Outbox) -> None:
        self.who = who
        self.outbox = outbox
        self.session: Session | None = None
        self.stream_id = uuid.uuid4().hex[:12]
        self.proxy: tuple[str, str] | None = None  # (owner instance, document id)
        self.proxy_join: str = ""  # the relayed join's command id until the owner answers it
        self.remote: tuple[str, str] | None = None  # (client's replica, stream id there)
        self.forwarder: asyncio.Task[None] | None = None
        self.read_error: HubError | None = None  # a request that did not parse ends the stream with it


def _unavailable(message: str) -> HubError:
    return HubError(Code.UNAVAILABLE, message, reason="OWNER_MOVED", retry_after=0.5)


class CollaborationServicer(collaboration_pb2_grpc.CollaborationServiceServicer):
    def __init__(
        self, hub: HubContext, directory: Directory, config: CollabConfig, cluster: Cluster | None = None
    ) -> None:
        self._hub = hub
        self.directory = directory
        self.config = config
        self.cluster = cluster
        self.proxies: dict[str, _Connection] = {}  # stream id -> relayed connection
        self.remotes: dict[tuple[str, str], _Connection] = {}  # (replica, stream id) -> twin
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

    async def CreateDocument(
        self, request: pb.CreateDocumentRequest, context: Any
    ) -> pb.CreateDocumentResponse:
        who = current_principal()
        meta = await self.directory.create(who, request.document_id, request.title)
        return pb.CreateDocumentResponse(document=await self._info(meta, who))

    async def GetDocument(self, request: pb.GetDocumentRequest, context: Any) -> pb.GetDocumentResponse:
        who = current_principal()
        meta, _ = await self.directory.access(who, request.document_id)
        if request.HasField("version"):
            return await self._document_at(meta, who, request.version)
        if self.cluster is not None and await self._owner(request.document_id) != self.cluster.instance_id:
            doc = await self._read_shared(request.document_id)
        else:
            doc = (await self._open(request.document_id)).room.seq.doc
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
        if self.cluster is not None and await self._owner(document_id) != self.cluster.instance_id:
            state = await self.directory.store.load(document_id)
            ops = await self.cluster.journal_since(document_id, 0)
            if ops and ops[0].version == 1:
                base = Document(document_id)
            else:
                base = Document.from_dict(state["doc"]) if state else Document(document_id)
            current = max(base.version, ops[-1].version if ops else 0)
            return base, ops, current
        seq = (await self._open(document_id)).room.seq
        by_version = {a.version: a for a in seq.log}
        if self.directory.oplog is not None:  # not yet written to the history store
            by_version.update((a.version, a) for a in self.directory.oplog.pending.get(document_id, []))
        return seq.floor.copy(), [by_version[v] for v in sorted(by_version)], seq.version

    async def _document_at(self, meta: DocumentMeta, who: Principal, version: int) -> pb.GetDocumentResponse:
        doc = await self.history.document_at(meta.document_id, version)
        info = await self._info(meta, who)
        info.version = doc.version
        return pb.GetDocumentResponse(document=info, snapshot=snapshot_to_pb(doc))

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
            if owner is not None and owner != self.cluster.instance_id:
                await self.cluster.send(owner, {"k": "deleted", "doc": request.document_id})
            self._disown(request.document_id)
        return pb.DeleteDocumentResponse(document_id=request.document_id)

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
                raise _unavailable("the document moved to another replica; reconnect with since_version")
            if conn.read_error is not None:
                raise conn.read_error
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await self._end(conn)

    def _connection(self, who: Principal) -> _Connection:
        return _Connection(
            who,
            Outbox(max_events=self.config.max_queued_events, cursor_interval=1.0 / self.config.cursor_rate),
        )

    async def _messages(self, conn: _Connection) -> AsyncIterator[pb.CollaborateResponse]:
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
            message = _for(event, session_id)
            if isinstance(event, ev.AppliedBatch) and event.origin != session_id:
                more = outbox.take_applied(session_id)
                if more:  # this reader is behind: send the queued batches as one message
                    merged = pb.CollaborateResponse()
                    merged.CopyFrom(message)
                    for extra in more:
                        merged.applied.operations.extend(_for(extra, session_id).applied.operations)
                    message = merged
            yield message

    async def _read(self, requests: AsyncIterator[pb.CollaborateRequest], conn: _Connection) -> None:
        outbox = conn.outbox
        try:
            async for command in commands_until_shutdown(requests, self._hub.shutdown):
                if command is None:
                    outbox.put(ev.GoingAway("server shutting down", self._hub.shutdown.grace))
                    outbox.close("going_away")
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

    async def _run(self, command: pb.CollaborateRequest, conn: _Connection) -> None:
        try:
            await self._handle(command, conn)
        except HubError as err:
            conn.outbox.put(ev.Error(err, command_id=command.id))
        except Exception:
            log.exception("collaboration command failed")
            conn.outbox.put(
                ev.Error(HubError(Code.INTERNAL, "internal error; see the server log"), command_id=command.id)
            )

    def _detach(self, conn: _Connection, reason: str) -> None:
        session = conn.session
        conn.session = None
        if session is None:
            return
        if session.room is not None:
            session.room.leave(session, reason)
        self.directory.release(session)

    async def _end(self, conn: _Connection) -> None:
        """The client's stream ended."""
        self._detach(conn, "disconnected")
        if conn.proxy is not None and self.cluster is not None:
            owner, _ = conn.proxy
            conn.proxy = None
            self.proxies.pop(conn.stream_id, None)
            with contextlib.suppress(Exception):
                await self.cluster.send(
                    owner, {"k": "detach", "s": conn.stream_id, "from": self.cluster.instance_id}
                )

    async def _handle(self, command: pb.CollaborateRequest, conn: _Connection) -> None:
        kind = command.WhichOneof("command")
        cid = command.id
        if conn.proxy is not None:
            if kind == "join":
                raise failed_precondition("already joined; leave first", reason="ALREADY_JOINED")
            assert self.cluster is not None
            await self.cluster.send(
                conn.proxy[0],
                {
                    "k": "cmd",
                    "s": conn.stream_id,
                    "from": self.cluster.instance_id,
                    "d": b64(command.SerializeToString()),
                },
            )
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
            ops = [op_from_pb(o) for o in command.op.operations]
            if room.journal is None:
                room.submit(session, command.op.base_version, ops, cid)
            else:
                try:
                    await room.submit_journaled(session, command.op.base_version, ops, cid)
                except BrokerError as exc:
                    # Not durable, so not acknowledged: drop the room; clients reload from the journal.
                    self._evict(room.document_id, _unavailable(f"the journal is unavailable: {exc}"))
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

    async def _join(self, command: pb.CollaborateRequest, conn: _Connection) -> None:
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
                    raise _unavailable("this replica no longer owns the document; reconnect")
                conn.proxy = (owner, join.document_id)
                conn.proxy_join = cid
                self.proxies[conn.stream_id] = conn
                principal = {"sub": who.subject, "roles": sorted(who.roles), "exp": who.expires_at}
                await self.cluster.send(
                    owner,
                    {
                        "k": "join",
                        "s": conn.stream_id,
                        "from": self.cluster.instance_id,
                        "who": principal,
                        "d": b64(command.SerializeToString()),
                    },
                )
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
            raise HubError(Code.UNAVAILABLE, f"the broker is unavailable: {exc}", retry_after=1.0) from None

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
                self._evict(document_id, _unavailable("this replica lost the document; reconnect"))
                return

    def _evict(self, document_id: str, error: HubError) -> None:
        self.directory.evict(document_id, error)
        task = self.owned.pop(document_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _disown(self, document_id: str) -> None:
        task = self.owned.pop(document_id, None)
        if task is not None:
            task.cancel()

    async def inbox(self, message: dict[str, Any]) -> None:
        """A message from another replica (see cluster.py)."""
        assert self.cluster is not None
        kind = message.get("k")
        key = (str(message.get("from", "")), str(message.get("s", "")))
        if kind == "join":
            who = message["who"]
            conn = self._connection(Principal(who["sub"], frozenset(who["roles"]), float(who["exp"])))
            conn.remote = key
            self.remotes[key] = conn
            conn.forwarder = asyncio.get_running_loop().create_task(
                self._forward(conn), name="collab-forward"
            )
            await self._run(pb.CollaborateRequest.FromString(unb64(message["d"])), conn)
        elif kind == "cmd":
            twin = self.remotes.get(key)
            if twin is None:
                await self.cluster.send(key[0], {"k": "end", "s": key[1], "reason": "unknown session"})
                return
            await self._run(pb.CollaborateRequest.FromString(unb64(message["d"])), twin)
        elif kind == "detach":
            twin = self.remotes.pop(key, None)
            if twin is not None:
                self._detach(twin, "disconnected")
                if twin.forwarder is not None:
                    twin.forwarder.cancel()
        elif kind == "ev":
            proxy = self.proxies.get(key[1])
            if proxy is not None:
                data = unb64(message["d"])
                proxy.outbox.put(ev.Relayed(data))
                event = pb.CollaborateResponse.FromString(data)
                kind = event.WhichOneof("event")
                if kind == "joined":
                    proxy.proxy_join = ""
                # after `left`, or when the owner refused the join, the stream is free to join again
                refused = kind == "error" and proxy.proxy_join and event.command_id == proxy.proxy_join
                if kind == "left" or refused:
                    owner = proxy.proxy[0] if proxy.proxy else ""
                    proxy.proxy = None
                    self.proxies.pop(key[1], None)
                    await self.cluster.send(
                        owner, {"k": "detach", "s": key[1], "from": self.cluster.instance_id}
                    )
        elif kind == "end":
            proxy = self.proxies.pop(key[1], None)
            if proxy is not None:
                proxy.proxy = None
                proxy.outbox.put(
                    ev.Error(_unavailable(str(message.get("reason", "owner ended the session"))))
                )
                proxy.outbox.close(OWNER_MOVED)
        elif kind == "deleted":
            document_id = str(message["doc"])
            live = self.directory.live.pop(document_id, None)
            if live is not None:
                for session in list(live.room.sessions.values()):
                    self.directory.release(session)
                live.room.close()
                if live.saver is not None:
                    live.saver.cancel()
            self._disown(document_id)

    async def _forward(self, twin: _Connection) -> None:
        """Relay the events of a client connected to another replica."""
        assert self.cluster is not None and twin.remote is not None
        replica, stream_id = twin.remote
        try:
            async for message in self._messages(twin):
                await self.cluster.send(
                    replica,
                    {
                        "k": "ev",
                        "s": stream_id,
                        "from": self.cluster.instance_id,
                        "d": b64(message.SerializeToString()),
                    },
                )
            if twin.outbox.closed in (OVERFLOW, OWNER_MOVED):
                await self.cluster.send(replica, {"k": "end", "s": stream_id, "reason": twin.outbox.closed})
        except BrokerError:
            log.warning("cannot relay events to replica %s", replica)
        finally:
            if self.remotes.get(twin.remote) is twin:
                del self.remotes[twin.remote]
                self._detach(twin, "disconnected")

    async def watch(self) -> None:
        """Expire what other replicas left behind: relayed streams whose owner changed, and twins
        of clients whose replica went silent (it died: no ping was forwarded for long)."""
        assert self.cluster is not None
        while True:
            await asyncio.sleep(max(self.cluster.owner_ttl / 2, 0.05))
            for stream_id, conn in list(self.proxies.items()):
                if conn.proxy is None:
                    continue
                owner, document_id = conn.proxy
                try:
                    current = await self.cluster.owner_of(document_id)
                except BrokerError:
                    continue
                if current != owner:
                    self.proxies.pop(stream_id, None)
                    conn.proxy = None
                    conn.outbox.put(ev.Error(_unavailable("the document's replica went away; reconnect")))
                    conn.outbox.close(OWNER_MOVED)
            limit = self.directory.clock() - 2 * self.config.presence_ttl
            for key, twin in list(self.remotes.items()):
                if twin.session is not None and twin.session.last_seen < limit:
                    self.remotes.pop(key, None)
                    self._detach(twin, "disconnected")
                    if twin.forwarder is not None:
                        twin.forwarder.cancel()

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
        directory.tail_loader = cluster.journal_since
    else:
        directory = Directory(config, store, clock=clock)
    servicer = CollaborationServicer(hub, directory, config, cluster)
    hub.metrics.registry.register(_Metrics(directory))  # type: ignore[arg-type]
    collaboration_pb2_grpc.add_CollaborationServiceServicer_to_server(servicer, hub.server)
    hub.spawn(_sweeper(directory, config.sweep_interval), name="collaboration-sweeper")
    if cluster is not None:
        await cluster.start(servicer.inbox)
        hub.spawn(servicer.watch(), name="collaboration-watch")
    hub.on_stop.append(servicer.close)
    hub.collaboration = servicer  # type: ignore[attr-defined]
    return [SERVICE]
