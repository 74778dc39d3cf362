"""Collaborate streams across replicas: typed relay messages and the routing between replicas.

A client connected to a replica that does not own its document is served through the owner:
this replica is the *proxy* (it forwards the client's commands and relays the owner's events
back); the owner holds a *twin* connection that runs those commands as if the client were
connected there. Messages travel as JSON on the broker channel `collab:to:{instance}` (see
cluster.py); each is one of the dataclasses below.

Pub/sub delivers nothing to a replica whose subscription is down, so relayed commands and
events carry a per-stream sequence number `n`: a missing one ends the stream with UNAVAILABLE
(the client rejoins with since_version and loses nothing), and when this replica's own inbox
subscription was lost every relayed stream here ends the same way.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..broker.base import BrokerError
from ..platform.auth import Principal
from ..platform.errors import Code, HubError
from . import events as ev
from .cluster import Cluster
from .directory import OWNER_MOVED
from .outbox import OVERFLOW, Outbox
from .room import Session

log = logging.getLogger("realtime.collaboration")
#: Seconds a relayed join may wait for the owner's answer before the client is told to retry.
JOIN_TIMEOUT = 5.0


def unavailable(message: str, reason: str = "OWNER_MOVED") -> HubError:
    return HubError(Code.UNAVAILABLE, message, reason=reason, retry_after=0.5)


# -- messages ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of a relayed stream (the owner re-checks access with it)."""

    subject: str
    roles: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True, slots=True)
class Join:
    """Proxy -> owner: open a twin for `stream` and run the join command (`data`)."""

    sender: str
    stream: str
    caller: Caller
    data: bytes


@dataclass(frozen=True, slots=True)
class Command:
    """Proxy -> owner: the stream's `n`-th relayed command (after the join)."""

    sender: str
    stream: str
    n: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Detach:
    """Proxy -> owner: the client went away (or left); drop the twin."""

    sender: str
    stream: str


@dataclass(frozen=True, slots=True)
class Event:
    """Owner -> proxy: the stream's `n`-th event, encoded (a CollaborateResponse)."""

    sender: str
    stream: str
    n: int
    data: bytes


@dataclass(frozen=True, slots=True)
class End:
    """Owner -> proxy: the twin is gone; end the client's stream with UNAVAILABLE."""

    sender: str
    stream: str
    reason: str


@dataclass(frozen=True, slots=True)
class Deleted:
    """Any replica -> owner: the document was deleted; close its live room."""

    sender: str
    document_id: str


Message = Join | Command | Detach | Event | End | Deleted


