"""Test helpers that speak the gateway's wire formats by hand (gRPC-Web, grpc-websockets, SSE)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from google.rpc import error_details_pb2, status_pb2

from realtime.server.gateway.framing import FrameReader, b64_header_decode, parse_header_block
from realtime.server.testing import TestHub, running_hub

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.gateway.service")
DIAG = "/realtime.v1.DiagnosticsService"
WATCH = "/grpc.health.v1.Health/Watch"
WAIT = 10.0


def frame(payload: bytes, flag: int = 0) -> bytes:
    return bytes((flag,)) + struct.pack(">I", len(payload)) + payload


@dataclass
class Reply:
    """A gRPC-Web answer, parsed: HTTP status and headers, messages, trailers."""

    http_status: int
    headers: dict[str, str]
    messages: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        assert value is not None, f"no grpc-status in {self.headers} / {self.trailers}"
        return int(value)

    @property
    def message(self) -> str:
        from urllib.parse import unquote

        return unquote(self.trailers.get("grpc-message", self.headers.get("grpc-message", "")))

    def details(self) -> status_pb2.Status:
        raw = self.trailers.get("grpc-status-details-bin", self.headers.get("grpc-status-details-bin"))
        assert raw, "no grpc-status-details-bin"
        status = status_pb2.Status()
        status.ParseFromString(b64_header_decode(raw))
        return status

    def reason(self) -> str:
        for detail in self.details().details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
        raise AssertionError("no ErrorInfo")


def decode_text_body(body: bytes) -> bytes:
    out = b""
    # each write is base64 on its own: split after each padded quantum
    for part in re.findall(rb"[A-Za-z0-9+/]*={0,2}", body):
        if part:
            out += base64.b64decode(part)
    return out


def parse_body(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    reader = FrameReader(1 << 24)
    frames = reader.feed(body)
    assert reader.pending == 0, "response ends inside a frame"
    messages = [f.payload for f in frames if not f.is_trailer]
    trailers = [f for f in frames if f.is_trailer]
    assert len(trailers) <= 1
    if trailers:
        assert frames[-1].is_trailer, "the trailer frame must be last"
    return messages, dict(parse_header_block(trailers[0].payload)) if trailers else {}


async def grpc_web(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes | Any,
    *,
    token: str | None = None,
    text: bool = False,
    headers: dict[str, str] | None = None,
    raw: bool = False,
) -> Reply:
    h = {
        "content-type": "application/grpc-web-text" if text else "application/grpc-web+proto",
        "x-grpc-web": "1",
    }
    if text:
        h["accept"] = "application/grpc-web-text"
    if token:
        h["authorization"] = f"Bearer {token}"
    h.update(headers or {})
    data = body
    if isinstance(body, bytes) and not raw:
        data = frame(body)
        if text:
            data = base64.b64encode(data)
    async with asyncio.timeout(WAIT):
        async with session.post(url, data=data, headers=h) as resp:
            content = await resp.read()
            reply = Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()})
    if reply.http_status != 200:
        return reply
    if text:
        assert reply.headers["content-type"].startswith("application/grpc-web-text")
        content = decode_text_body(content)
    reply.messages, reply.trailers = parse_body(content)
    return reply


@contextlib.asynccontextmanager
async def gateway_hub(tmp: Path, **settings: Any) -> AsyncIterator[tuple[TestHub, aiohttp.ClientSession]]:
    async with running_hub(tmp, services=SERVICES, **settings) as hub:
        async with aiohttp.ClientSession() as session:
            yield hub, session


async def metric(session: aiohttp.ClientSession, hub: TestHub, line_prefix: str) -> float:
    async with session.get(hub.http_url + "/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def eventually(check: Callable[[], Any], timeout: float = WAIT) -> None:
    """Wait (bounded) until the async `check()` returns true."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polls a metric over HTTP; no event to await
            await asyncio.sleep(0.05)
