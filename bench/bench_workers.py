"""Process-level figures: RSS before any call, a reconnect storm, and 2 workers vs 1.

- RSS of a hub with every service, listening, before any call, next to the raw grpc.aio echo server.
- Reconnect storm: STORM_STREAMS bidi streams opened at once over STORM_CONNECTIONS connections,
  each writes one message and waits for its echo; outcome counts on the raw server (grpc's
  default options) and on the hub.
- One message round trip on 2,000 open streams at once (median of 7 rounds), raw vs hub.
- Unary Echo calls/s with `--workers 2` vs `--workers 1` on Redis, with the cores the hub's
  processes used and the ceiling the machine allows (cores left beside the load generator over
  the cores one worker used), load from the Go load generator
  (64 in flight over GO_CONNECTIONS connections, which the kernel spreads over the workers) and,
  named `py_`, from LOAD_PROCESSES Python client processes (their CPU competes with the workers
  for this machine's cores; the Go generator's share is reported as `..._loadgen_cores`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

from . import goload
from .harness import closed_loop, cpu_seconds, hub, raw_echo, rss_bytes

STORM_STREAMS = int(os.environ.get("BENCH_STORM_STREAMS", "10000"))
STORM_CONNECTIONS = 100
LOAD_PROCESSES = 2
GO_CONNECTIONS = 8
ROUND_TRIP_STREAMS = 2000
ROUND_TRIP_ROUNDS = 7
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


async def storm(target: str, method: str, message: bytes, metadata: Any = None) -> dict[str, int]:
    channels = [grpc.aio.insecure_channel(target, options=OWN_CONNECTION) for _ in range(STORM_CONNECTIONS)]
    await asyncio.gather(*(asyncio.wait_for(ch.channel_ready(), 20) for ch in channels))
    outcomes: collections.Counter[str] = collections.Counter()
    calls = []

    async def one(i: int) -> None:
        call = channels[i % STORM_CONNECTIONS].stream_stream(method)(metadata=metadata)
        calls.append(call)
        try:
            await call.write(message)
            reply = await call.read()
            outcomes["answered" if reply is not grpc.aio.EOF else "EOF"] += 1
        except grpc.aio.AioRpcError as err:
            outcomes[err.code().name] += 1

    try:
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(STORM_STREAMS))), 300)
    finally:
        for call in calls:
            call.cancel()
        for ch in channels:
            await ch.close()
    return dict(outcomes)


async def round_trips(target: str, method: str, message: bytes, metadata: Any = None) -> float:
    """Median seconds for one message to go round every one of ROUND_TRIP_STREAMS open streams."""
    channels = [grpc.aio.insecure_channel(target, options=OWN_CONNECTION) for _ in range(20)]
    calls: list[Any] = []
    try:
        for start in range(0, ROUND_TRIP_STREAMS, 200):  # open them paced, each answered once
            batch = [
                channels[i % 20].stream_stream(method)(metadata=metadata) for i in range(start, start + 200)
            ]
            calls.extend(batch)
            for call in batch:
                await call.write(message)
            await asyncio.gather(*(call.read() for call in batch))

        async def one(call: Any) -> None:
            await call.write(message)
            await call.read()

        times = []
        for _ in range(ROUND_TRIP_ROUNDS):
            began = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(one(c) for c in calls)), 60)
            times.append(time.perf_counter() - began)
        return sorted(times)[len(times) // 2]
    finally:
        for call in calls:
            call.cancel()
        for ch in channels:
            await ch.close()


def _idle_rss_mb(pid: int) -> float:
    time.sleep(1.0)  # let the process settle after it started listening
    return rss_bytes(pid) / 2**20


async def _instances(target: str, token: str, want: int) -> int:
    """Distinct workers seen over fresh connections (waits for late workers, bounded)."""
    from realtime.v1 import diagnostics_pb2, diagnostics_pb2_grpc

    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while len(seen) < want and time.monotonic() < deadline:
        async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as ch:
            stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(ch)
            info = await stub.GetServerInfo(
                diagnostics_pb2.GetServerInfoRequest(), metadata=(("authorization", f"Bearer {token}"),)
            )
            seen.add(info.instance_id)
    return len(seen)


def _load(target: str, token: str, seconds: float) -> float:
    """Unary calls/s from LOAD_PROCESSES client processes (this module's __main__)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bench_workers", target, token, str(seconds)],
            stdout=subprocess.PIPE,
        )
        for _ in range(LOAD_PROCESSES)
    ]
    total = 0.0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        total += float(json.loads(out)["calls_per_s"])
    return total


async def _go_load(target: str, token: str, seconds: float) -> dict[str, Any]:
    request, _ = goload.echo_requests()
    return await goload.load(
        "unary",
        target,
        goload.HUB_METHODS[0],
        request,
        token=token,
        seconds=seconds,
        conns=GO_CONNECTIONS,
    )


