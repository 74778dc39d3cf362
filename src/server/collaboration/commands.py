"""The commands of a `Collaborate` stream: join, operations, presence, cursors, leases, leave.

Plain Python over the generated request messages (no grpc): service.py reads the stream and
hands each command here; answers and broadcasts go to the sessions' outboxes. A command on a
relayed stream (the document's owner is another replica) is forwarded to it as bytes.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable

from realtime.common.collaboration.convert import op_from_pb
from realtime.v1 import collaboration_pb2 as pb

from ..broker.base import BrokerError
from ..platform.errors import failed_precondition, invalid_argument
from . import events as ev
from .convert import STATUS_FROM_PB
from .documents import Documents
from .relay import Connection, Relay, unavailable
from .room import Room, Session

Handler = Callable[[pb.CollaborateRequest, Connection, Session, Room], Awaitable[None]]


class Commands:
    def __init__(self, documents: Documents, relay: Relay | None) -> None:
        self.documents = documents
        self.directory = documents.directory
        self.cluster = documents.cluster
        self.relay = relay
        #: The commands that need a joined session, by their field in the `command` oneof.
        self._in_room: dict[str, Handler] = {
            "op": self._op,
            "presence": self._presence,
            "cursor": self._cursor,
            "acquire_lease": self._acquire,
            "release_lease": self._release,
            "leave": self._leave,
        }

    async def handle(self, command: pb.CollaborateRequest, conn: Connection) -> None:
        kind = command.WhichOneof("command")
        if conn.proxy is not None:
            if kind == "join":
                raise failed_precondition("already joined; leave first", reason="ALREADY_JOINED")
            assert self.relay is not None
            await self.relay.command(conn, command.SerializeToString())
            return
        if kind == "join":
            await self.join(command, conn)
            return
        if kind == "ping":
            if conn.session is not None and conn.session.room is not None:
                conn.session.room.touch(conn.session)
            conn.outbox.put(ev.Pong(command_id=command.id))
            return
        if kind is None:
            raise invalid_argument(
                "command is empty: set one of join, op, presence, cursor, ...", [("command", "unset")]
            )
        session = conn.session
        if session is None or session.room is None:
            if session is not None:  # the document was deleted under us
                self.documents.detach(conn, "document_deleted")
            raise failed_precondition(f"send join before {kind}", reason="NOT_JOINED")
        room = session.room
        room.touch(session)
        handler = self._in_room.get(kind)
        if handler is not None:
            await handler(command, conn, session, room)

    async def _op(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        limit = room.seq.doc.limits.max_insert_length
        ops = [op_from_pb(o, limit) for o in command.op.operations]
        if room.journal is None:
            room.submit(session, command.op.base_version, ops, command.id)
            return
        try:
            await room.submit_journaled(session, command.op.base_version, ops, command.id)
        except BrokerError as exc:
            # Not durable, so not acknowledged: drop the room; clients reload from the journal.
            self.documents.evict(room.document_id, unavailable(f"the journal is unavailable: {exc}"))

    async def _presence(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        status = STATUS_FROM_PB.get(command.presence.status)
        if status is None:
            raise invalid_argument(
                "unknown presence status", [("presence.status", str(command.presence.status))]
            )
        room.presence(session, status, command.presence.selected_element_id, command.id)

    async def _cursor(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        c = command.cursor
        if not (math.isfinite(c.x) and math.isfinite(c.y)):
            raise invalid_argument("cursor coordinates must be finite", [("cursor", "not finite")])
        room.cursor(session, c.element_id, c.x, c.y, c.text_offset)

    async def _acquire(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        room.acquire(session, command.acquire_lease.element_id, command.id)

    async def _release(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        room.release(session, command.release_lease.element_id, command.release_lease.force, command.id)

    async def _leave(
        self, command: pb.CollaborateRequest, conn: Connection, session: Session, room: Room
    ) -> None:
        document_id = room.document_id
        self.documents.detach(conn, "left")
        conn.outbox.put(ev.Left(document_id, command_id=command.id))

    async def join(self, command: pb.CollaborateRequest, conn: Connection) -> None:
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
            owner = await self.documents.owner(join.document_id)
            if owner != self.cluster.instance_id:
                if conn.remote is not None:  # forwarded here, but ownership moved on: the client retries
                    raise unavailable("this replica no longer owns the document; reconnect")
                assert self.relay is not None
                await self.relay.join(conn, owner, join.document_id, cid, command.SerializeToString())
                return
        live = await self.documents.open(join.document_id)
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
