"""Events a session receives, in plain Python; wire.py encodes them (once per broadcast).

`origin` is the session whose command caused a broadcast event: only that
session sees `command_id` echoed. Direct events (origin "") always echo it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime.common.collaboration.ops import Applied, Rejection

from ..platform.errors import HubError
from .leases import Lease
from .sequencer import Catchup

if TYPE_CHECKING:
    from .room import Session


@dataclass(eq=False)
class Event:
    command_id: str = field(default="", kw_only=True)
    origin: str = field(default="", kw_only=True)
    #: The serialized event without command_id, made once for every recipient (wire.py).
    wire: bytes | None = field(default=None, kw_only=True, repr=False)
    #: What `wire` was made from when the event's content can change (a presence change).
    wire_state: Any = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Joined(Event):
    document_id: str
    catchup: Catchup
    participants: list[Session]
    leases: list[Lease]
    role: str
    session_id: str
    #: The highest client_seq of the session's client id the document applied.
    last_client_seq: int = 0


@dataclass(eq=False)
class AppliedBatch(Event):
    operations: list[Applied]
    #: The serialized OperationsAppliedEvent (wire.py), shared by `wire` and merged messages.
    operations_wire: bytes | None = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Rejected(Event):
    rejections: list[Rejection]


@dataclass(eq=False)
class PresenceChanged(Event):
    participant: Session


@dataclass(eq=False)
class Cursor(Event):
    session_id: str
    user_id: str
    element_id: str
    x: float
    y: float
    text_offset: int


@dataclass(eq=False)
class LeaseGranted(Event):
    lease: Lease


@dataclass(eq=False)
class LeaseDenied(Event):
    element_id: str
    held_by: Lease


@dataclass(eq=False)
class LeaseReleased(Event):
    lease: Lease
    reason: str  # released | expired | holder_left | broken_by_owner | element_deleted
    broken_by: str = ""


@dataclass(eq=False)
class ParticipantJoined(Event):
    participant: Session


@dataclass(eq=False)
class ParticipantLeft(Event):
    session_id: str
    user_id: str
    reason: str  # left | disconnected | presence_expired | document_deleted


@dataclass(eq=False)
class Error(Event):
    error: HubError


@dataclass(eq=False)
class Pong(Event):
    pass


@dataclass(eq=False)
class Duplicate(Event):
    client_seqs: list[int]
    version: int
    #: Those of `client_seqs` that became no-ops against concurrent edits (not resends).
    absorbed: list[int] = field(default_factory=list)


@dataclass(eq=False)
class Left(Event):
    document_id: str


@dataclass(eq=False)
class GoingAway(Event):
    reason: str
    grace: float


@dataclass(eq=False)
class Relayed(Event):
    """An already-encoded event from the document's owner on another replica."""

    data: bytes
