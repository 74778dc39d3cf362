"""`realtime doc join`: a live session on a shared document.

`join` opens a live session: it prints every event and takes editing commands
from stdin (interactive) or from `--script FILE` (demos and tests), one per line:

    create ID PARENT|- KIND [KEY=JSON ...]   new element, placed after its last sibling
    set ID KEY JSON                           set a property (null removes it)
    type ID KEY OFFSET|end TEXT               insert TEXT into a string property
    erase ID KEY OFFSET COUNT                 delete COUNT code points at OFFSET
    move ID PARENT|- INDEX                    move among the new parent's children
    delete ID                                 delete an element and its subtree
    lease ID | release ID | break ID          take, release, or (owner) break a lease
    presence viewing|editing|idle [ID]        your presence
    cursor X Y [ID]                           your cursor
    undo | redo                               undo your own last text edit or property change
                                              (others' edits around it are kept), or redo it
    sync                                      wait until all your operations are acknowledged
    wait SECONDS | show | ping | leave        (# starts a comment)

At the end of a script the session syncs, prints the document and leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from realtime.common.collaboration import fractional, textop
from realtime.common.collaboration.convert import applied_from_pb, op_to_pb, snapshot_from_pb
from realtime.common.collaboration.ops import (
    CreateElement,
    DeleteElement,
    EditText,
    MoveElement,
    Op,
    SetProperty,
)
from realtime.common.collaboration.replica import Replica
from realtime.common.collaboration.undo import UndoManager
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from ._context import connect

STATUSES = {
    "viewing": pb.PARTICIPANT_STATUS_VIEWING,
    "editing": pb.PARTICIPANT_STATUS_EDITING,
    "idle": pb.PARTICIPANT_STATUS_IDLE,
}
HEARTBEAT = 10.0


def stub(client: Any) -> collaboration_pb2_grpc.CollaborationServiceStub:
    return client.stub(collaboration_pb2_grpc.CollaborationServiceStub)


def role_name(value: int) -> str:
    return str(pb.DocumentRole.Name(value)).removeprefix("DOCUMENT_ROLE_").lower()


# -- the live session ------------------------------------------------------------------------------
class Session:
    """One `join`: a Collaborate stream, a Replica of the document, and the event printer."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.replica = Replica(args.client_id or uuid.uuid4().hex[:12], args.document_id)
        self.history = UndoManager(self.replica)  # the replica's updates go through it
        self.queue: asyncio.Queue[pb.CollaborateRequest | None] = asyncio.Queue(maxsize=1000)
        self.ids = 0
        self.joined = asyncio.Event()
        self.synced = asyncio.Event()
        self.ended = asyncio.Event()
        self.failed = False
        self.rejections = 0

    def send(self, **command: Any) -> None:
        self.ids += 1
        self.queue.put_nowait(pb.CollaborateRequest(id=f"c{self.ids}", **command))

    def flush(self) -> None:
        batch = self.replica.take_batch()
        if batch is not None:
            base, ops = batch
            self.send(
                op=pb.SubmitOperationsCommand(
                    base_version=base, operations=[op_to_pb(c.client_seq, c.op) for c in ops]
                )
            )
        if not self.replica.pending:
            self.synced.set()

    def local(self, op: Op) -> None:
        self.synced.clear()
        self.history.edit(op)
        self.flush()

    def undo_redo(self, which: str) -> None:
        self.synced.clear()
        cop = self.history.undo() if which == "undo" else self.history.redo()
        if cop is None:
            self.show(which, {"done": False}, f"nothing to {which}")
        else:
            self.show(which, {"done": True, "client_seq": cop.client_seq}, f"{which} sent")
        self.flush()

    async def requests(self) -> AsyncIterator[pb.CollaborateRequest]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    def show(self, kind: str, obj: Any, text: str) -> None:
        if self.args.json:
            from google.protobuf import json_format

            body = (
                json_format.MessageToDict(obj, preserving_proto_field_name=True)
                if hasattr(obj, "DESCRIPTOR")
                else obj
            )
            print(
                json.dumps({"event": kind, **({kind: body} if kind else body)}, ensure_ascii=False),
                flush=True,
            )
        else:
            print(text, flush=True)

    def on_event(self, event: pb.CollaborateResponse) -> None:
        kind = event.WhichOneof("event") or ""
        body = getattr(event, kind) if kind else event
        r = self.replica
        text = f"{kind}: {body}".strip().replace("\n", " ")
        if kind == "joined":
            j = event.joined
            refused = self.history.load(
                snapshot_from_pb(j.snapshot) if j.HasField("snapshot") else None,
                [applied_from_pb(a) for a in j.replay],
                j.last_client_seq,
            )
            names = ", ".join(p.display_name for p in j.participants)
            text = f"joined {j.document_id} at v{j.version} as {role_name(j.role)}; here: {names}"
            for x in refused:  # offline edits that no longer fit the document: said, not dropped
                self.rejections += 1
                self.show(
                    "not_rebased",
                    {"client_seq": x.op.client_seq, "reason": x.reason, "message": x.message},
                    f"not rebased: operation {x.op.client_seq} ({x.reason}: {x.message})",
                )
            self.joined.set()
            self.flush()
        elif kind == "applied":
            for a in event.applied.operations:
                self.history.receive(applied_from_pb(a))
            ops = event.applied.operations
            if ops:
                text = f"applied v{ops[0].version}-v{ops[-1].version} by {ops[0].author}"
            self.resync_if_needed()
            self.flush()
        elif kind == "rejected":
            dropped = self.history.refused((o.client_seq, o.reason) for o in event.rejected.operations)
            if dropped:
                self.rejections += 1
                text = "rejected: " + "; ".join(
                    f"operation {o.client_seq} {o.reason}: {o.message}" for o in event.rejected.operations
                )
            else:
                text = "behind the server's log: rebasing the batch onto a fresh snapshot"
            self.resync_if_needed()
            self.flush()
        elif kind == "duplicate":
            d = event.duplicate
            r.duplicate(d.client_seqs)
            if d.absorbed_client_seqs:
                seqs = ", ".join(str(x) for x in d.absorbed_client_seqs)
                text = f"absorbed: operations {seqs} were already done by others (no change)"
            self.flush()
        else:
            text = _passive_text(kind, event, body, text)
        self.show(kind, body, text)
        if kind == "going_away":
            self.ended.set()

    def resync_if_needed(self) -> None:
        """An operation did not fit our copy: fetch a fresh snapshot (pending work is rebased)."""
        reason = self.replica.out_of_sync
        if reason is None:
            return
        print(f"resyncing: {reason}", file=sys.stderr, flush=True)
        self.replica.reconnected()
        self.send(leave=pb.LeaveDocumentCommand())
        self.send(
            join=pb.JoinDocumentCommand(
                document_id=self.args.document_id,
                client_id=self.replica.client_id,
                display_name=self.args.name,
            )
        )

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            self.send(ping=pb.CollaborateRequest().ping)

    def document(self) -> dict[str, Any]:
        doc = self.replica.view()
        return {
            "document_id": self.args.document_id,
            "version": self.replica.version,
            "elements": [
                {"id": e.element_id, "parent": e.parent_id, "kind": e.kind, "properties": e.properties}
                for e in doc.ordered()
            ],
        }

    # -- commands -------------------------------------------------------------------------------
    def after_last_child(self, parent: str, skip: str = "") -> str:
        kids = [k for k in self.replica.view().children(parent) if k.element_id != skip]
        return str(fractional.between(kids[-1].position if kids else None, None))

    def _edit_op(self, cmd: str, rest: list[str]) -> Op | None:
        """The local edit a command word stands for (None: not an edit command)."""
        view = self.replica.view
        if cmd == "create":
            element_id, parent, kind = rest[0], "" if rest[1] == "-" else rest[1], rest[2]
            props = {k: _json(v) for k, _, v in (p.partition("=") for p in rest[3:])}
            return CreateElement(element_id, parent, kind, self.after_last_child(parent), props)
        if cmd == "set":
            return SetProperty(rest[0], rest[1], _json(rest[2]))
        if cmd == "type":
            text = view().text(rest[0], rest[1])
            offset = len(text) if rest[2] == "end" else int(rest[2])
            return EditText(rest[0], rest[1], textop.splice(offset, 0, " ".join(rest[3:])))
        if cmd == "erase":
            return EditText(rest[0], rest[1], textop.splice(int(rest[2]), int(rest[3]), ""))
        if cmd == "move":
            parent = "" if rest[1] == "-" else rest[1]
            kids = [k for k in view().children(parent) if k.element_id != rest[0]]
            i = max(0, min(int(rest[2]), len(kids)))
            lo = kids[i - 1].position if i > 0 else None
            hi = kids[i].position if i < len(kids) else None
            return MoveElement(rest[0], parent, fractional.place(lo, hi))
        if cmd == "delete":
            return DeleteElement(rest[0])
        return None

    async def run_line(self, line: str) -> bool:
        """Run one command line; False ends the session."""
        words = shlex.split(line, comments=True)
        if not words:
            return True
        cmd, rest = words[0], words[1:]
        op = self._edit_op(cmd, rest)
        if op is not None:
            self.local(op)
        elif cmd == "lease":
            self.send(acquire_lease=pb.AcquireLeaseCommand(element_id=rest[0]))
        elif cmd in ("release", "break"):
            self.send(release_lease=pb.ReleaseLeaseCommand(element_id=rest[0], force=cmd == "break"))
        elif cmd == "presence":
            self.send(
                presence=pb.SetPresenceCommand(
                    status=STATUSES[rest[0]], selected_element_id=(rest[1:] or [""])[0]
                )
            )
        elif cmd == "cursor":
            self.send(
                cursor=pb.MoveCursorCommand(
                    x=float(rest[0]), y=float(rest[1]), element_id=(rest[2:] or [""])[0]
                )
            )
        elif cmd in ("undo", "redo"):
            self.undo_redo(cmd)
        elif cmd == "sync":
            await asyncio.wait_for(self.synced.wait(), self.args.timeout)
        elif cmd == "wait":
            await asyncio.sleep(float(rest[0]))
        elif cmd == "show":
            self.show("document", self.document(), json.dumps(self.document(), ensure_ascii=False, indent=1))
        elif cmd == "ping":
            self.send(ping=pb.CollaborateRequest().ping)
        elif cmd in ("leave", "quit", "exit"):
            return False
        else:
            print(f"unknown command {cmd!r} (see `realtime doc join --help`)", file=sys.stderr)
        return True


