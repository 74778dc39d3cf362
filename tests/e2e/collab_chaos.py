"""Editors for the randomized collaboration suite: each types and deletes at random in one
shared text, reconnects on its own, and records what the server acknowledged.

Every inserted character is unique (a private code point per insert), so the final text
tells exactly which typing survived and which deleted character came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from realtime.client import Client
from realtime.common.collaboration.convert import applied_from_pb
from realtime.common.collaboration.ops import EditText
from realtime.common.collaboration.replica import Replica
from realtime.common.collaboration.textop import splice
from realtime.v1 import collaboration_pb2 as pb

from ..service.collab_peer import Peer

DOC, EL, KEY = "chaos", "t", "body"
#: Codes a stream may end with while a replica or Redis is being restarted (the client retries).
RETRYABLE = {grpc.StatusCode.UNAVAILABLE}
#: Seconds a client waits for the answer to its in-flight batch before it reconnects.
ACK_TIMEOUT = 8.0


@dataclass
class World:
    """What every editor shares: where the live servers are, tokens, the unique-char source."""

    targets: Callable[[], list[str]]
    token: Callable[[str], str]
    next_char: int = 0x4E00
    #: Characters some editor asked to delete (whether or not it was acknowledged).
    targeted: set[str] = field(default_factory=set)
    #: Characters an applied operation (seen by any editor) removed.
    removed: set[str] = field(default_factory=set)
    #: Unexpected events: stream ends with non-retryable codes, rejections, error events.
    problems: list[str] = field(default_factory=list)

    def fresh(self, n: int) -> str:
        out = "".join(chr(self.next_char + i) for i in range(n))
        self.next_char += n
        return out


class TrackingPeer(Peer):
    """A Peer that also records which characters applied operations removed."""

    world: World
    trace: list[str]

    def _track(self, event: pb.CollaborateResponse) -> None:
        kind = event.WhichOneof("event")
        r = self.replica
        self.trace.append(
            f"<- {_summary(event)} (replica v{r.version}, pending {[c.client_seq for c in r.pending]})"
        )
        if kind == "applied":
            for a in event.applied.operations:
                applied = applied_from_pb(a)
                before = _text(r) if applied.version == r.version + 1 else None
                r.receive(applied)
                if before is not None and r.out_of_sync is None:
                    self.world.removed |= set((Counter(before) - Counter(_text(r))).keys())
            return
        if kind == "rejected" and any(
            o.reason != "STALE_BASE_VERSION" and o.reason != "BATCH_ABORTED"
            for o in event.rejected.operations
        ):
            self.world.problems.append(f"{self.client_id}: rejected {event.rejected}")
        if kind == "error" and event.error.code != grpc.StatusCode.UNAVAILABLE.value[0]:
            self.world.problems.append(f"{self.client_id}: error event {event.error}")
        super()._track(event)

    def send(self, **command: object) -> str:
        cid = super().send(**command)
        op = command.get("op")
        if isinstance(op, pb.SubmitOperationsCommand):
            self.trace.append(
                f"-> {cid} op base {op.base_version} seqs {[o.client_seq for o in op.operations]} "
                f"{[str(o.edit_text.components).replace(chr(10), ' ') for o in op.operations]}"
            )
        elif "join" in command:
            self.trace.append(f"-> {cid} join {command['join']}".replace("\n", " "))
        return cid

    async def next_event(self, start: int, timeout: float) -> None:
        """Wait (bounded) until an event after index `start` arrives or the stream ends."""
        async with asyncio.timeout(timeout), self._cond:
            while len(self.events) <= start and not self.done.is_set():
                await self._cond.wait()


def _summary(event: pb.CollaborateResponse) -> str:
    kind = event.WhichOneof("event")
    if kind == "applied":
        return f"{event.command_id} applied " + " ".join(
            f"v{a.version}:{a.client_id}#{a.operation.client_seq}" for a in event.applied.operations
        )
    if kind == "joined":
        j = event.joined
        return (
            f"{event.command_id} joined v{j.version} snapshot={j.HasField('snapshot')} "
            f"replay={[a.version for a in j.replay]} last_seq={j.last_client_seq}"
        )
    if kind == "duplicate":
        d = event.duplicate
        return f"{event.command_id} duplicate {list(d.client_seqs)} absorbed {list(d.absorbed_client_seqs)}"
    return f"{event.command_id} {kind} {str(getattr(event, kind or 'error'))[:200]}".replace("\n", " ")


def _text(r: Replica) -> str:
    el = r.confirmed.elements.get(EL)
    value = el.properties.get(KEY, "") if el is not None and not el.deleted else ""
    return value if isinstance(value, str) else ""


class Editor:
    def __init__(self, name: str, world: World, rng: random.Random) -> None:
        self.name = name
        self.world = world
        self.rng = rng
        self.replica = Replica(f"cid-{name}", DOC)
        self.peer: TrackingPeer | None = None
        self.client: Client | None = None
        #: Characters of this editor's inserts the server acknowledged.
        self.acked: set[str] = set()
        self.reconnects = 0
        self.target = ""
        self.trace: list[str] = []

    # -- connection ----------------------------------------------------------------------------
    async def connect(self, since: bool, deadline: float = 60.0, prefer: str = "") -> None:
        """(Re)join through any live server until one serves the document."""
        await self.disconnect()
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        attempt = 0
        while loop.time() < end:
            attempt += 1
            targets = self.world.targets()
            target = prefer or targets[(self.rng.randrange(len(targets)) + attempt) % len(targets)]
            self.target = target
            self.client = Client(target, token=self.world.token(self.name))
            peer = TrackingPeer(self.client, self.replica.client_id, self.replica)
            peer.world = self.world
            peer.trace = self.trace
            self.trace.append(f"connect to {target} since={since} version {self.replica.version}")
            self.peer = peer
            await peer.__aenter__()
            self.replica.reconnected()
            use_since = since and self.replica.out_of_sync is None and self.replica.version > 0
            try:
                await peer.join(DOC, since=self.replica.version if use_since else None, name=self.name)
            except (AssertionError, TimeoutError) as exc:
                self._collect()
                self._check_end(exc)
                await self.disconnect()
                await asyncio.sleep(0.2 * min(attempt, 5))  # back off while a replica takes over
                continue
            self.reconnects += 1
            peer.flush()
            return
        raise AssertionError(f"{self.name} could not rejoin within {deadline}s")

    def _check_end(self, exc: BaseException) -> None:
        ended = self.peer.ended if self.peer is not None else None
        # The client's gRPC core reports "Internal error from Core" (INTERNAL) for a stream whose
        # server vanished (SIGKILL) or, rarely, that the server ended (UNAVAILABLE, in its call
        # log) while the client was still writing: a transport artifact, not an answer of ours
        # (the service's own INTERNAL says "internal error; see the server log").
        killed = self.target not in self.world.targets()
        core = isinstance(ended, grpc.aio.AioRpcError) and ended.details() == "Internal error from Core"
        if isinstance(ended, grpc.aio.AioRpcError) and ended.code() not in RETRYABLE and not (killed or core):
            self.world.problems.append(f"{self.name}: stream ended {ended.code()}: {ended.details()}")
        if self.peer is not None:
            for event in self.peer.events:
                if event.WhichOneof("event") == "error" and event.error.code != 14:
                    if event.error.reason not in ("PARTICIPANT_LIMIT",):
                        self.world.problems.append(f"{self.name}: join error {event.error}")

    async def disconnect(self) -> None:
        if self.peer is not None:
            self._collect()
            await self.peer.close()
            self.peer = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    def _collect(self) -> None:
        """Acknowledged inserts: our operations in applied events."""
        if self.peer is None:
            return
        for event in self.peer.events:
            if event.WhichOneof("event") == "applied":
                for a in event.applied.operations:
                    if (
                        a.client_id == self.replica.client_id
                        and a.operation.WhichOneof("kind") == "edit_text"
                    ):
                        for c in a.operation.edit_text.components:
                            if c.WhichOneof("kind") == "insert":
                                self.acked |= set(c.insert)

    async def alive(self) -> None:
        """Reconnect if the stream ended (a replica died, Redis restarted)."""
        if self.peer is None or self.peer.done.is_set():
            if self.peer is not None:
                self._check_end(self.peer.ended or Exception("ended"))
            await self.connect(since=self.rng.random() < 0.7)

    # -- editing -------------------------------------------------------------------------------
    def edit(self) -> str:
        """One random local edit; returns the characters it inserted ("" for a delete)."""
        text = self.replica.view().text(EL, KEY)
        # colliding positions: most edits land at the start, the middle or the end
        spot = self.rng.choice((0, 1, len(text) // 2, len(text), self.rng.randint(0, len(text))))
        spot = max(0, min(len(text), spot + self.rng.randint(-1, 1)))
        if text and self.rng.random() < 0.2:
            start = min(spot, len(text) - 1)
            n = self.rng.randint(1, min(2, len(text) - start))
            self.world.targeted |= set(text[start : start + n])
            self.replica.local(EditText(EL, KEY, splice(start, n, "")))
            return ""
        typed = self.world.fresh(self.rng.randint(1, 2))
        self.replica.local(EditText(EL, KEY, splice(spot, 0, typed)))
        return typed

    async def step(self) -> None:
        await self.alive()
        if self.replica.out_of_sync is not None:  # e.g. a batch fell behind the kept log
            await self.connect(since=False)
        roll = self.rng.random()
        if roll < 0.03:
            await self.connect(since=self.rng.random() < 0.5)
        self.edit()
        if self.peer is not None:
            self.peer.flush()

    async def settle(self, timeout: float = 60.0) -> None:
        """Send everything pending and wait until it is answered."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        seen, progress_at = self._pending_seqs(), loop.time()
        while loop.time() < end:
            await self.alive()
            assert self.peer is not None
            if not self.replica.pending and self.replica.out_of_sync is None:
                return
            if self.replica.out_of_sync is not None:
                await self.connect(since=False)
                continue
            if self._pending_seqs() != seen:
                seen, progress_at = self._pending_seqs(), loop.time()
            elif loop.time() - progress_at > ACK_TIMEOUT:
                # no answer for long: reconnect and resend, as a client with an ack deadline does
                self.trace.append(f"no answer in {ACK_TIMEOUT}s; reconnecting")
                await self.connect(since=True)
                progress_at = loop.time()
                continue
            self.peer.flush()
            with contextlib.suppress(TimeoutError):
                await self.peer.next_event(len(self.peer.events), 1.0)
        raise AssertionError(f"{self.name} did not settle: {self.replica.pending}")

    def _pending_seqs(self) -> list[int]:
        return [c.client_seq for c in self.replica.pending]

    async def catch_up(self, version: int, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.replica.version < version and loop.time() < end:
            await self.alive()
            if self.replica.out_of_sync is not None:
                await self.connect(since=False)
                continue
            assert self.peer is not None
            try:
                await self.peer.next_event(len(self.peer.events), 2.0)
            except TimeoutError:
                await self.connect(since=True)
        assert self.replica.version >= version, (self.name, self.replica.version, version)
