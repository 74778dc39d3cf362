"""A simulated network of clients around one sequencer, for the convergence properties.

Each client has a Replica, a queue of batches on their way to the server and a
queue of server messages on their way to it. The test decides the interleaving
(who edits, what is delivered when, who disconnects), so any order of delays
can happen. Reconnecting clients rejoin with `since_version` and resend what
was in flight; the sequencer de-duplicates.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from realtime.common.collaboration import fractional
from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import (
    Applied,
    ClientOp,
    CreateElement,
    DeleteElement,
    EditText,
    MoveElement,
    SetProperty,
)
from realtime.common.collaboration.replica import Replica
from realtime.common.collaboration.textop import splice
from realtime.server.collaboration.sequencer import Sequencer


@dataclass
class SimClient:
    name: str
    replica: Replica
    connected: bool = True
    joined: bool = True
    to_server: deque[tuple[int, list[ClientOp]]] = field(default_factory=deque)
    inbox: deque[tuple[str, Any]] = field(default_factory=deque)
    counter: int = 0


class Sim:
    def __init__(
        self, clients: int, log_limit: int = 1000, keep: int = 500, seed_doc: Document | None = None
    ):
        doc = seed_doc.copy() if seed_doc is not None else Document("d")
        self.server = Sequencer(doc, log_limit=log_limit, keep=keep, clock=lambda: 0.0)
        self.history: list[Applied] = []
        self.clients = [SimClient(f"c{i}", Replica(f"c{i}", "d")) for i in range(clients)]
        for c in self.clients:
            c.replica.load(doc, [])
        self.deleted_chars: dict[tuple[str, int], set[str]] = {}
        self.inserted_chars: dict[tuple[str, int], str] = {}
        self.next_char = 0x4E00
        #: (client, client_seq) of text edits the sequencer found already done (no-ops).
        self.absorbed: set[tuple[str, int]] = set()

    # -- network ---------------------------------------------------------------------------
    def flush(self, c: SimClient) -> None:
        if c.connected and c.joined:
            batch = c.replica.take_batch(limit=5)
            if batch is not None:
                c.to_server.append(batch)

    def server_receive(self, c: SimClient) -> None:
        if not c.to_server:
            return
        base, ops = c.to_server.popleft()
        result = self.server.submit(c.name, c.name, base, ops)
        if result.applied:
            self.history.extend(result.applied)
            for other in self.clients:
                if other.connected:
                    other.inbox.append(("applied", result.applied))
        if result.rejected:
            c.inbox.append(("rejected", [r.client_seq for r in result.rejected]))
        if result.duplicate or result.absorbed:
            self.absorbed.update((c.name, s) for s in result.absorbed)
            c.inbox.append(("duplicate", result.duplicate + result.absorbed))

    def deliver(self, c: SimClient) -> None:
        if not c.inbox:
            return
        kind, body = c.inbox.popleft()
        r = c.replica
        if kind == "joined":
            r.load(body.snapshot, body.tail, self.server.clients.get(c.name, 0))
            c.joined = True
        elif kind == "applied":
            for a in body:
                if a.client_id == c.name and a.version > r.version:
                    # The acknowledgement must match what the client already shows: its
                    # pending operation, rebased locally, equals the one the server applied.
                    mine = [p.op for p in r.pending if p.client_seq == a.client_seq]
                    assert mine == [a.op], (mine, a)
                r.receive(a)
        elif kind == "rejected":
            r.rejected(body)
        else:
            r.duplicate(body)

    def disconnect(self, c: SimClient, batch_arrives: bool) -> None:
        if not c.connected:
            return
        if batch_arrives:
            while c.to_server:
                self.server_receive(c)
        c.connected = False
        c.to_server.clear()
        c.inbox.clear()

    def reconnect(self, c: SimClient) -> None:
        if c.connected:
            return
        c.connected = True
        c.replica.reconnected()
        c.inbox.append(("joined", self.server.since(c.replica.version)))
        c.joined = False

    def settle(self) -> None:
        for c in self.clients:
            self.reconnect(c)
        for _ in range(10_000):
            busy = False
            for c in self.clients:
                while c.inbox:
                    self.deliver(c)
                    busy = True
                self.flush(c)
                while c.to_server:
                    self.server_receive(c)
                    busy = True
            if not busy and not any(c.replica.pending for c in self.clients):
                return
        raise AssertionError("the simulation did not settle")

    # -- edits --------------------------------------------------------------------------------
    def fresh_text(self, n: int) -> str:
        out = "".join(chr(self.next_char + i) for i in range(n))
        self.next_char += n
        return out

    def edit(self, c: SimClient, kind: int, a: int, b: int) -> None:
        """Make one local edit on `c`'s view; `kind`, `a`, `b` pick what and where."""
        view = c.replica.view()
        live = view.ordered()
        c.counter += 1
        new_id = f"{c.name}-{c.counter}"
        kind %= 6
        if kind == 0 or not live:
            parent = "" if not live or a % 3 == 0 else live[a % len(live)].element_id
            siblings = view.children(parent)
            i = b % (len(siblings) + 1)
            lo = siblings[i - 1].position if i > 0 else None
            hi = siblings[i].position if i < len(siblings) else None
            pos = fractional.place(lo, hi)
            c.replica.local(CreateElement(new_id, parent, "box", pos, {"text": "ab"}))
        elif kind == 1:
            c.replica.local(DeleteElement(live[a % len(live)].element_id))
        elif kind == 2:
            c.replica.local(SetProperty(live[a % len(live)].element_id, f"p{b % 3}", b))
        elif kind == 3:
            el = live[a % len(live)]
            siblings = [s for s in view.children(el.parent_id) if s.element_id != el.element_id]
            i = b % (len(siblings) + 1)
            lo = siblings[i - 1].position if i > 0 else None
            hi = siblings[i].position if i < len(siblings) else None
            c.replica.local(MoveElement(el.element_id, el.parent_id, fractional.place(lo, hi)))
        else:
            self.edit_text(c, live[a % len(live)].element_id, "text", kind == 4, b)

    def edit_text(self, c: SimClient, element_id: str, key: str, insert: bool, at: int) -> None:
        view = c.replica.view()
        text = view.text(element_id, key)
        if insert or not text:
            chars = self.fresh_text(1 + at % 3)
            cop = c.replica.local(EditText(element_id, key, splice(at % (len(text) + 1), 0, chars)))
            self.inserted_chars[(c.name, cop.client_seq)] = chars
        else:
            start = at % len(text)
            n = 1 + (at // 7) % min(3, len(text) - start)
            cop = c.replica.local(EditText(element_id, key, splice(start, n, "")))
            self.deleted_chars[(c.name, cop.client_seq)] = set(text[start : start + n])