def to_wire(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": type(m).__name__.lower(), "sender": m.sender}
    if isinstance(m, Deleted):
        out["document_id"] = m.document_id
        return out
    out["stream"] = m.stream
    if isinstance(m, Join):
        out["caller"] = {"sub": m.caller.subject, "roles": list(m.caller.roles), "exp": m.caller.expires_at}
    if isinstance(m, (Command, Event)):
        out["n"] = m.n
    if isinstance(m, (Join, Command, Event)):
        out["data"] = base64.b64encode(m.data).decode()
    if isinstance(m, End):
        out["reason"] = m.reason
    return out


def from_wire(d: dict[str, Any]) -> Message:
    """Decode a relay message; KeyError/ValueError/TypeError when it is malformed."""
    kind, sender = str(d["kind"]), str(d["sender"])
    if kind == "deleted":
        return Deleted(sender, str(d["document_id"]))
    stream = str(d["stream"])
    if kind == "join":
        c = d["caller"]
        caller = Caller(str(c["sub"]), tuple(str(r) for r in c["roles"]), float(c["exp"]))
        return Join(sender, stream, caller, base64.b64decode(d["data"]))
    if kind == "command":
        return Command(sender, stream, int(d["n"]), base64.b64decode(d["data"]))
    if kind == "event":
        return Event(sender, stream, int(d["n"]), base64.b64decode(d["data"]))
    if kind == "detach":
        return Detach(sender, stream)
    if kind == "end":
        return End(sender, stream, str(d["reason"]))
    raise ValueError(f"unknown relay message kind {kind!r}")


# -- connections ---------------------------------------------------------------------------------
class Connection:
    """One Collaborate stream's state: the caller, its outbox and its joined session (if any).

    With several replicas a connection is either served here (`session`), relayed to the
    document's owner (`proxy`), or is the owner-side twin of a client connected elsewhere
    (`remote`).
    """

    def __init__(self, who: Principal, outbox: Outbox) -> None:
        self.who = who
        self.outbox = outbox
        self.session: Session | None = None
        self.stream_id = uuid.uuid4().hex[:12]
        self.joins = 0  # relayed joins made on this stream
        self.relay_stream = ""  # "{stream_id}.{joins}": the current relayed join's name
        self.proxy: tuple[str, str] | None = None  # (owner instance, document id)
        self.proxy_join: str = ""  # the relayed join's command id until the owner answers it
        self.remote: tuple[str, str] | None = None  # (client's replica, stream id there)
        self.forwarder: asyncio.Task[None] | None = None
        self.read_error: HubError | None = None  # a request that did not parse ends the stream with it
        self.proxy_since = 0.0  # when the relayed join was sent
        self.sent = 0  # relayed commands (proxy) or events (twin) sent
        self.received = 0  # relayed events (proxy) or commands (twin) received


class Host(Protocol):
    """What the servicer lends the relay: running commands and encoding events."""

    def connection(self, who: Principal) -> Connection: ...

    async def run_bytes(self, data: bytes, conn: Connection) -> None: ...

    def encoded(self, conn: Connection) -> AsyncIterator[bytes]: ...

    def detach(self, conn: Connection, reason: str) -> None: ...

    def classify(self, data: bytes) -> tuple[str, str]:
        """An encoded event's kind and command id."""
        ...

    def document_deleted(self, document_id: str) -> None: ...


class Relay:
    def __init__(self, cluster: Cluster, host: Host, presence_ttl: float, clock: Callable[[], float]) -> None:
        self.cluster = cluster
        self.host = host
        self.presence_ttl = presence_ttl
        self.clock = clock
        self.proxies: dict[str, Connection] = {}  # stream id -> relayed connection
        self.remotes: dict[tuple[str, str], Connection] = {}  # (replica, stream id) -> twin
        self._dropped: list[tuple[str, str]] = []  # twins dropped while the relay was down

    @property
    def me(self) -> str:
        return self.cluster.instance_id

    async def send(self, instance_id: str, message: Message) -> None:
        await self.cluster.send(instance_id, to_wire(message))

    # -- the proxy side ------------------------------------------------------------------------------
    async def join(
        self, conn: Connection, owner: str, document_id: str, command_id: str, data: bytes
    ) -> None:
        conn.proxy = (owner, document_id)
        conn.proxy_join = command_id
        conn.proxy_since = self.clock()
        conn.sent = conn.received = 0
        conn.joins += 1  # each relayed join is its own stream: late events of an earlier one are ignored
        conn.relay_stream = f"{conn.stream_id}.{conn.joins}"
        self.proxies[conn.relay_stream] = conn
        who = conn.who
        caller = Caller(who.subject, tuple(sorted(who.roles)), who.expires_at)
        await self.send(owner, Join(self.me, conn.relay_stream, caller, data))

    async def command(self, conn: Connection, data: bytes) -> None:
        assert conn.proxy is not None
        conn.sent += 1
        await self.send(conn.proxy[0], Command(self.me, conn.relay_stream, conn.sent, data))

    async def ended(self, conn: Connection) -> None:
        """The client's stream ended: tell the owner to drop the twin."""
        if conn.proxy is None:
            return
        owner, _ = conn.proxy
        conn.proxy = None
        self.proxies.pop(conn.relay_stream, None)
        try:
            await self.send(owner, Detach(self.me, conn.relay_stream))
        except BrokerError:
            pass  # the owner expires silent twins (see watch)

    def _cut(self, conn: Connection, error: HubError) -> None:
        self.proxies.pop(conn.relay_stream, None)
        conn.proxy = None
        conn.outbox.put(ev.Error(error))
        conn.outbox.close(OWNER_MOVED)

    # -- the inbox -----------------------------------------------------------------------------------------
    async def receive(self, raw: dict[str, Any]) -> None:
        """A message from another replica."""
        try:
            m = from_wire(raw)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("malformed relay message dropped: %s", exc)
            return
        if isinstance(m, Join):
            await self._twin_join(m)
        elif isinstance(m, Command):
            await self._twin_command(m)
        elif isinstance(m, Detach):
            self._drop_twin((m.sender, m.stream))
        elif isinstance(m, Event):
            await self._proxy_event(m)
        elif isinstance(m, End):
            proxy = self.proxies.get(m.stream)
            if proxy is not None:
                self._cut(proxy, unavailable(m.reason or "the owner ended the session"))
        else:
            self.host.document_deleted(m.document_id)

    async def _twin_join(self, m: Join) -> None:
        c = m.caller
        twin = self.host.connection(Principal(c.subject, frozenset(c.roles), c.expires_at))
        key = (m.sender, m.stream)
        twin.remote = key
        self.remotes[key] = twin
        twin.forwarder = asyncio.get_running_loop().create_task(self._forward(twin), name="collab-forward")
        await self.host.run_bytes(m.data, twin)

    async def _twin_command(self, m: Command) -> None:
        key = (m.sender, m.stream)
        twin = self.remotes.get(key)
        if twin is None:
            await self.send(m.sender, End(self.me, m.stream, "unknown session"))
            return
        if m.n != twin.received + 1:  # a command was lost on the way: the client must rejoin
            self._drop_twin(key)
            await self.send(m.sender, End(self.me, m.stream, "a relayed command was lost; reconnect"))
            return
        twin.received = m.n
        await self.host.run_bytes(m.data, twin)

    def _drop_twin(self, key: tuple[str, str]) -> None:
        twin = self.remotes.pop(key, None)
        if twin is not None:
            self.host.detach(twin, "disconnected")
            if twin.forwarder is not None:
                twin.forwarder.cancel()

    async def _proxy_event(self, m: Event) -> None:
        proxy = self.proxies.get(m.stream)
        if proxy is None:
            return
        if m.n != proxy.received + 1:  # an event was lost on the way: the client must rejoin
            self._cut(proxy, unavailable("a relayed event was lost; reconnect with since_version"))
            await self.send(m.sender, Detach(self.me, m.stream))
            return
        proxy.received = m.n
        proxy.outbox.put(ev.Relayed(m.data))
        kind, command_id = self.host.classify(m.data)
        if kind == "joined":
            proxy.proxy_join = ""
        # after `left`, or when the owner refused the join, the stream is free to join again
        refused = kind == "error" and proxy.proxy_join and command_id == proxy.proxy_join
        if kind == "left" or refused:
            owner = proxy.proxy[0] if proxy.proxy else ""
            proxy.proxy = None
            self.proxies.pop(m.stream, None)
            await self.send(owner, Detach(self.me, m.stream))

    async def _forward(self, twin: Connection) -> None:
        """Relay the events of a client connected to another replica."""
        assert twin.remote is not None
        replica, stream_id = twin.remote
        try:
            async for data in self.host.encoded(twin):
                twin.sent += 1
                await self.send(replica, Event(self.me, stream_id, twin.sent, data))
            if twin.outbox.closed in (OVERFLOW, OWNER_MOVED):
                await self.send(replica, End(self.me, stream_id, twin.outbox.closed))
        except BrokerError:
            log.warning("cannot relay events to replica %s", replica)
        finally:
            if self.remotes.get(twin.remote) is twin:
                del self.remotes[twin.remote]
                self.host.detach(twin, "disconnected")

    async def relay_changed(self, relaying: bool) -> None:
        """Our inbox subscription was lost (False) or is back (True). Whatever was sent to us
        meanwhile is gone, so every relayed stream here ends: clients rejoin and catch up."""
        if relaying:
            # the clients' replicas still relay to twins we dropped: tell them (their clients
            # may be waiting for an answer to a command that never reached us)
            dropped, self._dropped = self._dropped, []
            for replica, stream_id in dropped:
                try:
                    await self.send(replica, End(self.me, stream_id, "the owner lost its relay; reconnect"))
                except BrokerError:
                    log.warning("could not tell replica %s that stream %s ended", replica, stream_id)
            return
        for conn in list(self.proxies.values()):
            self._cut(conn, unavailable("this replica lost its link to the document's owner; reconnect"))
        for key, twin in list(self.remotes.items()):
            self._drop_twin(key)
            twin.outbox.close(OWNER_MOVED)
            self._dropped.append(key)

    async def watch(self, owner_of: Callable[[str], Awaitable[str | None]]) -> None:
        """Expire what other replicas left behind: relayed streams whose owner changed, and twins
        of clients whose replica went silent (it died: no ping was forwarded for long)."""
        while True:
            await asyncio.sleep(max(self.cluster.owner_ttl / 2, 0.05))
            for conn in list(self.proxies.values()):
                if conn.proxy is None:
                    continue
                owner, document_id = conn.proxy
                if conn.proxy_join and self.clock() - conn.proxy_since > JOIN_TIMEOUT:
                    # the owner never answered (its inbox was down when the join was sent)
                    self._cut(conn, unavailable("the document's replica did not answer; reconnect"))
                    continue
                try:
                    current = await owner_of(document_id)
                except BrokerError:
                    continue
                if current != owner:
                    self._cut(conn, unavailable("the document's replica went away; reconnect"))
            limit = self.clock() - 2 * self.presence_ttl
            for key, twin in list(self.remotes.items()):
                if twin.session is not None and twin.session.last_seen < limit:
                    self._drop_twin(key)
