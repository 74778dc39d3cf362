"""GET /media-stream: a phone call from a telephony provider, in the Twilio Media Streams protocol.

The provider opens a WebSocket and sends JSON messages: `connected`, `start` (with the
stream id and `customParameters`), `media` (base64 G.711 µ-law, 8 kHz, 20 ms), `mark`
and `stop`. The handler turns them into one `ConversationService.Converse` call on the
hub's own gRPC port, authenticated with the bearer token in `customParameters.token`
(so the call is bound by the same auth, limits and quotas as any client), and sends the
reply audio back as `media` messages, a `mark` after each reply, and `clear` when the
caller talks over the reply (barge-in), so the provider drops the audio it buffered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import WSMsgType, web

from realtime.v1 import conversation_pb2 as pb
from realtime.v1 import conversation_pb2_grpc

from ..context import HubContext

log = logging.getLogger("realtime.gateway")

PATH = "/media-stream"
MAX_MESSAGE_BYTES = 64 * 1024  # a 20 ms µ-law frame is ~300 bytes of JSON
START_TIMEOUT_S = 10.0
OUTBOX = 64  # bounded: commands waiting for the gRPC stream


class MediaStreamHandler:
    def __init__(self, hub: HubContext) -> None:
        self._hub = hub
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> conversation_pb2_grpc.ConversationServiceStub:
        if self._channel is None:
            host = self._hub.settings.grpc_listen.rpartition(":")[0].strip("[]")
            if host in ("", "0.0.0.0", "::", "*"):
                host = "127.0.0.1"
            target = f"[{host}]:{self._hub.grpc_port}" if ":" in host else f"{host}:{self._hub.grpc_port}"
            self._channel = grpc.aio.insecure_channel(target)
        return conversation_pb2_grpc.ConversationServiceStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=MAX_MESSAGE_BYTES, heartbeat=self._hub.settings.keepalive_time
        )
        await ws.prepare(request)
        try:
            start = await asyncio.wait_for(self._await_start(ws), START_TIMEOUT_S)
        except (TimeoutError, ValueError) as exc:
            await ws.close(code=1008, message=f"expected a start message: {exc}"[:120].encode())
            return ws
        if start is None:
            return ws
        params = start.get("customParameters") or {}
        token = str(params.get("token", ""))
        if not token:
            await ws.close(code=1008, message=b"unauthenticated: put a token in customParameters.token")
            return ws
        await self._bridge(ws, str(start.get("streamSid", "")), params, token)
        return ws

    async def _await_start(self, ws: web.WebSocketResponse) -> dict[str, Any] | None:
        async for msg in ws:
            event = _parse(msg)
            if event is None:
                return None
            if event.get("event") == "start":
                start = event.get("start")
                if not isinstance(start, dict):
                    raise ValueError("start.start must be an object")
                fmt = start.get("mediaFormat") or {}
                if fmt and (
                    fmt.get("encoding") != "audio/x-mulaw" or int(fmt.get("sampleRate", 8000)) != 8000
                ):
                    raise ValueError("only audio/x-mulaw at 8000 Hz is supported")
                return start
            if event.get("event") not in ("connected",):
                raise ValueError(f"{event.get('event')!r} before start")
        return None

    async def _bridge(self, ws: web.WebSocketResponse, sid: str, params: dict[str, Any], token: str) -> None:
        outbox: asyncio.Queue[pb.ConverseRequest | None] = asyncio.Queue(OUTBOX)
        fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hz=8000, chunk_ms=20)
        start = pb.StartCommand(
            format=fmt,
            caller_number=str(params.get("caller", "")),
            callee_name=str(params.get("callee", "")),
            assistant=pb.AssistantSettings(
                system_prompt=str(params.get("prompt", "")), greeting=str(params.get("greeting", ""))
            ),
        )
        await outbox.put(pb.ConverseRequest(id="start", start=start))

        async def commands() -> AsyncIterator[pb.ConverseRequest]:
            while (cmd := await outbox.get()) is not None:
                yield cmd

        call = self._stub().Converse(commands(), metadata=(("authorization", f"Bearer {token}"),))
        reader = asyncio.get_running_loop().create_task(self._replies(ws, sid, call))
        try:
            if await self._forward(ws, outbox):
                await outbox.put(None)  # `stop`: the queued reply finishes, then `ended` closes
                await reader
            # Otherwise the provider is gone: cancelling the call ends the conversation now.
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await reader
            call.cancel()
            await ws.close()

    async def _forward(
        self, ws: web.WebSocketResponse, outbox: asyncio.Queue[pb.ConverseRequest | None]
    ) -> bool:
        """Provider messages -> Converse commands; True after `stop`, False when the socket closed."""
        seq = 0
        async for msg in ws:
            try:
                event = _parse(msg)
            except ValueError as exc:
                await ws.close(code=1003, message=f"bad message: {exc}"[:120].encode())
                return False
            if event is None:
                return False
            kind = event.get("event")
            if kind == "media":
                media = event.get("media") or {}
                if media.get("track", "inbound") != "inbound":
                    continue
                try:
                    data = base64.b64decode(str(media.get("payload", "")), validate=True)
                except (binascii.Error, ValueError):
                    await ws.close(code=1007, message=b"media.payload is not base64")
                    return False
                if data:
                    await outbox.put(pb.ConverseRequest(audio=pb.AudioCommand(sequence=seq, data=data)))
                    seq += 1
            elif kind == "stop":
                await outbox.put(pb.ConverseRequest(id="end", end=pb.EndCommand()))
                return True
            # `mark` echoes (our reply was played), `dtmf` and others need no action.
        return False

    async def _replies(self, ws: web.WebSocketResponse, sid: str, call: Any) -> None:
        """Converse events -> provider messages; a failed call closes the socket with its status."""
        try:
            await self._relay(ws, sid, call)
        except grpc.aio.AioRpcError as exc:
            await ws.close(code=1008, message=f"{exc.code().name}: {exc.details()}"[:120].encode())
        except ConnectionError:
            return  # the provider hung up while reply audio was still going out

    async def _relay(self, ws: web.WebSocketResponse, sid: str, call: Any) -> None:
        async for event in call:
            kind = event.WhichOneof("event")
            if kind == "reply_audio":
                a = event.reply_audio
                payload = base64.b64encode(a.data).decode()
                await ws.send_json({"event": "media", "streamSid": sid, "media": {"payload": payload}})
                if a.last:
                    await ws.send_json(
                        {"event": "mark", "streamSid": sid, "mark": {"name": f"turn-{a.turn}"}}
                    )
            elif kind == "interrupted":
                await ws.send_json({"event": "clear", "streamSid": sid})
            elif kind == "error":
                log.info("media stream %s: %s", sid, event.error.message)
            elif kind == "ended":
                break
        await ws.close()


def _parse(msg: Any) -> dict[str, Any] | None:
    """The JSON object of a text frame; None when the socket closed. Bad JSON is a ValueError."""
    if msg.type != WSMsgType.TEXT:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        raise ValueError("binary frames are not part of the protocol")
    event = json.loads(msg.data)
    if not isinstance(event, dict):
        raise ValueError("each message must be a JSON object")
    return event


def register_routes(hub: HubContext) -> None:
    handler = MediaStreamHandler(hub)
    hub.http.router.add_get(PATH, handler.handle, allow_head=False)
    hub.on_stop.append(handler.close)
