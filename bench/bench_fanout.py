"""Fan-out across worker processes, against a raw grpc.aio push, with a Go client.

- Fan-out to FANOUT_STREAMS (10,000) subscribers of `general`: one Publish per round, time until
  each stream has it (per round p50/p99/max, medians over FANOUT_ROUNDS), on
  (a) bench/raw_push.py, one grpc.aio process writing the same bytes to every stream;
  (b) the hub with `--workers 2` on Redis; (c) the hub with `--workers 1` on Redis; one run,
  ratios at p99 to (a). The subscribers are bench/go/subscribers (one Go process, streams spread
  over FANOUT_CONNECTIONS connections, which SO_REUSEPORT spreads over the workers), so the
  client's own reading costs little and the figure measures the server.
- Opening: the time until all FANOUT_STREAMS streams are open (200 at a time, each batch
  answered before the next), and the server's CPU per stream opened (steadier than
  the time on a busy machine); both as ratios to the raw push server.
- Memory per idle subscriber: the summed RSS and PSS of the hub's worker processes (the
  supervisor's children) before and after the streams opened, per stream, next to the raw push
  server's RSS growth per stream. Measured on the 10,000 streams of (a) and (b); with
  BENCH_IDLE_SUBSCRIBERS=100000 also on that many idle Subscribe streams (2 workers, Redis;
  several streams per user), which takes minutes, so `make bench` leaves it out by default.

Settings: BENCH_FANOUT_STREAMS (10000), BENCH_FANOUT_ROUNDS (7; 0 measures opening and memory
alone, in about a minute), BENCH_FANOUT_WORKERS (`2,1`: the hubs to run, by worker count).

Redis: BENCH_REDIS (default the shared 127.0.0.1:6379) with a fresh key prefix per hub; the
prefix's keys are deleted afterwards (never a flush).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from .bench_notifications import _cleanup, environment
from .harness import Proc, cpu_seconds, free_port, hub, rss_bytes, wait_port

ROOT = Path(__file__).resolve().parent.parent
GO_BINARY = ROOT / "build" / "subscribers"
FANOUT_STREAMS = int(os.environ.get("BENCH_FANOUT_STREAMS", "10000"))
FANOUT_CONNECTIONS = 100
FANOUT_ROUNDS = int(os.environ.get("BENCH_FANOUT_ROUNDS", "7"))
FANOUT_WORKERS = tuple(int(w) for w in os.environ.get("BENCH_FANOUT_WORKERS", "2,1").split(","))
IDLE_SUBSCRIBERS = int(os.environ.get("BENCH_IDLE_SUBSCRIBERS", "0"))
IDLE_STREAMS_PER_USER = 5
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


def build_client() -> Path:
    """bench/go/subscribers, built offline (gofmt and go vet first) into build/subscribers."""
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-go.sh"), "bench/go/subscribers", str(GO_BINARY)],
        cwd=ROOT,
        check=True,
    )
    return GO_BINARY


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; children (server, client) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def pss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no Pss")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def server_cpu(pid: int) -> float:
    """CPU seconds of the server's processes (its workers, or itself)."""
    return sum(cpu_seconds(p) for p in children(pid) or [pid])


def server_memory(pid: int) -> dict[str, int]:
    """RSS, PSS and open fds summed over the server's processes (its workers, or itself)."""
    pids = children(pid) or [pid]
    return {
        "processes": len(pids),
        "rss": sum(rss_bytes(p) for p in pids),
        "pss": sum(pss_bytes(p) for p in pids),
        "fds": sum(fd_count(p) for p in pids),
    }


@contextlib.contextmanager
def raw_push() -> Iterator[Proc]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.raw_push", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield Proc(proc, port)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def redis_hub(workers: int) -> Iterator[Proc]:
    prefix = f"bench-fanout-{secrets.token_hex(4)}:"
    args = (f"--broker={REDIS}?prefix={prefix}", f"--workers={workers}", "--services=notifications")
    try:
        with hub(*args) as proc:
            yield proc
    finally:
        _cleanup(int(REDIS.rsplit(":", 1)[1].split("/")[0]), prefix)


