"""Client and bidi streaming over WebSocket, in the improbable-eng `grpc-websockets` framing.

Client -> gateway: the first message is the request header block
("name: value\\r\\n" lines, authorization included); every later message is
one marker byte 0x00 followed by a piece of the gRPC byte stream (frames may
be split across messages, or several may share one); a message of exactly
0x01 is half-close.

Gateway -> client: a header frame (flag 0x80, the response headers), one data
frame per response message, the trailer frame (flag 0x80, grpc-status...),
then the close. Existing clients such as nice-grpc-web speak this.

Backpressure: browser messages go through a bounded queue into the call; when
it is full the gateway stops reading the socket (TCP pushes back on the
browser). Responses are written one at a time and each write waits for the
socket to drain, so a slow browser slows the backend stream instead of
growing a buffer. Keepalive: WebSocket pings every --keepalive-time seconds;
a peer that does not answer is dropped. No timeout ends a healthy stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web

from ..platform.errors import Code, HubError
from .backend import BackendCall, cancel_quietly, outcome_of
from .framing import (
    FLAG_TRAILER,
    FrameReader,
    bad_frame,
    encode_frame,
    encode_header_block,
    parse_header_block,
    parse_timeout,
    trailer_frame,
)
from .gateway import Gateway
from .metadata import Outcome, to_grpc_metadata, to_http_headers
from .observe import CallRecord

log = logging.getLogger("realtime.gateway")

SUBPROTOCOL = "grpc-websockets"
MARKER_DATA = 0x00
HALF_CLOSE = b"\x01"
# Browser messages waiting for the hub; past this the gateway stops reading the socket.
REQUEST_QUEUE = 16
# Seconds a new socket gets to send its header block (less when --http-idle-timeout is shorter).
HEADERS_WAIT = 10.0


class _QueueIterator:
    """The call's request stream. A plain iterator, not an async generator: grpc may end the
    call while a read is pending, and an async generator would then be closed while running."""

    def __init__(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queue = queue

    def __aiter__(self) -> _QueueIterator:
        return self

    async def __anext__(self) -> bytes:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


class _Session:
    """One WebSocket call: the reader task feeds the call, the handler relays responses."""

    def __init__(self, gw: Gateway, ws: web.WebSocketResponse, record: CallRecord) -> None:
        self.gw = gw
        self.ws = ws
        self.record = record
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=REQUEST_QUEUE)
        self.failure: Outcome | None = None
        self.client_gone = False
        self.call: BackendCall | None = None
        self.done = False  # the trailer frame was sent

    def requests(self) -> AsyncIterator[bytes]:
        return _QueueIterator(self.queue)

    async def read_client(self) -> None:
        """Browser -> call. Ends at the socket's close; a framing error ends the call with a status."""
        frames = FrameReader(self.gw.max_message_bytes)
        half_closed = False
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    self.client_gone = not self.done
                    self._cancel_call()
                    return
                if msg.type is not WSMsgType.BINARY:
                    raise bad_frame("after the header block, send binary messages only")
                data: bytes = msg.data
                if data == HALF_CLOSE:
                    if frames.pending:
                        raise bad_frame("half-close in the middle of a frame")
                    if not half_closed:
                        half_closed = True
                        await self.queue.put(None)
                    continue
                if not data or data[0] != MARKER_DATA:
                    raise bad_frame("a message must start with 0x00 (data) or be exactly 0x01 (half-close)")
                if half_closed:
                    raise bad_frame("data after half-close")
                for frame in frames.feed(data[1:]):
                    if frame.is_trailer:
                        raise bad_frame("a client may not send a trailer frame")
                    await self.queue.put(frame.payload)
                    self.record.msgs_in += 1
        except HubError as err:
            self.failure = outcome_of(err)
            self._cancel_call()

    def _cancel_call(self) -> None:
        if self.call is not None:
            self.call.cancel()

    async def send(self, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        await self.ws.send_bytes(data)

    async def relay(self, call: BackendCall) -> Outcome:
        """Call -> browser: header frame, data frames, trailer frame."""
        md = await call.initial_metadata()
        header = [("content-type", "application/grpc-web+proto"), *to_http_headers(md)]
        await self.send(encode_frame(encode_header_block(header), FLAG_TRAILER))
        while (message := await call.read()) is not None:
            await self.send(encode_frame(message))
            self.record.msgs_out += 1
        outcome = self.failure or await call.outcome()
        await self.send(trailer_frame(outcome.status_headers()))
        self.done = True
        return outcome


class WebSocketHandler:
    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    async def handle(self, request: web.Request) -> web.StreamResponse:
        gw = self._gw
        refused = gw.check_origin(request)
        if refused is not None:
            return refused
        limit = gw.max_message_bytes
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            heartbeat=gw.keepalive if gw.keepalive > 0 else None,
            max_msg_size=max(limit + 1024, 64 * 1024),
            autoping=True,
        )
        ready = ws.can_prepare(request)
        if not ready.ok:
            return web.Response(status=400, text="expected a WebSocket upgrade or a gRPC-Web POST\n")
        if ready.protocol != SUBPROTOCOL:
            return web.Response(status=400, text=f"request the {SUBPROTOCOL!r} WebSocket subprotocol\n")
        await ws.prepare(request)
        record = gw.metrics.start("websocket", request.path, request.remote)
        session = _Session(gw, ws, record)
        reader: asyncio.Task[None] | None = None
        outcome = Outcome(int(Code.CANCELLED), "browser disconnected")
        try:
            try:
                metadata, timeout = await self._read_headers(request, ws)
            except HubError as err:
                outcome = outcome_of(err)
                await session.send(encode_frame(encode_header_block([]), FLAG_TRAILER))
                await session.send(trailer_frame(outcome.status_headers()))
                return ws
            call = session.call = gw.backend.bidi(request.path, session.requests(), metadata, timeout)
            reader = asyncio.get_running_loop().create_task(session.read_client())
            outcome = await session.relay(call)
            if session.client_gone:
                outcome = Outcome(int(Code.CANCELLED), "browser disconnected")
        except (ConnectionError, asyncio.CancelledError) as exc:
            if session.call is not None:
                session.call.cancel()
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            await cancel_quietly(reader)
            if not ws.closed:
                await ws.close()
            record.finish(outcome.code, outcome.message)
        return ws

    async def _read_headers(
        self, request: web.Request, ws: web.WebSocketResponse
    ) -> tuple[tuple[tuple[str, str | bytes], ...], float | None]:
        wait = min(HEADERS_WAIT, self._gw.hub.settings.http_idle_timeout or HEADERS_WAIT)
        try:
            async with asyncio.timeout(wait):
                msg = await ws.receive()
        except TimeoutError:
            raise bad_frame(f"no header block within {wait:g} s of connecting") from None
        if msg.type is WSMsgType.BINARY:
            block: bytes = msg.data
        elif msg.type is WSMsgType.TEXT:
            block = msg.data.encode("utf-8")
        else:
            raise HubError(Code.CANCELLED, "socket closed before the header block")
        pairs = parse_header_block(block)
        raw_timeout = next((v for k, v in pairs if k == "grpc-timeout"), None)
        timeout = parse_timeout(raw_timeout) if raw_timeout else None
        return to_grpc_metadata(pairs, request.remote), timeout
