"""A room: the live side of one document (sequencer, participants, leases, cursors).

All methods are synchronous and run on the event loop, so each is atomic: the
room is the document's single owner and needs no locks. Events go to the
sessions' outboxes; a joining session gets its snapshot or replay in the same
step it starts receiving broadcasts, so nothing falls in between.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from realtime.common.collaboration.ops import (
    Applied,
    ClientOp,
    CreateElement,
    MoveElement,
    Op,
    OpRefused,
    Rejection,
)

from ..platform.errors import (
    Code,
    HubError,
    invalid_argument,
    not_found,
    permission_denied,
    resource_exhausted,
)
from . import events as ev
from .config import CollabConfig
from .leases import Lease, LeaseTable
from .outbox import Outbox
from .sequencer import Sequencer, SubmitResult

OWNER, EDITOR, VIEWER = "owner", "editor", "viewer"
STATUSES = ("viewing", "editing", "idle")


@dataclass(eq=False)
class Session:
    session_id: str
    user_id: str
    client_id: str
    role: str
    outbox: Outbox
    display_name: str = ""
    color: str = ""
    status: str = "viewing"
    selected_element_id: str = ""
    last_seen: float = 0.0
    present: bool = True
    is_admin: bool = False
    room: Room | None = field(default=None, repr=False)
    #: Counted against the user's session limit (released exactly once).
    counted: bool = False


class Room:
    def __init__(
        self,
        document_id: str,
        sequencer: Sequencer,
        config: CollabConfig,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
        stats: Counter[str] | None = None,
    ) -> None:
        self.document_id = document_id
        #: Cumulative counts (shared by the rooms of a directory, exported as metrics).
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self.seq = sequencer
        self.config = config
        self.clock = clock
        self.on_change = on_change
        self.sessions: dict[str, Session] = {}
        self.leases = LeaseTable(config.lease_ttl, clock)
        self.ops_applied = 0
        #: With several replicas: appends applied batches to the broker's journal.
        self.journal: Callable[[list[Applied]], Awaitable[None]] | None = None
        self.lock = asyncio.Lock()
        #: Set once the room left its directory (evicted, handed back, deleted): no more joins.
        self.closed = False

    # -- membership ---------------------------------------------------------------------
    def join(self, session: Session, since_version: int | None, command_id: str = "") -> None:
        if len(self.sessions) >= self.config.max_participants:
            raise resource_exhausted(
                f"document {self.document_id!r} has {len(self.sessions)} participants; "
                f"at most {self.config.max_participants} are allowed",
                reason="PARTICIPANT_LIMIT",
            )
        catchup = self.seq.since(since_version)
        session.room = self
        session.last_seen = self.clock()
        session.present = True
        self.sessions[session.session_id] = session
        session.outbox.put(
            ev.Joined(
                self.document_id,
                catchup,
                [s for s in self.sessions.values() if s.present],
                self.leases.all(),
                session.role,
                session.session_id,
                self.seq.clients.get(session.client_id, 0),
                command_id=command_id,
            )
        )
        self._broadcast(ev.ParticipantJoined(session), skip=session.session_id)

    def leave(self, session: Session, reason: str) -> None:
        """Remove the session; `reason` is 'left' or 'disconnected' (or 'document_deleted')."""
        if self.sessions.pop(session.session_id, None) is None:
            return
        session.room = None
        for lease in self.leases.release_session(session.session_id):
            self._broadcast(ev.LeaseReleased(lease, "holder_left"))
        for other in self.sessions.values():
            other.outbox.forget_cursor(session.session_id)
        if session.present:
            self._broadcast(ev.ParticipantLeft(session.session_id, session.user_id, reason))

    def touch(self, session: Session) -> None:
        """The session is alive: refresh presence and renew its leases (any command does this)."""
        session.last_seen = self.clock()
        self.leases.renew_session(session.session_id)
        if not session.present:
            session.present = True
            self._broadcast(ev.ParticipantJoined(session), skip=session.session_id)

    # -- operations --------------------------------------------------------------------------
    def submit(
        self,
        session: Session,
        base_version: int,
        ops: list[ClientOp],
        command_id: str = "",
        *,
        broadcast: bool = True,
    ) -> SubmitResult:
        """Sequence the batch; broadcast it (unless `broadcast=False`: see `submit_journaled`)."""
        if not ops:
            raise invalid_argument("an op command needs at least one operation", [("op.operations", "empty")])
        if len(ops) > self.config.max_batch:
            raise invalid_argument(
                f"{len(ops)} operations in one command; at most {self.config.max_batch}",
                [("op.operations", "too many")],
            )
        if session.role == VIEWER:
            session.outbox.put(
                ev.Rejected(
                    [
                        Rejection(
                            c.client_seq, Code.PERMISSION_DENIED, "PERMISSION_DENIED", "viewers cannot edit"
                        )
                        for c in ops
                    ],
                    command_id=command_id,
                )
            )
            return SubmitResult()
        result = self.seq.submit(
            session.user_id, session.client_id, base_version, ops, guard=lambda op: self._guard(session, op)
        )
        if result.rejected:
            self.stats["operations_rejected"] += len(result.rejected)
            session.outbox.put(ev.Rejected(result.rejected, command_id=command_id))
        if broadcast and result.applied:
            self.publish_applied(session, result.applied, command_id)
        if broadcast:
            self.acknowledge(session, result, command_id)
        return result

    def acknowledge(self, session: Session, result: SubmitResult, command_id: str = "") -> None:
        """Tell the author about operations acknowledged without a version of their own:
        resent ones (applied before) and text edits that concurrent edits made no-ops."""
        seqs = sorted(result.duplicate + result.absorbed)
        if not seqs:
            return
        answered = bool(result.applied or result.rejected)  # that event carries the command id
        if not answered and not result.absorbed:
            self.stats["batches_duplicate"] += 1
        session.outbox.put(
            ev.Duplicate(
                seqs,
                self.seq.version,
                absorbed=list(result.absorbed),
                command_id="" if answered else command_id,
            )
        )

    def publish_applied(self, session: Session, applied: list[Applied], command_id: str = "") -> None:
        self.ops_applied += len(applied)
        self.stats["operations_applied"] += len(applied)
        self._broadcast(ev.AppliedBatch(applied, command_id=command_id, origin=session.session_id))
        self._drop_leases_of_deleted()
        self.on_change()

    async def submit_journaled(
        self, session: Session, base_version: int, ops: list[ClientOp], command_id: str = ""
    ) -> None:
        """Sequence, append to the journal, and only then broadcast (the acknowledgement).

        The lock keeps journal order equal to version order.
        """
        if self.journal is None:
            self.submit(session, base_version, ops, command_id)
            return
        async with self.lock:
            result = self.submit(session, base_version, ops, command_id, broadcast=False)
            if result.applied:
                await self.journal(result.applied)
                self.publish_applied(session, result.applied, command_id)
            self.acknowledge(session, result, command_id)

    def _guard(self, session: Session, op: Op) -> None:
        chains: list[str] = []
        if isinstance(op, CreateElement):
            chains.extend(self.seq.doc.ancestors(op.parent_id))
        else:
            element_id = getattr(op, "element_id", "")
            chains.extend(self.seq.doc.ancestors(element_id))
            if isinstance(op, MoveElement):
                chains.extend(self.seq.doc.ancestors(op.parent_id))
        lease = self.leases.holding(chains, session.session_id)
        if lease is not None:
            raise OpRefused(
                Code.FAILED_PRECONDITION,
                "LEASED_BY_OTHER",
                f"element {lease.element_id!r} is leased by {lease.holder_name or lease.user_id}",
                lease,
            )

    def _drop_leases_of_deleted(self) -> None:
        for lease in list(self.leases.by_element.values()):
            el = self.seq.doc.elements.get(lease.element_id)
            if el is None or el.deleted:
                self.leases.release(lease.element_id)
                self._broadcast(ev.LeaseReleased(lease, "element_deleted"))

    # -- presence and cursors ------------------------------------------------------------------
    def presence(self, session: Session, status: str, selected: str, command_id: str = "") -> None:
        if status not in STATUSES:
            raise invalid_argument(f"unknown presence status {status!r}", [("presence.status", "unknown")])
        session.status = status
        session.selected_element_id = selected[:128]
        self._broadcast(ev.PresenceChanged(session, command_id=command_id, origin=session.session_id))

    def cursor(self, session: Session, element_id: str, x: float, y: float, text_offset: int) -> None:
        self.stats["cursor_updates"] += 1
        cursor = ev.Cursor(session.session_id, session.user_id, element_id[:128], x, y, text_offset)
        for other in self.sessions.values():
            if other is not session:
                other.outbox.put_cursor(session.session_id, cursor)

    # -- leases ------------------------------------------------------------------------------
    def acquire(self, session: Session, element_id: str, command_id: str = "") -> None:
        doc = self.seq.doc
        el = doc.elements.get(element_id)
        if el is None or el.deleted:
            raise not_found(f"element {element_id!r} does not exist", reason="ELEMENT_NOT_FOUND")
        if session.role == VIEWER:
            raise permission_denied("viewers cannot take leases")

        def under(other: str) -> bool:
            return element_id in doc.ancestors(other)

        held = self.leases.conflict(under, doc.ancestors(element_id), session.session_id)
        if held is not None:
            session.outbox.put(ev.LeaseDenied(element_id, held, command_id=command_id))
            return
        lease = self.leases.grant(
            element_id, session.session_id, session.user_id, session.display_name or session.user_id
        )
        self.leases.renew_session(session.session_id)
        self._broadcast(ev.LeaseGranted(lease, command_id=command_id, origin=session.session_id))

    def release(self, session: Session, element_id: str, force: bool, command_id: str = "") -> None:
        lease = self.leases.by_element.get(element_id)
        if lease is None:
            raise not_found(f"no lease on element {element_id!r}", reason="LEASE_NOT_FOUND")
        if lease.session_id == session.session_id:
            self.leases.release(element_id)
            self._broadcast(
                ev.LeaseReleased(lease, "released", command_id=command_id, origin=session.session_id)
            )
            return
        if not force:
            raise HubError(
                Code.FAILED_PRECONDITION,
                f"the lease on {element_id!r} is held by {lease.holder_name}; only the owner can break it "
                "(force=true)",
                reason="LEASED_BY_OTHER",
            )
        if session.role != OWNER and not session.is_admin:
            raise permission_denied("only the document owner can break someone else's lease")
        self.leases.release(element_id)
        self._broadcast(
            ev.LeaseReleased(
                lease, "broken_by_owner", session.user_id, command_id=command_id, origin=session.session_id
            )
        )

    # -- time ------------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Expire leases and presence entries that were not renewed in time."""
        for lease in self.leases.expire():
            self._broadcast(ev.LeaseReleased(lease, "expired"))
        limit = self.clock() - self.config.presence_ttl
        for session in list(self.sessions.values()):
            if session.present and session.last_seen <= limit:
                session.present = False
                self._broadcast(
                    ev.ParticipantLeft(session.session_id, session.user_id, "presence_expired"),
                    skip=session.session_id,
                )

    def close(self) -> None:
        """The document was deleted: every session is told and detached."""
        self.closed = True
        for session in list(self.sessions.values()):
            self.sessions.pop(session.session_id)
            session.room = None
            session.outbox.put(ev.ParticipantLeft(session.session_id, session.user_id, "document_deleted"))
            session.outbox.put(ev.Error(not_found(f"document {self.document_id!r} was deleted")))

    # -- helpers ---------------------------------------------------------------------------------
    def _broadcast(self, event: ev.Event, skip: str = "") -> None:
        for session in list(self.sessions.values()):
            if session.session_id != skip:
                session.outbox.put(event)

    def lease_list(self) -> list[Lease]:
        return self.leases.all()
