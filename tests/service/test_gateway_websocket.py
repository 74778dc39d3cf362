"""Client and bidi streaming over the gateway's WebSocket bridge (`grpc-websockets` framing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType

from realtime.server.gateway.framing import FrameReader, parse_header_block
from realtime.v1 import diagnostics_pb2

from .gateway_wire import DIAG, WAIT, eventually, frame, gateway_hub, metric

STREAM = DIAG + "/EchoStream"


def ws_url(http_url: str, path: str) -> str:
    return http_url.replace("http://", "ws://") + path


def cmd(i: int, payload: bytes = b"") -> bytes:
    return diagnostics_pb2.EchoStreamRequest(
        id=f"c{i}", echo=diagnostics_pb2.EchoCommand(payload=payload or f"p{i}".encode())
    ).SerializeToString()


def header_block(token: str | None, **extra: str) -> bytes:
    pairs = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **extra}
    if token:
        pairs["authorization"] = f"Bearer {token}"
    return "".join(f"{k}: {v}\r\n" for k, v in pairs.items()).encode()


class ServerFrames:
    """Reads the gateway's answer: header frame, data frames, trailer frame, close."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.reader = FrameReader(1 << 24)
        self.pending: list[tuple[int, bytes]] = []
        self.closed = False

    async def next(self) -> tuple[int, bytes]:
        async with asyncio.timeout(WAIT):
            while not self.pending:
                msg = await self.ws.receive()
                if msg.type is WSMsgType.BINARY:
                    self.pending += [(f.flag, f.payload) for f in self.reader.feed(msg.data)]
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                    self.closed = True
                    raise EOFError("closed")
            return self.pending.pop(0)

    async def headers(self) -> dict[str, str]:
        flag, payload = await self.next()
        assert flag == 0x80, "the first frame must be the header frame"
        return dict(parse_header_block(payload))

    async def response(self) -> diagnostics_pb2.EchoStreamResponse:
        flag, payload = await self.next()
        assert flag == 0, f"expected a data frame, got trailers {parse_header_block(payload)}"
        return diagnostics_pb2.EchoStreamResponse.FromString(payload)

    async def trailers(self) -> dict[str, str]:
        flag, payload = await self.next()
        assert flag == 0x80, "expected the trailer frame"
        return dict(parse_header_block(payload))


async def open_ws(s: aiohttp.ClientSession, url: str, **kwargs: object) -> aiohttp.ClientWebSocketResponse:
    async with asyncio.timeout(WAIT):
        return await s.ws_connect(url, protocols=("grpc-websockets",), **kwargs)  # type: ignore[arg-type]


