"""Server-Sent Events fallback for networks that block WebSockets (server-streaming methods).

    GET /sse/<package.Service>/<Method>?request=<protobuf JSON>[&access_token=<short-lived JWT>]

Events: `message` (one per response, `data` = protobuf JSON; `id` = EPOCH:OFFSET
when the response carries a realtime.v1.StreamPosition), then one `status`
event ({"code", "status", "message", "details"}), after which the server ends
the response: close the EventSource on `status`, or it reconnects. On
reconnect the browser sends `Last-Event-ID`, and the gateway resumes by
setting the request's StreamPosition field (when it has exactly one).

Token: the `Authorization` header, or `access_token` in the query (EventSource
cannot set headers). Query strings end up in logs and history, so a query
token must expire within QUERY_TOKEN_MAX_TTL seconds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time

from aiohttp import web

from ..platform.errors import Code, HubError, unauthenticated
from .backend import BackendCall, cancel_quietly, outcome_of
from .gateway import Gateway, is_gone
from .jsonmap import JsonCodecs, MethodCodec, Position, status_json
from .metadata import Outcome, to_grpc_metadata
from .observe import CallRecord

QUERY_TOKEN_MAX_TTL = 300.0


def check_query_token(token: str, now: float | None = None) -> None:
    """Refuse a query-string token that lives too long (the hub still verifies its signature)."""
    now = time.time() if now is None else now
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        raise unauthenticated("access_token is not a JWT with an 'exp' claim") from None
    if exp - now > QUERY_TOKEN_MAX_TTL:
        raise unauthenticated(
            f"a token in the query string must expire within {QUERY_TOKEN_MAX_TTL:g} s; "
            "send a long-lived token in the Authorization header instead"
        )


def format_event(data: str, event: str = "message", event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


KEEPALIVE_COMMENT = b": keepalive\n\n"


class SseHandler:
    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self._codecs = JsonCodecs()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        gw = self._gw
        refused = gw.check_origin(request)
        if refused is not None:
            return refused
        path = f"/{request.match_info['service']}/{request.match_info['method']}"
        headers = gw.cors.response_headers(request.headers.get("Origin"))
        headers.update(
            {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache, no-store",
                "X-Accel-Buffering": "no",
            }
        )
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(request)
        record = gw.metrics.start("sse", path, request.remote)
        outcome = Outcome(int(Code.CANCELLED), "browser disconnected")
        try:
            try:
                codec = self._codecs.for_method(path)
                call = self._start(request, path, codec)
            except HubError as err:
                outcome = outcome_of(err)
            else:
                record.msgs_in = 1
                with gw.watch(request, call):
                    outcome = await self._relay(request, resp, call, codec, record)
            await resp.write(
                format_event(status_json(outcome.code, outcome.message, outcome.details_bin()), "status")
            )
            await resp.write_eof()
        except ConnectionError:
            outcome = Outcome(int(Code.CANCELLED), "browser disconnected")
        finally:
            record.finish(outcome.code, outcome.message)
        return resp

    def _start(self, request: web.Request, path: str, codec: MethodCodec) -> BackendCall:
        last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        resume = Position.parse(last_id) if last_id else None
        payload = codec.encode_request(request.query.get("request", "{}"), resume)
        if len(payload) > self._gw.max_message_bytes:
            raise HubError(Code.RESOURCE_EXHAUSTED, "request larger than the message size limit")
        pairs = list(request.headers.items())
        query_token = request.query.get("access_token")
        if query_token and "Authorization" not in request.headers:
            check_query_token(query_token)
            pairs.append(("authorization", f"Bearer {query_token}"))
        query_trace = request.query.get("traceparent")  # EventSource cannot set the header
        if query_trace and "traceparent" not in request.headers:
            pairs.append(("traceparent", query_trace))
        metadata = to_grpc_metadata(pairs, request.remote)
        return self._gw.backend.server_stream(path, payload, metadata, None)

    async def _relay(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        call: BackendCall,
        codec: MethodCodec,
        record: CallRecord,
    ) -> Outcome:
        keepalive = self._gw.keepalive if self._gw.keepalive > 0 else None
        while True:
            read = asyncio.ensure_future(call.read())
            try:
                while True:
                    done, _ = await asyncio.wait((read,), timeout=keepalive)
                    if done:
                        break
                    await resp.write(KEEPALIVE_COMMENT)  # idle: keep proxies from cutting the stream
            finally:
                await cancel_quietly(read)
            message = read.result()
            if message is None:
                break
            try:
                text, event_id = codec.decode_response(message)
            except HubError as err:
                call.cancel()
                return outcome_of(err)
            await resp.write(format_event(text, "message", event_id))
            record.msgs_out += 1
        if is_gone(request):
            raise ConnectionResetError("browser disconnected")
        return await call.outcome()
