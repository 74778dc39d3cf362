"""The browser gateway: gRPC-Web unary vs direct gRPC in the same run, and WebSocket bidi messages/s.

Latency is measured one call at a time (p50 of sequential calls: the added hop shows plainly);
throughput with 32 calls in flight. The WebSocket figure is one `grpc-websockets` stream with a
bounded window of echo commands in flight, as `pipelined_bidi` does for native gRPC.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import aiohttp

from realtime.v1 import diagnostics_pb2

from .harness import channel, closed_loop, hub, percentile, pipelined_bidi

ECHO = "/realtime.v1.DiagnosticsService/Echo"
STREAM = "/realtime.v1.DiagnosticsService/EchoStream"
PAYLOAD = b"x" * 32
SECONDS = 4.0


def frame(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(payload)) + payload


async def ws_bidi(
    session: aiohttp.ClientSession, url: str, token: str, message: bytes, seconds: float
) -> float:
    """Echo commands/s over one WebSocket bridge stream (window of 256 in flight)."""
    ws = await session.ws_connect(url, protocols=("grpc-websockets",), max_msg_size=0)
    await ws.send_bytes(
        f"content-type: application/grpc-web+proto\r\nauthorization: Bearer {token}\r\n".encode()
    )
    window = asyncio.Semaphore(256)
    deadline = time.perf_counter() + seconds
    data = b"\x00" + frame(message)
    received = 0
    buffer = b""

    async def writer() -> None:
        while time.perf_counter() < deadline:
            await window.acquire()
            await ws.send_bytes(data)
        await ws.send_bytes(b"\x01")

    async def reader() -> None:
        nonlocal received, buffer
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.BINARY:
                break
            buffer += msg.data
            while len(buffer) >= 5:
                size = struct.unpack(">I", buffer[1:5])[0]
                if len(buffer) < 5 + size:
                    break
                flag, buffer = buffer[0], buffer[5 + size :]
                if flag == 0:
                    received += 1
                    window.release()

    start = time.perf_counter()
    await asyncio.gather(writer(), reader())
    await ws.close()
    return received / (time.perf_counter() - start)


async def run(base: dict[str, Any]) -> dict[str, float]:
    figures: dict[str, float] = {}
    request = diagnostics_pb2.EchoRequest(payload=PAYLOAD).SerializeToString()
    body = frame(request)
    command = diagnostics_pb2.EchoStreamRequest(
        id="1", echo=diagnostics_pb2.EchoCommand(payload=PAYLOAD)
    ).SerializeToString()
    with hub() as h:
        token = h.token()
        md = h.metadata()
        http = f"http://127.0.0.1:{h.http_port}"
        headers = {
            "content-type": "application/grpc-web+proto",
            "x-grpc-web": "1",
            "authorization": f"Bearer {token}",
        }
        async with channel(h.target) as ch:
            unary = ch.unary_unary(ECHO)

            async def direct() -> None:
                await unary(request, metadata=md)

            _, lat = await closed_loop(direct, in_flight=1, seconds=SECONDS / 2)
            figures["direct_unary_p50_ms"] = percentile(lat, 50) * 1000
            rate, _ = await closed_loop(direct, in_flight=32, seconds=SECONDS)
            figures["direct_unary_calls_per_s"] = rate
            bidi = ch.stream_stream(STREAM)
            figures["direct_bidi_msgs_per_s"] = await pipelined_bidi(
                lambda: bidi(metadata=md), command, seconds=SECONDS
            )

        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def via_gateway() -> None:
                async with session.post(http + ECHO, data=body, headers=headers) as resp:
                    reply = await resp.read()
                if not reply.endswith(b"grpc-status: 0\r\n"):
                    raise RuntimeError(f"gateway call failed: {resp.headers} {reply[-60:]!r}")

            _, lat = await closed_loop(via_gateway, in_flight=1, seconds=SECONDS / 2)
            figures["grpcweb_unary_p50_ms"] = percentile(lat, 50) * 1000
            figures["grpcweb_unary_p99_ms"] = percentile(lat, 99) * 1000
            rate, _ = await closed_loop(via_gateway, in_flight=32, seconds=SECONDS)
            figures["grpcweb_unary_calls_per_s"] = rate
            figures["websocket_bidi_msgs_per_s"] = await ws_bidi(
                session, http.replace("http", "ws") + STREAM, token, command, SECONDS
            )
    figures["grpcweb_latency_ratio_to_direct"] = (
        figures["grpcweb_unary_p50_ms"] / figures["direct_unary_p50_ms"]
    )
    figures["grpcweb_throughput_ratio_to_direct"] = (
        figures["grpcweb_unary_calls_per_s"] / figures["direct_unary_calls_per_s"]
    )
    figures["websocket_bidi_ratio_to_direct"] = (
        figures["websocket_bidi_msgs_per_s"] / figures["direct_bidi_msgs_per_s"]
    )
    if base.get("echo_bidi_msgs_per_s"):
        figures["websocket_bidi_ratio_to_raw_echo"] = (
            figures["websocket_bidi_msgs_per_s"] / base["echo_bidi_msgs_per_s"]
        )
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run({})), indent=2))
