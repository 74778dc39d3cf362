"""Shared bench plumbing: server processes, load loops, memory readings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from realtime.server.platform.auth import mint_token

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: per-call CPU is steadier than calls/s on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    port: int
    http_port: int = 0
    secret: bytes = b""

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def token(self, sub: str = "bench", roles: tuple[str, ...] = ("admin",)) -> str:
        return mint_token(self.secret, sub, roles=roles, ttl=6 * 3600)

    def metadata(self, sub: str = "bench") -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(sub)}"),)


@contextlib.contextmanager
def _running(command: list[str], port: int, **kw: object) -> Iterator[subprocess.Popen[bytes]]:
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
    try:
        wait_port(port)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@contextlib.contextmanager
def raw_echo() -> Iterator[Proc]:
    port = free_port()
    with _running([sys.executable, "-m", "bench.raw_echo", "--port", str(port)], port) as proc:
        yield Proc(proc, port)


@contextlib.contextmanager
def hub(*args: str) -> Iterator[Proc]:
    """A `realtime-server` process on free ports with a fresh secret (rate limit raised for load)."""
    port, http_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        secret = secrets.token_urlsafe(48).encode()
        (Path(tmp) / "secret").write_bytes(secret)
        command = [
            str(BIN / "realtime-server"),
            f"--grpc-listen=127.0.0.1:{port}",
            f"--http-listen=127.0.0.1:{http_port}",
            f"--jwt-secret-file={tmp}/secret",
            "--rate-limit=1000000",
            "--rate-burst=1000000",
            "--max-streams-per-user=0",
            "--shutdown-grace=2",
            "--broker=memory",  # the benches' reference engine; `args` may name another
            *args,
        ]
        with _running(command, port, cwd=tmp, env={**os.environ}) as proc:
            yield Proc(proc, port, http_port, secret)


async def closed_loop(
    call: Callable[[], Awaitable[object]], *, in_flight: int = 64, seconds: float = 5.0, warmup: float = 1.0
) -> tuple[float, list[float]]:
    """Keep `in_flight` calls going for `seconds`; return (calls/s, latencies in seconds)."""
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup
    latencies: list[float] = []
    count = 0

    async def worker() -> None:
        nonlocal count
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                return
            await call()
            end = time.perf_counter()
            if start >= measure_from:
                count += 1
                latencies.append(end - start)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return count / seconds, latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def pipelined_bidi(
    open_call: Callable[[], grpc.aio.StreamStreamCall], message: bytes, *, seconds: float = 4.0
) -> float:
    """Messages/s echoed on one bidi stream with writes and reads overlapping (bounded window)."""
    call = open_call()
    window = asyncio.Semaphore(256)
    received = 0
    deadline = time.perf_counter() + seconds
    done_writing = asyncio.Event()

    async def writer() -> None:
        while time.perf_counter() < deadline:
            await window.acquire()
            await call.write(message)
        await call.done_writing()
        done_writing.set()

    async def reader() -> None:
        nonlocal received
        async for _ in call:
            received += 1
            window.release()

    start = time.perf_counter()
    await asyncio.gather(writer(), reader())
    return received / (time.perf_counter() - start)


async def idle_stream_bytes(
    pid: int, open_call: Callable[[], grpc.aio.StreamStreamCall], first: bytes, *, streams: int = 1000
) -> float:
    """Server RSS growth per open, idle bidi stream (each stream answered once so it is really open)."""
    before = rss_bytes(pid)
    calls = []
    for start in range(0, streams, 100):
        batch = [open_call() for _ in range(start, min(streams, start + 100))]
        for call in batch:
            await call.write(first)
        await asyncio.gather(*(call.read() for call in batch))
        calls.extend(batch)
    await asyncio.sleep(1.0)
    after = rss_bytes(pid)
    for call in calls:
        call.cancel()
    return (after - before) / streams


@contextlib.asynccontextmanager
async def channel(target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(target) as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        yield ch