def _passive_text(kind: str, event: pb.CollaborateResponse, body: Any, text: str) -> str:
    """The printed line of an event that changes nothing in the replica (`text` if none is special)."""
    if kind == "cursor":
        c = event.cursor
        return f"cursor {c.user_id} at ({c.x:g}, {c.y:g}) {c.element_id}"
    if kind == "error":
        return f"error {event.error.reason}: {event.error.message}"
    if kind == "lease_granted":
        lease = event.lease_granted.lease
        return f"lease on {lease.element_id} granted to {lease.holder_name}"
    if kind == "lease_denied":
        held = event.lease_denied.held_by
        return f"lease on {event.lease_denied.element_id} denied: held by {held.holder_name}"
    if kind == "lease_released":
        lr = event.lease_released
        why = pb.LeaseReleaseReason.Name(lr.reason).removeprefix("LEASE_RELEASE_REASON_").lower()
        return f"lease on {lr.lease.element_id} released ({why})"
    if kind in ("participant_joined", "presence"):
        p = body.participant
        status = pb.ParticipantStatus.Name(p.status).removeprefix("PARTICIPANT_STATUS_").lower()
        return f"{kind.replace('_', ' ')}: {p.display_name} ({status})"
    if kind == "participant_left":
        return f"participant left: {event.participant_left.user_id}"
    return text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # bare words are strings


