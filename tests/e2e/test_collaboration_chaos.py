"""Randomized editing over two replicas on Redis, with an owner SIGKILL and a Redis restart.

6-8 editors type and delete at random, at colliding positions, in one text, connected to
either replica; they disconnect and rejoin at random (with and without since_version); one
stays offline, typing, while the others push the document past the kept log; the owning
replica is SIGKILLed (a new one is started) and Redis is restarted mid-run. Afterwards every
editor's text is the server's, every acknowledged character is there unless someone deleted
it, no deleted character came back, and no stream ended with an error other than the
retryable UNAVAILABLE of a replica or Redis going away.

Seeds are fixed and printed (`-s` shows them): a failure replays with
`REALTIME_COLLAB_CHAOS_SEEDS=<seed>[,<seed>...]`. CI runs the default seeds; `make soak-collab`
runs seeds 1-50 (`REALTIME_COLLAB_CHAOS_COUNT=50`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from realtime.client import Client
from realtime.common.collaboration.ops import CreateElement
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc
from tests.redis_server import RedisProcess, start_redis

from .collab_chaos import DOC, EL, KEY, Editor, World, _text
from .servers import ServerProcess, server_process

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
LOG_LIMIT = 60
ENV = {
    "REALTIME_COLLAB_OWNER_TTL": "1.5",
    "REALTIME_COLLAB_LOG_LIMIT": str(LOG_LIMIT),
    "REALTIME_COLLAB_LOG_KEEP": "20",
    "REALTIME_COLLAB_SAVE_DEBOUNCE": "0.3",
}
STEPS = 40
#: Characters the offline editor typed while offline (one run at a time).
OFFLINE_TYPED: set[str] = set()


def _seeds() -> list[int]:
    count = os.environ.get("REALTIME_COLLAB_CHAOS_COUNT", "")
    if count:  # seeds 1..N (make soak-collab)
        return list(range(1, int(count) + 1))
    raw = os.environ.get("REALTIME_COLLAB_CHAOS_SEEDS", "")
    return [int(x) for x in raw.split(",") if x.strip()] if raw else [7, 11]


def _redis_args(directory: Path) -> tuple[str, ...]:
    return ("--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", str(directory))


@pytest.mark.parametrize("seed", _seeds())
async def test_random_editors_converge_through_owner_kill_and_redis_restart(
    tmp_path: Path, seed: int
) -> None:
    print(f"collaboration chaos seed {seed}")
    OFFLINE_TYPED.clear()
    rng = random.Random(seed)
    (tmp_path / "redis").mkdir()
    redis = start_redis(args=_redis_args(tmp_path / "redis"))
    servers: dict[str, ServerProcess] = {}
    dead: set[str] = set()
    try:
        with contextlib.ExitStack() as stack:

            def start(name: str) -> None:
                servers[name] = stack.enter_context(
                    server_process(tmp_path, f"--broker={redis.url}", name=name, env=ENV)
                )

            start("a")
            start("b")
            world = World(
                targets=lambda: [s.target for n, s in servers.items() if n not in dead],
                token=lambda user: servers["b"].token(user),
            )
            await _run(rng, world, servers, dead, redis, start, tmp_path)
    finally:
        redis.kill()  # the restarted one (the restart swaps the process in place)


async def _run(
    rng: random.Random,
    world: World,
    servers: dict[str, ServerProcess],
    dead: set[str],
    redis: RedisProcess,
    start: object,
    tmp_path: Path,
) -> None:
    n = rng.randint(6, 8)
    names = [f"ed{i}" for i in range(n)]
    async with Client(servers["a"].target, token=servers["a"].token("boss")) as admin:
        stub = admin.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await stub.CreateDocument(pb.CreateDocumentRequest(document_id=DOC), timeout=10)
        for name in names:
            await stub.ShareDocument(
                pb.ShareDocumentRequest(document_id=DOC, user_id=name, role=pb.DOCUMENT_ROLE_EDITOR),
                timeout=10,
            )
    boss = Editor("boss", world, random.Random(0))
    await boss.connect(since=False, prefer=servers["a"].target)  # replica a claims the document
    assert boss.peer is not None
    await boss.peer.answer(boss.peer.submit(CreateElement(EL, "", "text", "V", {KEY: ""})))
    editors = [Editor(name, world, random.Random(rng.random())) for name in names]
    for e in editors:
        await e.connect(since=False)
    offline = editors[-1]
    done_steps = 0
    total = STEPS * n
    warm, kill_now, restart_now = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def run_editor(e: Editor) -> None:
        nonlocal done_steps
        for i in range(STEPS):
            if e is offline and i == 0:  # once the text has grown, while the others still edit
                await warm.wait()
                await _offline_stretch(e, editors)
            await e.step()
            done_steps += 1
            if done_steps >= total * 0.1:
                warm.set()
            if done_steps >= total * 0.3:
                kill_now.set()
            if done_steps >= total * 0.6:
                restart_now.set()
            await asyncio.sleep(e.rng.uniform(0.005, 0.03))
        await e.settle()

    async def faults() -> None:
        loop = asyncio.get_running_loop()
        await kill_now.wait()
        owner = servers["a"]
        print(f"SIGKILL owner replica a (pid {owner.proc.pid}) after {done_steps} steps")
        dead.add("a")  # first: a stream cut by the kill may end INTERNAL at the transport
        owner.proc.send_signal(signal.SIGKILL)
        await loop.run_in_executor(None, owner.proc.wait, 10)
        await loop.run_in_executor(None, start, "c")  # type: ignore[arg-type]
        await restart_now.wait()
        print(f"restarting Redis after {done_steps} steps")
        port = redis.port
        await loop.run_in_executor(None, _restart_redis, redis, port, tmp_path)

    fault_task = asyncio.get_running_loop().create_task(faults())
    try:
        async with asyncio.timeout(240):
            await asyncio.gather(*(run_editor(e) for e in editors))
            await fault_task
            for e in editors:
                await e.settle()
            version = await _server_version(world)
            for e in editors:
                await e.catch_up(version)
        final = await _server_text(world)
        texts = {e.name: _text(e.replica) for e in editors}
        for e in editors:
            e._collect()
        acked = set().union(*(e.acked for e in editors))
        print(
            f"{len(final)} characters at v{version}; {len(acked)} acknowledged inserts; "
            f"reconnects {sum(e.reconnects for e in editors)}"
        )
        (tmp_path / "texts.txt").write_text(
            "\n".join([f"server {final}", *(f"{k} {v}" for k, v in texts.items())])
        )
        assert world.problems == [], "\n".join(world.problems)
        differ = sorted(k for k, t in texts.items() if t != final)
        assert not differ, f"texts differ from the server's: {differ} (see {tmp_path}/texts.txt)"
        assert all(not e.replica.pending for e in editors)
        counts = Counter(final)
        assert all(c == 1 for c in counts.values()), "a character appears twice"
        lost = acked - set(final) - world.targeted
        assert not lost, f"acknowledged characters lost: {sorted(lost)}"
        offline_lost = OFFLINE_TYPED - set(final) - world.targeted
        assert OFFLINE_TYPED and not offline_lost, f"offline typing lost: {sorted(offline_lost)}"
        back = world.removed & set(final)
        assert not back, f"deleted characters came back: {sorted(back)}"
    except BaseException as exc:
        print(f"FAILED seed: {type(exc).__name__}: {str(exc)[:2000]}")
        raise
    finally:
        for e in editors:
            (tmp_path / f"trace-{e.name}.txt").write_text("\n".join(e.trace))
        print(f"traces in {tmp_path}")
        fault_task.cancel()
        await asyncio.gather(fault_task, return_exceptions=True)
        for e in [*editors, boss]:
            await e.disconnect()


def _restart_redis(redis: RedisProcess, port: int, tmp_path: Path) -> None:
    redis.proc.send_signal(signal.SIGTERM)
    redis.proc.wait(10)
    again = start_redis(port, args=_redis_args(tmp_path / "redis"))
    redis.proc = again.proc


async def _offline_stretch(e: Editor, editors: list[Editor]) -> None:
    """Go offline, keep typing, and come back after the others went past the kept log."""
    await e.disconnect()
    start_version = e.replica.version
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    typed = 0
    while loop.time() < end:
        top = max(x.replica.version for x in editors if x is not e)
        if top > start_version + LOG_LIMIT + 10 and typed >= 8:
            break
        if typed < 12:
            OFFLINE_TYPED.update(e.edit())
            typed += 1
        await asyncio.sleep(0.05)
    print(f"{e.name} comes back after v{start_version} with {len(e.replica.pending)} offline edits")
    await e.connect(since=True)
    assert e.peer is not None
    joined = [x for x in e.peer.events if x.WhichOneof("event") == "joined"]
    assert joined and joined[-1].joined.HasField("snapshot")  # it was behind the kept log


async def _server_version(world: World) -> int:
    return (await _get(world)).snapshot.version


async def _server_text(world: World) -> str:
    got = await _get(world)
    for el in got.snapshot.elements:
        if el.element_id == EL:
            return str(el.properties[KEY].string_value)
    raise AssertionError("the text element is gone")


async def _get(world: World) -> pb.GetDocumentResponse:
    for attempt in range(40):
        target = world.targets()[attempt % len(world.targets())]
        async with Client(target, token=world.token("boss")) as c:
            try:
                return await c.stub(collaboration_pb2_grpc.CollaborationServiceStub).GetDocument(
                    pb.GetDocumentRequest(document_id=DOC), timeout=5
                )
            except Exception:
                await asyncio.sleep(0.25)
    raise AssertionError("no replica answered GetDocument")
