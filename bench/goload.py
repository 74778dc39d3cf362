"""The Go load generator (bench/go/loadgen): built once into build/, run as a subprocess.

A Python client process spends more CPU per call than the server it loads, and on this 2-core
machine it takes a core the server would otherwise use. The Go binary costs a fraction of that
and reports its own CPU seconds, so a figure can say how much of the machine the load took.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The echo methods the platform figures load: raw grpc.aio (bench/raw_echo.py), then the hub.
RAW_METHODS = ("/bench.Echo/Unary", "/bench.Echo/Bidi")
HUB_METHODS = ("/realtime.v1.DiagnosticsService/Echo", "/realtime.v1.DiagnosticsService/EchoStream")
PAYLOAD = b"x" * 32
SOURCE = ROOT / "bench" / "go" / "loadgen"
BINARY = ROOT / "build" / "loadgen"


def binary() -> Path:
    """The built load generator, rebuilt when a source file is newer than the binary."""
    newest = max(p.stat().st_mtime for p in SOURCE.glob("*.go"))
    if not BINARY.exists() or BINARY.stat().st_mtime < newest:
        BINARY.parent.mkdir(exist_ok=True)
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "build-go.sh"), "bench/go/loadgen", str(BINARY)],
            cwd=ROOT,
            check=True,
            timeout=600,
        )
    return BINARY


async def load(
    mode: str,
    target: str,
    method: str,
    payload: bytes,
    *,
    token: str = "",
    seconds: float = 5.0,
    warmup: float = 1.0,
    inflight: int = 64,
    conns: int = 4,
) -> dict[str, Any]:
    """Run one load (`unary`, `pingpong` or `pipelined`) and return the generator's figures:
    per_s, count (measured), total (warmup too), p50_ms, p99_ms, errors and its own CPU
    (loadgen_cpu_seconds, loadgen_cpu_us_per_call, loadgen_cores)."""
    command = [
        str(await asyncio.to_thread(binary)),
        f"-mode={mode}",
        f"-target={target}",
        f"-method={method}",
        f"-payload={payload.hex()}",
        f"-token={token}",
        f"-inflight={inflight}",
        f"-conns={conns}",
        f"-seconds={seconds}",
        f"-warmup={warmup}",
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds + warmup + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen {mode} {method} failed: {err.decode().strip()}")
    figures: dict[str, Any] = json.loads(out)
    if figures["errors"]:
        raise RuntimeError(
            f"loadgen {mode} {method}: {figures['errors']} errors, first: {figures['first_error']}"
        )
    return figures


def echo_requests() -> tuple[bytes, bytes]:
    """The serialized unary Echo and EchoStream requests (32-byte payload); raw echoes bytes."""
    from realtime.v1 import diagnostics_pb2

    unary = diagnostics_pb2.EchoRequest(payload=PAYLOAD).SerializeToString()
    stream = diagnostics_pb2.EchoStreamRequest(
        id="1", echo=diagnostics_pb2.EchoCommand(payload=PAYLOAD)
    ).SerializeToString()
    return unary, stream