async def _lines(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.script is not None:
        for line in args.script.read_text().splitlines():
            yield line
        return
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


async def join(args: argparse.Namespace) -> int:
    session = Session(args)
    async with connect(args) as client:
        call = stub(client).Collaborate(session.requests())

        async def read() -> None:
            async for event in call:
                session.on_event(event)
            session.ended.set()

        reader = asyncio.get_running_loop().create_task(read())
        beat = asyncio.get_running_loop().create_task(session.heartbeat())
        join_cmd = pb.JoinDocumentCommand(
            document_id=args.document_id, client_id=session.replica.client_id, display_name=args.name
        )
        session.send(join=join_cmd)
        try:
            done, _ = await asyncio.wait(
                [reader, asyncio.ensure_future(session.joined.wait())],
                timeout=args.timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if reader in done:
                reader.result()  # raises the stream's error
            if not session.joined.is_set():
                print("error: not joined (see the error above)", file=sys.stderr)
                return 1
            async for line in _lines(args):
                if session.ended.is_set() or not await session.run_line(line):
                    break
            if args.script is not None and not session.ended.is_set():
                await asyncio.wait_for(session.synced.wait(), args.timeout)
                session.show(
                    "document", session.document(), json.dumps(session.document(), ensure_ascii=False)
                )
            session.send(leave=pb.LeaveDocumentCommand())
            session.queue.put_nowait(None)
            await asyncio.wait_for(reader, args.timeout)
        finally:
            beat.cancel()
            reader.cancel()
            await asyncio.gather(beat, reader, return_exceptions=True)
    return 0
