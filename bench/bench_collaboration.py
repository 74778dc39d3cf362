"""Collaboration bench: one document edited by 10 and by 50 participants on one hub process.

- Operations applied and broadcast per second: every participant runs a closed loop of
  one-operation batches (send, wait for its acknowledgement, send the next) on one document.
- Time from an operation sent until every participant has it (p50, p99).
- Cursor updates per second: 10 participants moving their cursors as fast as they can;
  cursors sent per second and cursor events delivered per second (each receiver gets at
  most 20 per second per participant, by design).
- The same editing figures with `--document-store postgresql://...` (a throwaway database on
  $REALTIME_BENCH_POSTGRES, default the machine's server), suffixed `_postgresql`; skipped
  with a note when no PostgreSQL answers.
- Memory per open document (RSS growth over 200 documents, each joined once and edited)
  and per participant (RSS growth over 200 joined sessions on one document).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .harness import Proc, channel, hub, percentile, rss_bytes

SECONDS = 4.0


class Participant:
    def __init__(self, stub: Any, token: str, document_id: str, name: str) -> None:
        self.stub = stub
        self.md = (("authorization", f"Bearer {token}"),)
        self.document_id = document_id
        self.name = name
        self.queue: asyncio.Queue[pb.CollaborateRequest] = asyncio.Queue()
        self.seen: dict[int, float] = {}  # version -> receive time
        self.acks: dict[int, asyncio.Future[int]] = {}  # client_seq -> version
        self.version = 0
        self.cursors = 0
        self.joined = asyncio.Event()
        self.changed = asyncio.Event()
        self.seq = itertools.count(1)
        self.call: Any = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def requests() -> AsyncIterator[pb.CollaborateRequest]:
            while True:
                yield await self.queue.get()

        self.call = self.stub.Collaborate(requests(), metadata=self.md)
        self.task = asyncio.get_running_loop().create_task(self.read())
        self.queue.put_nowait(
            pb.CollaborateRequest(
                id="j", join=pb.JoinDocumentCommand(document_id=self.document_id, client_id=self.name)
            )
        )
        await asyncio.wait_for(self.joined.wait(), 30)

    async def read(self) -> None:
        try:
            async for event in self.call:
                kind = event.WhichOneof("event")
                if kind == "applied":
                    now = time.perf_counter()
                    for a in event.applied.operations:
                        self.seen[a.version] = now
                        self.version = a.version
                        if a.client_id == self.name and a.operation.client_seq in self.acks:
                            self.acks.pop(a.operation.client_seq).set_result(a.version)
                    self.changed.set()
                elif kind == "cursor":
                    self.cursors += 1
                elif kind == "joined":
                    self.version = event.joined.version
                    self.joined.set()
        except grpc.aio.AioRpcError:
            pass

    async def edit(self) -> tuple[int, float]:
        seq = next(self.seq)
        done = asyncio.get_running_loop().create_future()
        self.acks[seq] = done
        sent = time.perf_counter()
        op = pb.DocumentOperation(
            client_seq=seq, set=pb.SetProperty(element_id="s", key=self.name, value=_number(seq))
        )
        self.queue.put_nowait(
            pb.CollaborateRequest(op=pb.SubmitOperationsCommand(base_version=self.version, operations=[op]))
        )
        return await asyncio.wait_for(done, 30), sent

    async def reach(self, version: int) -> None:
        async with asyncio.timeout(30):
            while self.version < version:
                self.changed.clear()
                await self.changed.wait()

    def cursor(self, x: float) -> None:
        self.queue.put_nowait(pb.CollaborateRequest(cursor=pb.MoveCursorCommand(x=x, y=1.0)))

    async def stop(self) -> None:
        if self.call is not None:
            self.call.cancel()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


def _number(n: int) -> Any:
    from google.protobuf import struct_pb2

    return struct_pb2.Value(number_value=n)


async def _document(stub: Any, h: Proc, document_id: str) -> None:
    md = (("authorization", f"Bearer {h.token('owner')}"),)
    await stub.CreateDocument(pb.CreateDocumentRequest(document_id=document_id), metadata=md, timeout=10)
    owner = Participant(stub, h.token("owner"), document_id, "setup")
    await owner.start()
    op = pb.DocumentOperation(
        client_seq=1, create=pb.CreateElement(element_id="s", kind="slide", position="V")
    )
    owner.queue.put_nowait(pb.CollaborateRequest(op=pb.SubmitOperationsCommand(operations=[op])))
    await owner.reach(1)
    await owner.stop()


async def _editing(h: Proc, stub: Any, n: int) -> dict[str, float]:
    doc = f"edit{n}"
    await _document(stub, h, doc)
    people = [Participant(stub, h.token(f"u{i}"), doc, f"p{i}") for i in range(n)]
    for p in people:
        await p.start()
    sent_at: dict[int, float] = {}
    stop_at = time.perf_counter() + SECONDS
    start_version = people[0].version

    async def loop(p: Participant) -> None:
        while time.perf_counter() < stop_at:
            version, sent = await p.edit()
            sent_at[version] = sent

    started = time.perf_counter()
    await asyncio.gather(*(loop(p) for p in people))
    elapsed = time.perf_counter() - started
    top = max(sent_at)
    for p in people:
        await p.reach(top)
    delays = [max(p.seen[v] for p in people) - sent for v, sent in sent_at.items()]
    for p in people:
        await p.stop()
    applied = top - start_version
    return {
        f"ops_per_s_{n}_participants": applied / elapsed,
        f"deliveries_per_s_{n}_participants": applied * n / elapsed,
        f"op_to_all_p50_ms_{n}_participants": percentile(delays, 50) * 1000,
        f"op_to_all_p99_ms_{n}_participants": percentile(delays, 99) * 1000,
    }


async def _cursors(h: Proc, stub: Any) -> dict[str, float]:
    await _document(stub, h, "cursors")
    people = [Participant(stub, h.token(f"c{i}"), "cursors", f"c{i}") for i in range(10)]
    for p in people:
        await p.start()
    sent = 0
    stop_at = time.perf_counter() + SECONDS
    started = time.perf_counter()
    while time.perf_counter() < stop_at:
        for p in people:
            p.cursor(float(sent))
            sent += 1
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    delivered = sum(p.cursors for p in people)
    for p in people:
        await p.stop()
    return {
        "cursor_updates_sent_per_s_10_participants": sent / elapsed,
        "cursor_events_delivered_per_s_10_participants": delivered / elapsed,
    }


async def _memory(h: Proc, stub: Any) -> dict[str, float]:
    before = rss_bytes(h.proc.pid)
    for i in range(200):
        await _document(stub, h, f"mem{i}")
    per_doc = (rss_bytes(h.proc.pid) - before) / 200
    await _document(stub, h, "crowd")
    before = rss_bytes(h.proc.pid)
    people = [Participant(stub, h.token(f"m{i}"), "crowd", f"m{i}") for i in range(200)]
    for p in people:
        await p.start()
    per_participant = (rss_bytes(h.proc.pid) - before) / 200
    for p in people:
        await p.stop()
    return {"memory_per_open_document_bytes": per_doc, "memory_per_participant_bytes": per_participant}


@contextlib.asynccontextmanager
async def _pg_database() -> AsyncIterator[str | None]:
    """A throwaway database on the bench PostgreSQL (None when none answers); dropped after."""
    import asyncpg

    admin = os.environ.get("REALTIME_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = "rt_bench_" + secrets.token_hex(4)
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        yield None
        return
    try:
        await conn.execute(f"CREATE DATABASE {name}")
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def _postgresql(base: dict[str, float]) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with _pg_database() as url:
        if url is None:
            return {"postgresql_skipped_no_server": 1.0}
        with hub("--max-streams-per-user=0", f"--document-store={url}") as h:
            h.token = lambda sub="bench", roles=("admin",): Proc.token(h, sub, roles)  # type: ignore[method-assign]
            async with channel(h.target) as ch:
                stub = collaboration_pb2_grpc.CollaborationServiceStub(ch)
                for n in (10, 50):
                    figures.update({k + "_postgresql": v for k, v in (await _editing(h, stub, n)).items()})
    figures["ops_per_s_10_postgresql_vs_echo_bidi_ratio"] = figures[
        "ops_per_s_10_participants_postgresql"
    ] / base.get("echo_bidi_msgs_per_s", float("nan"))
    return figures


async def run(base: dict[str, float]) -> dict[str, float]:
    figures: dict[str, float] = {}
    os.environ["REALTIME_COLLAB_MAX_PARTICIPANTS"] = "250"  # the memory figure joins 200
    with hub("--max-streams-per-user=0") as h:
        h.token = lambda sub="bench", roles=("admin",): Proc.token(h, sub, roles)  # type: ignore[method-assign]
        async with channel(h.target) as ch:
            stub = collaboration_pb2_grpc.CollaborationServiceStub(ch)
            figures.update(await _memory(h, stub))  # first: freed memory of the load runs would hide growth
            for n in (10, 50):
                figures.update(await _editing(h, stub, n))
            figures.update(await _cursors(h, stub))
    echo = base.get("echo_bidi_msgs_per_s", float("nan"))
    figures["ops_per_s_10_vs_echo_bidi_ratio"] = figures["ops_per_s_10_participants"] / echo
    for n in (10, 50):  # a broadcast is encoded once: deliveries are writes of shared bytes
        figures[f"deliveries_per_s_{n}_vs_echo_bidi_ratio"] = (
            figures[f"deliveries_per_s_{n}_participants"] / echo
        )
    figures.update(await _postgresql(base))
    return figures


if __name__ == "__main__":
    for key, value in asyncio.run(run({})).items():
        print(f"{key:<50} {value:,.2f}")
