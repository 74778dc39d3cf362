"""AnalyzeStream: incremental analysis of a live text or image stream (live.py does the analysis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from realtime.v1 import analysis_pb2, common_pb2

from ..context import HubContext
from ..platform.auth import current_principal
from ..platform.errors import (
    HubError,
    going_away,
    invalid_argument,
)
from ..platform.status import duration, error_event, going_away_event
from ..platform.streams import commands_until_shutdown
from .convert import seconds_of, struct, timestamp
from .live import LiveSession

MAX_STREAM_INACTIVITY = 7200.0


def time_now() -> float:
    return time.time()


R = analysis_pb2.AnalyzeStreamResponse
Request = analysis_pb2.AnalyzeStreamRequest


class LiveStream:
    """One AnalyzeStream call: `start` once, then chunks, status and stop, until idle or shutdown."""

    def __init__(self, hub: HubContext, inactivity: float) -> None:
        self.hub = hub
        self.inactivity = inactivity
        self.session: LiveSession | None = None

    async def run(
        self, requests: AsyncIterator[analysis_pb2.AnalyzeStreamRequest]
    ) -> AsyncIterator[analysis_pb2.AnalyzeStreamResponse]:
        current_principal()
        commands = commands_until_shutdown(requests, self.hub.shutdown)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle_timeout()):
                        command = await anext(commands, None)
                except TimeoutError:
                    assert self.session is not None
                    yield R(stopped=self._stopped(self.session, "inactive"))
                    return
                if command is None:
                    if self.hub.shutdown.started:
                        yield R(going_away=going_away_event(self.hub.shutdown.grace))
                        raise going_away()
                    return  # the client half-closed
                try:
                    reply, last = await self._apply(command)
                except HubError as err:
                    reply, last = R(command_id=command.id, error=error_event(err, command.id)), False
                yield reply
                if last:
                    return
        finally:
            await commands.aclose()  # type: ignore[attr-defined]

    def _idle_timeout(self) -> float | None:
        session = self.session
        if session is None:
            return None
        return max(0.0, (session.last_chunk or session.started) + self.inactivity - time_now())

    async def _apply(
        self, command: analysis_pb2.AnalyzeStreamRequest
    ) -> tuple[analysis_pb2.AnalyzeStreamResponse, bool]:
        """The reply to one command, and whether it ends the stream."""
        kind = command.WhichOneof("command")
        if kind == "ping":
            return R(command_id=command.id, pong=common_pb2.PongEvent()), False
        if kind == "start":
            return self._start(command), False
        session = self.session
        if session is None:
            raise invalid_argument(
                "start the stream first", [(kind or "command", "before start")], reason="NOT_STARTED"
            )
        if kind == "chunk":
            return await self._chunk(session, command), False
        if kind == "status":
            return R(command_id=command.id, status=self._status(session)), False
        if kind == "stop":
            return R(command_id=command.id, stopped=self._stopped(session, "stopped")), True
        raise invalid_argument("command is empty", [("command", "no command set")])

    def _start(self, command: analysis_pb2.AnalyzeStreamRequest) -> analysis_pb2.AnalyzeStreamResponse:
        if self.session is not None:
            raise invalid_argument("the stream is already started", [("start", "send it once")])
        content = command.start.kind
        if content not in (analysis_pb2.STREAM_CONTENT_KIND_TEXT, analysis_pb2.STREAM_CONTENT_KIND_IMAGE):
            raise invalid_argument("start.kind must be TEXT or IMAGE", [("start.kind", str(content))])
        if command.start.HasField("inactivity_timeout"):
            inactivity = seconds_of(command.start.inactivity_timeout)
            if not 0 < inactivity <= MAX_STREAM_INACTIVITY:
                raise invalid_argument(
                    "inactivity_timeout must be within 0..2 h",
                    [("start.inactivity_timeout", f"{inactivity:g}s")],
                )
            self.inactivity = inactivity
        self.session = LiveSession(
            "text" if content == analysis_pb2.STREAM_CONTENT_KIND_TEXT else "image", clock=time_now
        )
        return R(
            command_id=command.id,
            started=analysis_pb2.StreamStartedEvent(
                stream_id=self.session.id, inactivity_timeout=duration(self.inactivity)
            ),
        )

    async def _chunk(
        self, session: LiveSession, command: analysis_pb2.AnalyzeStreamRequest
    ) -> analysis_pb2.AnalyzeStreamResponse:
        loop = asyncio.get_running_loop()
        which = command.chunk.WhichOneof("content")
        if which == "text":
            data = await loop.run_in_executor(None, session.add_text, command.chunk.text)
        elif which == "image":
            data = await loop.run_in_executor(None, session.add_image, command.chunk.image)
        else:
            raise invalid_argument("chunk is empty", [("chunk", "set text or image")])
        return R(
            command_id=command.id,
            result=analysis_pb2.StreamResultEvent(chunk_index=session.chunks, data=struct(data)),
        )

    def _status(self, session: LiveSession) -> analysis_pb2.StreamStatusEvent:
        return analysis_pb2.StreamStatusEvent(
            stream_id=session.id,
            chunks=session.chunks,
            bytes=session.bytes_received,
            start_time=timestamp(session.started),
            last_chunk_time=timestamp(session.last_chunk),
            kind=analysis_pb2.STREAM_CONTENT_KIND_TEXT
            if session.kind == "text"
            else analysis_pb2.STREAM_CONTENT_KIND_IMAGE,
        )

    def _stopped(self, session: LiveSession, reason: str) -> analysis_pb2.StreamStoppedEvent:
        return analysis_pb2.StreamStoppedEvent(
            reason=reason, status=self._status(session), summary=struct(session.last_result)
        )
