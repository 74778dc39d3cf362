"""A test participant: one Collaborate stream with a command queue and a collected event list."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from realtime.client import Client
from realtime.common.collaboration.convert import applied_from_pb, op_to_pb, snapshot_from_pb
from realtime.common.collaboration.replica import NotRebased, Replica
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

TIMEOUT = 10.0


class Peer:
    def __init__(self, client: Client, client_id: str = "", replica: Replica | None = None) -> None:
        self.stub = client.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        self.client_id = client_id or f"cid-{id(self)}"
        self._out: asyncio.Queue[pb.CollaborateRequest | None] = asyncio.Queue()
        self.events: list[pb.CollaborateResponse] = []
        self._cond = asyncio.Condition()
        self._ids = itertools.count(1)
        self.call: Any = None
        self._task: asyncio.Task[None] | None = None
        self.replica = replica or Replica(self.client_id)
        self.ended: Exception | None = None
        self.done = asyncio.Event()
        self.not_rebased: list[NotRebased] = []

    async def __aenter__(self) -> Peer:
        async def requests() -> AsyncIterator[pb.CollaborateRequest]:
            while True:
                item = await self._out.get()
                if item is None:
                    return
                yield item

        self.call = self.stub.Collaborate(requests())
        self._task = asyncio.get_running_loop().create_task(self._pump())
        return self

    async def _pump(self) -> None:
        try:
            async for event in self.call:
                self._track(event)
                async with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except Exception as exc:
            self.ended = exc
        finally:
            self.done.set()
            async with self._cond:
                self._cond.notify_all()

    def _track(self, event: pb.CollaborateResponse) -> None:
        kind = event.WhichOneof("event")
        r = self.replica
        if kind == "joined":
            j = event.joined
            self.not_rebased.extend(
                r.load(
                    snapshot_from_pb(j.snapshot) if j.HasField("snapshot") else None,
                    [applied_from_pb(a) for a in j.replay],
                    j.last_client_seq,
                )
            )
        elif kind == "applied":
            for a in event.applied.operations:
                r.receive(applied_from_pb(a))
        elif kind == "rejected":
            r.refused((o.client_seq, o.reason) for o in event.rejected.operations)
        elif kind == "duplicate":
            r.duplicate(event.duplicate.client_seqs)

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.call is not None:
            self._out.put_nowait(None)  # end the request generator first (no aclose() race)
            self.call.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def send(self, **command: Any) -> str:
        cid = command.pop("id", None) or f"c{next(self._ids)}"
        self._out.put_nowait(pb.CollaborateRequest(id=cid, **command))
        return cid

    def half_close(self) -> None:
        self._out.put_nowait(None)

    async def wait_for(
        self,
        kind: str,
        command_id: str | None = None,
        *,
        start: int = 0,
        timeout: float = TIMEOUT,
        where: Any = None,
    ) -> pb.CollaborateResponse:
        async with asyncio.timeout(timeout):
            async with self._cond:
                while True:
                    for event in self.events[start:]:
                        if event.WhichOneof("event") == kind and (
                            command_id is None or event.command_id == command_id
                        ):
                            if where is None or where(event):
                                return event
                    if self.done.is_set():
                        raise AssertionError(
                            f"stream ended ({self.ended!r}) before a {kind} event; got {self.kinds()}"
                        )
                    await self._cond.wait()

    def kinds(self) -> list[str]:
        return [str(e.WhichOneof("event")) for e in self.events]

    async def join(
        self, document_id: str, since: int | None = None, name: str = ""
    ) -> pb.JoinedDocumentEvent:
        join = pb.JoinDocumentCommand(document_id=document_id, client_id=self.client_id, display_name=name)
        if since is not None:
            join.since_version = since
        cid = self.send(join=join)
        event = await self.wait_for_either(cid, ("joined", "error"))
        if event.WhichOneof("event") == "error":
            raise AssertionError(f"join failed: {event.error}")
        return event.joined

    async def wait_for_either(
        self, command_id: str, kinds: tuple[str, ...], timeout: float = TIMEOUT
    ) -> pb.CollaborateResponse:
        async with asyncio.timeout(timeout):
            async with self._cond:
                while True:
                    for event in self.events:
                        if event.command_id == command_id and event.WhichOneof("event") in kinds:
                            return event
                    if self.done.is_set():
                        raise AssertionError(f"stream ended ({self.ended!r}); got {self.kinds()}")
                    await self._cond.wait()

    def submit(self, *ops: Any) -> str:
        """Send the replica's next batch after adding `ops` (domain operations) locally."""
        for op in ops:
            self.replica.local(op)
        return self.flush()

    def flush(self) -> str:
        batch = self.replica.take_batch()
        if batch is None:
            return ""
        base, cops = batch
        return self.send(
            op=pb.SubmitOperationsCommand(
                base_version=base, operations=[op_to_pb(c.client_seq, c.op) for c in cops]
            )
        )

    async def answer(self, command_id: str) -> pb.CollaborateResponse:
        return await self.wait_for_either(command_id, ("applied", "rejected", "duplicate", "error"))
