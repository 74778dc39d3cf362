"""The cost of TLS: the same hub binary plaintext and with --tls-cert-file, in the same run.

Unary calls/s (64 in flight, new calls on one connection: TLS costs record encryption, not
handshakes) and pipelined bidi messages/s on one stream; each also as a ratio to the raw grpc.aio
echo baseline measured at the start of the run, and TLS as a ratio to plaintext (best of
alternating rounds). A throwaway CA
and server certificate are made with `cryptography` (tests/tls_certs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from realtime.v1 import diagnostics_pb2

from .harness import Proc, closed_loop, cpu_seconds, hub, pipelined_bidi

ECHO = "/realtime.v1.DiagnosticsService/Echo"
STREAM = "/realtime.v1.DiagnosticsService/EchoStream"
PAYLOAD = b"x" * 32
SECONDS = 3.0
ROUNDS = 3


@contextlib.asynccontextmanager
async def tls_channel(target: str, ca: bytes | None) -> AsyncIterator[grpc.aio.Channel]:
    if ca is None:
        opened = grpc.aio.insecure_channel(target)
    else:
        opened = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca))
    async with opened as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        yield ch


async def measure(h: Proc, ca: bytes | None) -> tuple[float, float, float]:
    """(unary calls/s, bidi messages/s, server CPU microseconds per unary call)."""
    request = diagnostics_pb2.EchoRequest(payload=PAYLOAD).SerializeToString()
    command = diagnostics_pb2.EchoStreamRequest(
        id="1", echo=diagnostics_pb2.EchoCommand(payload=PAYLOAD)
    ).SerializeToString()
    md = h.metadata()
    async with tls_channel(h.target, ca) as ch:
        unary = ch.unary_unary(ECHO)
        cpu = cpu_seconds(h.proc.pid)
        rate, _ = await closed_loop(lambda: unary(request, metadata=md), seconds=SECONDS, warmup=0)
        cpu_per_call = (cpu_seconds(h.proc.pid) - cpu) / (rate * SECONDS) * 1e6
        bidi = ch.stream_stream(STREAM)
        msgs = await pipelined_bidi(lambda: bidi(metadata=md), command, seconds=SECONDS)
    return rate, msgs, cpu_per_call


async def run(base: dict[str, Any]) -> dict[str, float]:
    from tests.tls_certs import CA

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ca = CA(Path(tmp))
        served = ca.server()
        tls = (f"--tls-cert-file={served.cert_file}", f"--tls-key-file={served.key_file}")
        # Both hubs up at once, measured alternately: the shared machine's load drifts, and
        # alternating rounds (best of each) keeps that drift out of the ratio.
        plain: list[tuple[float, float, float]] = []
        secure: list[tuple[float, float, float]] = []
        with hub() as plain_hub, hub(*tls) as tls_hub:
            for _ in range(ROUNDS):
                plain.append(await measure(plain_hub, None))
                secure.append(await measure(tls_hub, ca.pem))
    plain_unary, plain_bidi = max(r[0] for r in plain), max(r[1] for r in plain)
    tls_unary, tls_bidi = max(r[0] for r in secure), max(r[1] for r in secure)
    plain_cpu, tls_cpu = min(r[2] for r in plain), min(r[2] for r in secure)
    # CPU per call is the steadier figure on a busy machine: load slows calls, not their cost.
    figures["plaintext_unary_server_cpu_us_per_call"] = plain_cpu
    figures["tls_unary_server_cpu_us_per_call"] = tls_cpu
    figures["tls_vs_plaintext_cpu_per_call_ratio"] = tls_cpu / plain_cpu
    figures["tls_unary_cpu_per_call_vs_raw_ratio"] = tls_cpu / base["echo_unary_server_cpu_us_per_call"]
    figures["plaintext_unary_calls_per_s"] = plain_unary
    figures["tls_unary_calls_per_s"] = tls_unary
    figures["plaintext_bidi_msgs_per_s"] = plain_bidi
    figures["tls_bidi_msgs_per_s"] = tls_bidi
    figures["tls_vs_plaintext_unary_ratio"] = tls_unary / plain_unary
    figures["tls_vs_plaintext_bidi_ratio"] = tls_bidi / plain_bidi
    figures["plaintext_unary_vs_raw_ratio"] = plain_unary / base["echo_unary_calls_per_s"]
    figures["tls_unary_vs_raw_ratio"] = tls_unary / base["echo_unary_calls_per_s"]
    figures["plaintext_bidi_vs_raw_ratio"] = plain_bidi / base["echo_bidi_msgs_per_s"]
    figures["tls_bidi_vs_raw_ratio"] = tls_bidi / base["echo_bidi_msgs_per_s"]
    return figures
