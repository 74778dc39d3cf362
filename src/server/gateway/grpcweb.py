"""gRPC-Web over HTTP/1.1: `application/grpc-web(+proto)` and `application/grpc-web-text(+proto)`.

One request message in, the response messages streamed back as frames, then
the trailer frame. A call that fails before its first message is answered
trailers-only (grpc-status in the HTTP headers, empty body), as gRPC-Web
clients expect. No timeout is imposed on the stream; a slow browser slows the
backend read (each write waits for the socket to drain), so nothing piles up.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from ..platform.errors import Code, HubError
from .backend import BackendCall, CancelSlot, outcome_of
from .framing import (
    Base64Decoder,
    FrameReader,
    bad_frame,
    encode_frame,
    encode_text,
    parse_timeout,
    too_large,
    trailer_frame,
)
from .gateway import ClientGone, Gateway, is_gone
from .metadata import Metadata, Outcome, to_grpc_metadata, to_http_headers
from .methods import UNARY
from .observe import CallRecord

GRPC_WEB = "application/grpc-web"
GRPC_WEB_TEXT = "application/grpc-web-text"
_BINARY = frozenset({GRPC_WEB, GRPC_WEB + "+proto"})
_TEXT = frozenset({GRPC_WEB_TEXT, GRPC_WEB_TEXT + "+proto"})


async def read_single_message(request: web.Request, text: bool, limit: int) -> bytes:
    """The one request message of a gRPC-Web call, read with a cap (never the whole body blindly)."""
    cap = limit + 5
    if text:
        cap = cap * 4 // 3 + 8
    decoder = Base64Decoder() if text else None
    reader = FrameReader(limit)
    frames = []
    received = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        received += len(chunk)
        if received > cap:
            raise too_large(received, limit)
        frames += reader.feed(decoder.feed(chunk) if decoder else chunk)
    if decoder is not None:
        decoder.finish()
    if reader.pending:
        raise bad_frame(f"request body ends inside a frame ({reader.pending} bytes left over)")
    if any(f.is_trailer for f in frames):
        raise bad_frame("a request may not carry a trailer frame")
    if len(frames) != 1:
        raise bad_frame(
            f"a gRPC-Web request carries exactly one message, got {len(frames)}"
            + ("; use the WebSocket bridge for client and bidi streams" if frames else "")
        )
    return frames[0].payload


class GrpcWebHandler:
    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    async def handle(self, request: web.Request) -> web.StreamResponse:
        gw = self._gw
        refused = gw.check_origin(request)
        if refused is not None:
            return refused
        ctype = request.content_type
        text = ctype in _TEXT
        if not text and ctype not in _BINARY:
            if ctype.startswith(GRPC_WEB):  # e.g. +json: the gateway forwards protobuf bytes only
                return self._trailers_only(
                    request,
                    CIMultiDict({"Content-Type": GRPC_WEB + "+proto"}),
                    outcome_of(
                        HubError(
                            Code.UNIMPLEMENTED,
                            f"content type {ctype} is not supported; send application/grpc-web+proto",
                        )
                    ),
                )
            return web.Response(status=415, text="send application/grpc-web(+proto) or -text\n")
        headers = CIMultiDict(gw.cors.response_headers(request.headers.get("Origin")))
        headers["Content-Type"] = (GRPC_WEB_TEXT if text else GRPC_WEB) + "+proto"
        protocol = "grpc-web-text" if text else "grpc-web"
        record = gw.metrics.start(protocol, request.path, request.remote)
        try:
            payload = await read_single_message(request, text, gw.max_message_bytes)
            metadata = to_grpc_metadata(request.headers.items(), request.remote)
            raw_timeout = request.headers.get("grpc-timeout")
            timeout = parse_timeout(raw_timeout) if raw_timeout else None
            if gw.kinds.kind(request.path) == UNARY:
                return await self._unary(request, payload, metadata, timeout, headers, text, record)
            call = gw.backend.server_stream(request.path, payload, metadata, timeout)
        except HubError as err:
            record.finish(int(err.code), err.message)
            return self._trailers_only(request, headers, outcome_of(err))
        record.msgs_in = 1
        try:
            with gw.watch(request, call):
                return await self._relay(request, call, headers, text, record)
        except ClientGone:
            call.cancel()
            record.finish(int(Code.CANCELLED), "browser disconnected")
            return web.Response(status=499)

    async def _unary(
        self,
        request: web.Request,
        payload: bytes,
        metadata: Metadata,
        timeout: float | None,
        headers: CIMultiDict[str],
        text: bool,
        record: CallRecord,
    ) -> web.StreamResponse:
        """A unary method: one unary call, one response written at once (the hot path)."""
        record.msgs_in = 1
        slot = CancelSlot()
        with self._gw.watch(request, slot):
            message, initial, outcome = await self._gw.backend.unary(
                request.path, payload, metadata, timeout, slot
            )
        if message is None:
            record.finish(outcome.code, outcome.message)
            return self._trailers_only(request, headers, outcome)
        record.msgs_out = 1
        record.finish(outcome.code, outcome.message)
        for key, value in to_http_headers(initial):
            headers.add(key, value)
        body = encode_frame(message) + trailer_frame(outcome.status_headers())
        return web.Response(status=200, headers=headers, body=encode_text(body) if text else body)

    async def _relay(
        self,
        request: web.Request,
        call: BackendCall,
        headers: CIMultiDict[str],
        text: bool,
        record: CallRecord,
    ) -> web.StreamResponse:
        first = await call.read()
        if first is None:
            if is_gone(request):
                raise ClientGone
            outcome = await call.outcome()
            if outcome.code != 0:
                record.finish(outcome.code, outcome.message)
                return self._trailers_only(request, headers, outcome)
        for key, value in to_http_headers(await call.initial_metadata()):
            headers.add(key, value)
        resp = web.StreamResponse(status=200, headers=headers)
        try:
            await resp.prepare(request)
            message = first
            while message is not None:
                frame = encode_frame(message)
                await resp.write(encode_text(frame) if text else frame)
                record.msgs_out += 1
                message = await call.read()
            if is_gone(request):
                raise ClientGone
            outcome = await call.outcome()
            trailer = trailer_frame(outcome.status_headers())
            await resp.write(encode_text(trailer) if text else trailer)
            await resp.write_eof()
        except ConnectionError:
            raise ClientGone from None
        record.finish(outcome.code, outcome.message)
        return resp

    @staticmethod
    def _trailers_only(request: web.Request, headers: CIMultiDict[str], outcome: Outcome) -> web.Response:
        out = CIMultiDict(headers)
        for key, value in outcome.status_headers():
            out.add(key, value)
        out["Content-Length"] = "0"
        return web.Response(status=200, headers=out)