def _process_tree(pid: int) -> list[int]:
    """`pid` and its child processes (the supervisor's workers)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return pids


async def workers_figures(seconds: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    for workers in (1, 2):
        prefix = f"bench-workers-{uuid.uuid4().hex[:8]}"
        args = (f"--broker={REDIS}?prefix={prefix}", f"--workers={workers}", "--services=diagnostics")
        with hub(*args) as h:
            token = h.token()
            figures[f"workers{workers}_seen"] = await _instances(h.target, token, workers)
            tree = _process_tree(h.proc.pid)
            used = {pid: cpu_seconds(pid) for pid in tree}
            started = time.perf_counter()
            go = await _go_load(h.target, token, seconds)
            wall = time.perf_counter() - started
            # Cores the hub's processes used (grpc's core threads run beside each worker's
            # Python thread, so one worker already uses more than one core).
            figures[f"workers{workers}_server_cores"] = sum(cpu_seconds(p) - used[p] for p in tree) / wall
            figures[f"workers{workers}_server_cpu_us_per_call"] = (
                figures[f"workers{workers}_server_cores"] * wall / go["total"] * 1e6
            )
            figures[f"workers{workers}_unary_calls_per_s"] = go["per_s"]
            figures[f"workers{workers}_unary_p50_ms"] = go["p50_ms"]
            figures[f"workers{workers}_loadgen_cores"] = go["loadgen_cores"]
            figures[f"workers{workers}_loadgen_cpu_us_per_call"] = go["loadgen_cpu_us_per_call"]
            figures[f"py_workers{workers}_unary_calls_per_s"] = await asyncio.to_thread(
                _load, h.target, token, seconds
            )
    figures["workers2_vs_1_unary_ratio"] = (
        figures["workers2_unary_calls_per_s"] / figures["workers1_unary_calls_per_s"]
    )
    # What 2 workers could reach on this machine at one worker's CPU per call: the cores left
    # beside the load generator, over the cores one worker used.
    figures["workers2_ceiling_ratio"] = ((os.cpu_count() or 1) - figures["workers2_loadgen_cores"]) / figures[
        "workers1_server_cores"
    ]
    figures["py_workers2_vs_1_unary_ratio"] = (
        figures["py_workers2_unary_calls_per_s"] / figures["py_workers1_unary_calls_per_s"]
    )
    return figures


async def run(base: dict[str, float]) -> dict[str, Any]:
    from realtime.v1 import diagnostics_pb2

    figures: dict[str, Any] = {}
    echo = diagnostics_pb2.EchoStreamRequest(id="1", echo=diagnostics_pb2.EchoCommand(payload=b"x" * 32))
    with raw_echo() as raw:
        figures["raw_rss_before_any_call_mb"] = _idle_rss_mb(raw.proc.pid)
        figures["raw_storm_outcomes"] = await storm(raw.target, "/bench.Echo/Bidi", b"x" * 32)
        figures["raw_round_trip_2000_streams_ms"] = 1000 * await round_trips(
            raw.target, "/bench.Echo/Bidi", b"x" * 32
        )
    with hub() as h:
        figures["hub_rss_before_any_call_mb"] = _idle_rss_mb(h.proc.pid)
        figures["hub_rss_ratio"] = (
            figures["hub_rss_before_any_call_mb"] / figures["raw_rss_before_any_call_mb"]
        )
        figures["hub_storm_outcomes"] = await storm(
            h.target, "/realtime.v1.DiagnosticsService/EchoStream", echo.SerializeToString(), h.metadata()
        )
        figures["hub_round_trip_2000_streams_ms"] = 1000 * await round_trips(
            h.target, "/realtime.v1.DiagnosticsService/EchoStream", echo.SerializeToString(), h.metadata()
        )
        figures["hub_round_trip_2000_streams_ratio"] = (
            figures["hub_round_trip_2000_streams_ms"] / figures["raw_round_trip_2000_streams_ms"]
        )
    figures["storm_streams"] = STORM_STREAMS
    figures.update(await workers_figures(base.get("seconds", 5.0)))
    return figures


async def _client(target: str, token: str, seconds: float) -> float:
    from realtime.v1 import diagnostics_pb2

    request = diagnostics_pb2.EchoRequest(payload=b"x" * 32).SerializeToString()
    metadata = (("authorization", f"Bearer {token}"),)
    channels = [grpc.aio.insecure_channel(target, options=OWN_CONNECTION) for _ in range(8)]
    calls = [ch.unary_unary("/realtime.v1.DiagnosticsService/Echo") for ch in channels]
    turn = 0

    def next_call() -> Any:
        nonlocal turn
        turn += 1
        return calls[turn % len(calls)](request, metadata=metadata)

    rate, _ = await closed_loop(next_call, seconds=seconds)
    for ch in channels:
        await ch.close()
    return rate


if __name__ == "__main__":
    target, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    print(json.dumps({"calls_per_s": asyncio.run(_client(target, token, seconds))}))
