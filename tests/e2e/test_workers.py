"""`realtime-server --workers 2` on Redis: one port, two processes, one set of limits.

Connections land on a worker by the kernel's SO_REUSEPORT hash, so each test opens
clients until it holds one on each worker (told apart by GetServerInfo's instance id).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from realtime.client import Client
from realtime.server.broker.redis import RedisBroker
from realtime.server.platform.shared_limits import _slug
from realtime.v1 import (
    common_pb2,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
)
from tests.redis_server import delete_prefix, test_prefix

from .servers import ServerProcess, free_port, server_process, tool, wait_serving

pb = notifications_pb2
pytestmark = [pytest.mark.e2e, pytest.mark.redis]
SERVICES = "--services=diagnostics,notifications"
CHANNEL = "topic:workers"
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def notify(client: Client) -> notifications_pb2_grpc.NotificationServiceStub:
    return client.stub(notifications_pb2_grpc.NotificationServiceStub)


async def instance_of(client: Client) -> str:
    stub = client.stub(diagnostics_pb2_grpc.DiagnosticsServiceStub)
    info = await stub.GetServerInfo(diagnostics_pb2.GetServerInfoRequest(), timeout=10)
    return info.instance_id


@contextlib.asynccontextmanager
async def one_client_per_worker(
    server: ServerProcess, user: str, extra: int = 0
) -> AsyncIterator[list[Client]]:
    """Clients on distinct workers (and `extra` more, anywhere); all closed afterwards."""
    await asyncio.to_thread(wait_workers, server, 2)
    opened: list[Client] = []
    by_instance: dict[str, Client] = {}
    try:
        for _ in range(60):  # bounded: the chance of 60 connections on one worker is 2**-59
            # Its own connection: channels with equal options otherwise share one subchannel.
            client = Client(server.target, token=server.token(user), options=OWN_CONNECTION)
            opened.append(client)
            instance = await instance_of(client)
            by_instance.setdefault(instance, client)
            if len(by_instance) == 2:
                break
        assert len(by_instance) == 2, "every connection landed on one worker: is SO_REUSEPORT on?"
        yield [*by_instance.values(), *opened[:extra]]
    finally:
        for client in opened:
            await client.close()


async def subscribe(
    client: Client, since: common_pb2.StreamPosition | None = None
) -> grpc.aio.StreamStreamCall:
    """An admitted Subscribe stream (its `subscribed` event was read), or the refusal raised."""
    call = notify(client).Subscribe()
    await call.write(pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel=CHANNEL, since=since)))
    async with asyncio.timeout(20):
        while True:
            event = await call.read()
            assert event is not grpc.aio.EOF
            if event.WhichOneof("event") == "subscribed":
                return call


def _started(metrics: str, method: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("grpc_server_started_total{") and f'grpc_method="{method}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def workers_of(supervisor: subprocess.Popen[bytes]) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True, check=False)
    return {int(pid) for pid in out.stdout.split()}


def wait_workers(server: ServerProcess, listening: int, timeout: float = 60.0) -> None:
    """Wait until `listening` workers have logged that they listen (bounded)."""
    deadline = time.monotonic() + timeout
    while server.output().count('"hub listening"') < listening:
        assert server.proc.poll() is None, server.output()[-2000:]
        assert time.monotonic() < deadline, (
            f"fewer than {listening} workers listening: {server.output()[-2000:]}"
        )
        time.sleep(0.1)
    wait_serving(server.target)


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    name = test_prefix()
    yield name
    await delete_prefix(redis_url, name)


async def test_a_users_stream_cap_holds_across_two_workers(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    args = (f"--broker={redis_url}?prefix={prefix}", "--workers=2", "--max-streams-per-user=4", SERVICES)
    with server_process(tmp_path, *args) as server:
        async with one_client_per_worker(server, "capped") as clients:
            a, b = clients
            # Two streams on each worker: the fifth is refused on either worker.
            streams = [await subscribe(c) for c in (a, a, b, b)]
            for client in (a, b):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await subscribe(client)
                assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "across every hub process" in (refused.value.details() or "")
            # One /metrics for both workers: every worker's calls are counted whichever answers.
            # A worker's call figures reach the shared files within FLUSH_INTERVAL: poll, bounded.
            async with aiohttp.ClientSession() as http:
                for attempt in range(100):  # the kernel picks the worker of each new connection
                    async with http.get(
                        f"http://127.0.0.1:{server.http_port}/metrics", headers={"Connection": "close"}
                    ) as reply:
                        text = await reply.text()
                    assert 'realtime_active_streams{service="realtime.v1.NotificationService"} 4.0' in text
                    if _started(text, "GetServerInfo") >= 2 and attempt >= 3:  # one call on each worker
                        break
                    await asyncio.sleep(0.02)
                assert _started(text, "GetServerInfo") >= 2, text
            # Another user is not affected by this user's streams.
            async with one_client_per_worker(server, "other") as others:
                (await subscribe(others[0])).cancel()
            # Closing one on worker A frees a slot usable on worker B (released in the background).
            streams[0].cancel()
            admitted = None
            for _ in range(100):
                try:
                    admitted = await subscribe(b)
                    break
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    await asyncio.sleep(0.05)
            assert admitted is not None, "a closed stream's slot was never given back"
            for call in [*streams, admitted]:
                call.cancel()


async def read_until(
    call: grpc.aio.StreamStreamCall, offsets: list[int], until: int
) -> grpc.StatusCode | None:
    try:
        while not offsets or offsets[-1] < until:
            event = await call.read()
            if event is grpc.aio.EOF:
                return grpc.StatusCode.OK
            if event.WhichOneof("event") == "notification":
                offsets.append(event.notification.position.offset)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return None


async def test_a_killed_worker_is_restarted_and_its_subscribers_resume_without_loss(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    args = (f"--broker={redis_url}?prefix={prefix}", "--workers=2", SERVICES)
    total = 60
    with server_process(tmp_path, *args) as server:
        async with one_client_per_worker(server, "reader") as clients:
            async with Client(server.target, token=server.token("writer")) as writer:
                first = await notify(writer).Publish(
                    pb.PublishRequest(channel=CHANNEL, title="n0"), timeout=10
                )
                start = common_pb2.StreamPosition(epoch=first.position.epoch, offset=first.position.offset)
                offsets: list[list[int]] = [[], []]
                readers = [
                    asyncio.create_task(
                        read_until(await subscribe(c, start), offsets[i], first.position.offset + total)
                    )
                    for i, c in enumerate(clients)
                ]
                for i in range(1, total // 2 + 1):
                    await notify(writer).Publish(
                        pb.PublishRequest(channel=CHANNEL, title=f"n{i}", request_id=f"r{i}"), timeout=10
                    )
                before = workers_of(server.proc)
                assert len(before) == 2
                victim = min(before)
                os.kill(victim, signal.SIGKILL)
                # The reader on the killed worker sees UNAVAILABLE; the other keeps reading.
                async with asyncio.timeout(30):
                    done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_COMPLETED)
                dead = readers.index(done.pop())
                assert readers[dead].result() == grpc.StatusCode.UNAVAILABLE
                # The writer's connection may have been on the killed worker too: retry with the same id.
                for i in range(total // 2 + 1, total + 1):
                    request = pb.PublishRequest(channel=CHANNEL, title=f"n{i}", request_id=f"r{i}")
                    for _ in range(50):
                        try:
                            await notify(writer).Publish(request, timeout=10)
                            break
                        except grpc.aio.AioRpcError as err:
                            assert err.code() == grpc.StatusCode.UNAVAILABLE
                            await asyncio.sleep(0.1)
                # The dead reader resumes from its last offset through a new connection.
                last = offsets[dead][-1] if offsets[dead] else start.offset
                async with Client(server.target, token=server.token("reader")) as again:
                    resumed = await subscribe(
                        again, common_pb2.StreamPosition(epoch=start.epoch, offset=last)
                    )
                    async with asyncio.timeout(30):
                        assert await read_until(resumed, offsets[dead], start.offset + total) is None
                        assert await readers[1 - dead] is None
                    resumed.cancel()
                expected = list(range(start.offset + 1, start.offset + total + 1))
                assert offsets[0] == expected and offsets[1] == expected, "lost or duplicated across the kill"
                # The supervisor started a new worker in place of the killed one.
                await asyncio.to_thread(wait_workers, server, 3)  # two at start, one restarted
                assert victim not in workers_of(server.proc)
                assert server.proc.poll() is None


async def test_sigterm_drains_every_worker_and_exits_zero(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    args = (f"--broker={redis_url}?prefix={prefix}", "--workers=2", "--shutdown-grace=5", SERVICES)
    with server_process(tmp_path, *args) as server:
        async with one_client_per_worker(server, "drained") as clients:
            streams = [await subscribe(c) for c in clients]
            assert len(workers_of(server.proc)) == 2
            server.proc.send_signal(signal.SIGTERM)
            for call in streams:  # each worker tells its stream to go away
                async with asyncio.timeout(30):
                    with pytest.raises(grpc.aio.AioRpcError) as ended:
                        while True:
                            event = await call.read()
                            assert event is not grpc.aio.EOF
                assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
            assert await asyncio.to_thread(server.proc.wait, 30) == 0
            assert "all workers drained" in server.output()
    # The drained workers gave their stream slots back before closing the broker.
    broker = RedisBroker(redis_url, prefix=prefix)
    await broker.start()
    try:
        assert await broker.presence(f"limits:streams:{_slug('drained')}") == {}
    finally:
        await broker.close()


async def test_embedded_engine_refuses_workers(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *(tool("realtime-server"), "--workers=2", "--broker=memory"),
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"--workers 2 needs a shared broker" in err


async def test_workers_that_cannot_start_stop_the_supervisor_with_an_error(
    tmp_path: Path, redis_url: str
) -> None:
    with socket.socket() as taken:  # a plain listener (no SO_REUSEPORT) holds the HTTP port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        http_port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            tool("realtime-server"),
            "--workers=2",
            f"--broker={redis_url}",
            f"--grpc-listen=127.0.0.1:{free_port()}",
            f"--http-listen=127.0.0.1:{http_port}",
            f"--dev-dir={tmp_path}",
            SERVICES,
            stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path,
        )
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    assert proc.returncode == 1
    assert b"could not start" in err and b"cannot listen on --http-listen" in err


def wait_replacement(server: ServerProcess, known: set[int], timeout: float = 30.0) -> int:
    """The pid of a worker the supervisor started that is not in `known` (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        fresh = workers_of(server.proc) - known
        if fresh:
            return fresh.pop()
        assert server.proc.poll() is None, server.output()[-2000:]
        assert time.monotonic() < deadline, "no replacement worker started"
        time.sleep(0.05)


async def test_a_crash_looping_worker_stops_the_supervisor_with_exit_1(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    args = (f"--broker={redis_url}?prefix={prefix}", "--workers=2", SERVICES)
    with server_process(tmp_path, *args) as server:
        await asyncio.to_thread(wait_workers, server, 2)
        known = workers_of(server.proc)
        victim = min(known)
        for crash in range(1, 6):  # the same slot dies five times within the 60 s window
            os.kill(victim, signal.SIGKILL)
            if crash == 5:
                break
            victim = await asyncio.to_thread(wait_replacement, server, known)
            known.add(victim)
        assert await asyncio.to_thread(server.proc.wait, 60) == 1
        assert "crashed 5 times in 60s" in server.output()
        assert not workers_of(server.proc)  # the healthy worker was stopped too