class Client:
    """One bench/go/subscribers process: opens the streams, then (after `go()`) runs the rounds."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            await self.proc.wait()
            raise RuntimeError(f"subscribers exited with {self.proc.returncode}")
        return dict(json.loads(raw))

    async def go(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        return await self.line()


@contextlib.asynccontextmanager
async def subscribers(target: str, streams: int, rounds: int, *args: str) -> AsyncIterator[Client]:
    proc = await asyncio.create_subprocess_exec(
        str(GO_BINARY),
        f"-target={target}",
        f"-streams={streams}",
        f"-conns={FANOUT_CONNECTIONS}",
        f"-rounds={rounds}",
        "-hold",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield Client(proc)
    finally:
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def tokens_file(proc: Proc, path: Path, users: int) -> Path:
    path.write_text("".join(proc.token(f"fan{i}", roles=()) + "\n" for i in range(users)))
    return path


async def measure(
    proc: Proc, streams: int, rounds: int, args: tuple[str, ...], name: str
) -> dict[str, float]:
    """Open `streams` streams, the servers' memory before/after, then `rounds` fan-out rounds."""
    out: dict[str, float] = {}
    await asyncio.sleep(1.0)  # a just-started server settles before the "before" reading
    before = server_memory(proc.proc.pid)
    open_cpu = server_cpu(proc.proc.pid)
    async with subscribers(proc.target, streams, rounds, *args) as client:
        opened = await client.line()
        # Server CPU per stream opened: steadier than the open time on a shared machine.
        out[f"{name}_open_cpu_us_per_stream"] = (server_cpu(proc.proc.pid) - open_cpu) / streams * 1e6
        await asyncio.sleep(2.0)  # let allocations after the last stream opened settle
        after = server_memory(proc.proc.pid)
        out[f"{name}_open_seconds"] = float(opened["open_seconds"])
        out[f"{name}_processes"] = float(after["processes"])
        out[f"{name}_idle_stream_rss_bytes"] = (after["rss"] - before["rss"]) / streams
        out[f"{name}_idle_stream_pss_bytes"] = (after["pss"] - before["pss"]) / streams
        out[f"{name}_server_rss_mb"] = after["rss"] / 2**20
        out[f"{name}_server_fds"] = float(after["fds"])
        if client.proc.pid is not None:
            out[f"{name}_client_fds"] = float(fd_count(client.proc.pid))
        if rounds:
            cpu = server_cpu(proc.proc.pid)
            result = await client.go()
            # Server CPU per delivered message (rounds x streams): steadier than latency on a
            # shared machine, and it includes the garbage collector's share.
            spent = server_cpu(proc.proc.pid) - cpu
            out[f"{name}_cpu_us_per_delivery"] = spent / (rounds * streams) * 1e6
            for key in ("p50_ms", "p99_ms", "max_ms"):
                out[f"{name}_{key}"] = float(result[key])
            out[f"{name}_failed_streams"] = float(result["failed"])
    return out


async def hub_figures(
    workers: int, streams: int, rounds: int, users: int, name: str, tmp: Path
) -> dict[str, float]:
    with redis_hub(workers) as proc:
        tokens = tokens_file(proc, tmp / f"{name}.tokens", users)
        args = ("-mode=hub", f"-tokens={tokens}", f"-admin={proc.token('admin-bench')}")
        return await measure(proc, streams, rounds, args, name)


async def fanout(tmp: Path) -> dict[str, float]:
    figures: dict[str, float] = {"fanout_streams": float(FANOUT_STREAMS)}
    with raw_push() as raw:
        figures.update(await measure(raw, FANOUT_STREAMS, FANOUT_ROUNDS, ("-mode=raw",), "raw_push"))
    for workers in FANOUT_WORKERS:
        figures.update(
            await hub_figures(workers, FANOUT_STREAMS, FANOUT_ROUNDS, FANOUT_STREAMS, f"hub{workers}", tmp)
        )
    for workers in FANOUT_WORKERS:
        hub_name = f"hub{workers}"
        figures[f"{hub_name}_open_ratio"] = (
            figures[f"{hub_name}_open_seconds"] / figures["raw_push_open_seconds"]
        )
        figures[f"{hub_name}_open_cpu_ratio"] = (
            figures[f"{hub_name}_open_cpu_us_per_stream"] / figures["raw_push_open_cpu_us_per_stream"]
        )
        figures[f"{hub_name}_idle_stream_rss_ratio"] = (
            figures[f"{hub_name}_idle_stream_rss_bytes"] / figures["raw_push_idle_stream_rss_bytes"]
        )
        if FANOUT_ROUNDS:
            figures[f"{hub_name}_vs_raw_p99_ratio"] = (
                figures[f"{hub_name}_p99_ms"] / figures["raw_push_p99_ms"]
            )
            figures[f"{hub_name}_vs_raw_p50_ratio"] = (
                figures[f"{hub_name}_p50_ms"] / figures["raw_push_p50_ms"]
            )
    if FANOUT_ROUNDS and {1, 2} <= set(FANOUT_WORKERS):
        figures["workers2_vs_1_p99_ratio"] = figures["hub2_p99_ms"] / figures["hub1_p99_ms"]
    return figures


async def idle(tmp: Path) -> dict[str, float]:
    """IDLE_SUBSCRIBERS idle streams: 2 workers on Redis, and the raw push server for reference."""
    n = IDLE_SUBSCRIBERS
    started = time.perf_counter()
    figures = {"idle_subscribers": float(n)}
    figures.update(await hub_figures(2, n, 0, max(1, n // IDLE_STREAMS_PER_USER), "idle_hub2", tmp))
    with raw_push() as raw:
        figures.update(await measure(raw, n, 0, ("-mode=raw",), "idle_raw_push"))
    figures["idle_hub2_vs_raw_rss_ratio"] = (
        figures["idle_hub2_idle_stream_rss_bytes"] / figures["idle_raw_push_idle_stream_rss_bytes"]
    )
    figures["idle_seconds"] = time.perf_counter() - started
    return figures


async def run(base: dict[str, Any]) -> dict[str, float]:
    import tempfile

    build_client()
    figures: dict[str, float] = {"fd_limit": float(raise_fd_limit())}
    figures["load_average_1m"] = os.getloadavg()[0]
    env = {"REALTIME_NOTIFICATIONS_PUBLISH_RATE": "0", "REALTIME_NOTIFICATIONS_STATS_INTERVAL": "0"}
    with environment(**env), tempfile.TemporaryDirectory() as tmp:
        figures.update(await fanout(Path(tmp)))
        if IDLE_SUBSCRIBERS:
            figures.update(await idle(Path(tmp)))
    figures["load_average_1m_after"] = os.getloadavg()[0]
    return figures