async def test_bidi_echo_with_half_close(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        assert ws.protocol == "grpc-websockets"
        await ws.send_bytes(header_block(hub.token()))
        out = ServerFrames(ws)
        await ws.send_bytes(b"\x00" + frame(cmd(1)))
        headers = await out.headers()
        assert headers["content-type"] == "application/grpc-web+proto"
        first = await out.response()
        assert (first.command_id, first.echo.payload) == ("c1", b"p1")
        # Two frames in one message, then one frame split over three messages.
        await ws.send_bytes(b"\x00" + frame(cmd(2)) + frame(cmd(3)))
        third = frame(cmd(4, b"z" * 300))
        for piece in (third[:2], third[2:100], third[100:]):
            await ws.send_bytes(b"\x00" + piece)
        got = [await out.response() for _ in range(3)]
        assert [(r.command_id, r.echo.payload) for r in got] == [
            ("c2", b"p2"),
            ("c3", b"p3"),
            ("c4", b"z" * 300),
        ]
        await ws.send_bytes(b"\x01")  # half-close: the service ends the stream
        assert (await out.trailers())["grpc-status"] == "0"
        async with asyncio.timeout(WAIT):
            msg = await ws.receive()
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        await ws.close()


async def test_unauthenticated_and_unknown_method(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(header_block(None))
        out = ServerFrames(ws)
        await out.headers()
        trailers = await out.trailers()
        assert trailers["grpc-status"] == "16" and "grpc-status-details-bin" in trailers
        await ws.close()

        ws = await open_ws(s, ws_url(hub.http_url, DIAG + "/NoSuchStream"))
        await ws.send_bytes(header_block(hub.token()))
        await ws.send_bytes(b"\x01")
        out = ServerFrames(ws)
        await out.headers()
        assert (await out.trailers())["grpc-status"] == "12"
        await ws.close()


async def test_bad_marker_and_bad_frame_are_internal(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        for bad in (b"\x07" + frame(cmd(1)), b"\x00\x42\x00\x00\x00\x00"):
            ws = await open_ws(s, ws_url(hub.http_url, STREAM))
            await ws.send_bytes(header_block(hub.token()))
            await ws.send_bytes(bad)
            out = ServerFrames(ws)
            await out.headers()
            trailers = await out.trailers()
            assert trailers["grpc-status"] == "13", trailers
            await ws.close()
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(b"not a header block")
        out = ServerFrames(ws)
        await out.headers()
        assert (await out.trailers())["grpc-status"] == "13"
        await ws.close()


async def test_oversize_frame_is_resource_exhausted(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, max_message_bytes=4096) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(header_block(hub.token()))
        big = frame(cmd(1, b"x" * 8000))
        await ws.send_bytes(b"\x00" + big[:3000])  # the length prefix alone gives it away
        out = ServerFrames(ws)
        await out.headers()
        assert (await out.trailers())["grpc-status"] == "8"
        await ws.close()


async def test_subprotocol_required(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        async with s.get(
            hub.http_url + STREAM,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ) as r:
            assert r.status == 400 and "grpc-websockets" in await r.text()
        async with s.get(hub.http_url + STREAM) as r:
            assert r.status == 400


async def test_client_disconnect_mid_stream_frees_the_backend_stream(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(header_block(hub.token()))
        await ws.send_bytes(b"\x00" + frame(cmd(1)))
        out = ServerFrames(ws)
        await out.headers()
        await out.response()
        streams = 'realtime_active_streams{service="realtime.v1.DiagnosticsService"}'
        assert await metric(s, hub, streams) == 1
        await ws.close()  # no half-close: the browser tab went away

        async def freed() -> bool:
            gw = await metric(s, hub, 'realtime_gateway_active_calls{protocol="websocket"}')
            return gw == 0 and await metric(s, hub, streams) == 0

        await eventually(freed)
        assert await metric(
            s, hub, 'realtime_gateway_calls_total{grpc_code="CANCELLED",protocol="websocket"}'
        )


async def test_keepalive_pings(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, keepalive_time=0.2) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM), autoping=False)
        await ws.send_bytes(header_block(hub.token()))
        async with asyncio.timeout(WAIT):
            msg = await ws.receive()
            while msg.type is WSMsgType.BINARY:
                msg = await ws.receive()
        assert msg.type is WSMsgType.PING
        await ws.pong(msg.data)
        await ws.close()


async def test_many_messages_flow_with_backpressure(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(header_block(hub.token()))
        out = ServerFrames(ws)
        n = 500

        async def send() -> None:
            for i in range(n):
                await ws.send_bytes(b"\x00" + frame(cmd(i, b"y" * 1000)))
            await ws.send_bytes(b"\x01")

        sender = asyncio.create_task(send())
        await out.headers()
        ids = [(await out.response()).command_id for _ in range(n)]
        assert ids == [f"c{i}" for i in range(n)]
        assert (await out.trailers())["grpc-status"] == "0"
        await sender
        await ws.close()


async def test_shutdown_says_going_away_through_the_bridge(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        ws = await open_ws(s, ws_url(hub.http_url, STREAM))
        await ws.send_bytes(header_block(hub.token()))
        await ws.send_bytes(b"\x00" + frame(cmd(1)))
        out = ServerFrames(ws)
        await out.headers()
        await out.response()
        stopping = asyncio.create_task(hub.hub.stop(grace=5))
        event = await out.response()
        assert event.WhichOneof("event") == "going_away"
        # whatever status the hub ends the stream with arrives unchanged (it says UNAVAILABLE: reconnect)
        trailers = await out.trailers()
        assert trailers["grpc-status"] == "14" and "shutting down" in trailers["grpc-message"]
        async with asyncio.timeout(WAIT):
            assert (await ws.receive()).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
            await stopping
        await ws.close()
