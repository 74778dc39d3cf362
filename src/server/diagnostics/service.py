"""DiagnosticsService: who am I, what does this hub serve, and echo (unary and stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from realtime.v1 import common_pb2, diagnostics_pb2, diagnostics_pb2_grpc

from ..context import HubContext
from ..platform.auth import current_principal
from ..platform.errors import going_away, invalid_argument
from ..platform.status import error_event, going_away_event, timestamp
from ..platform.streams import commands_until_shutdown

SERVICE = "realtime.v1.DiagnosticsService"
MAX_ECHO_DELAY = 10.0


def _hub_version() -> str:
    try:
        return version("realtime-hub")
    except PackageNotFoundError:
        return "0+unknown"


class DiagnosticsServicer(diagnostics_pb2_grpc.DiagnosticsServiceServicer):
    def __init__(self, hub: HubContext) -> None:
        self._hub = hub

    async def GetIdentity(self, request: Any, context: Any) -> diagnostics_pb2.GetIdentityResponse:
        who = current_principal()
        return diagnostics_pb2.GetIdentityResponse(
            subject=who.subject,
            roles=sorted(who.roles),
            expires_at=timestamp(who.expires_at),
            issuer=who.issuer,
        )

    async def GetServerInfo(self, request: Any, context: Any) -> diagnostics_pb2.GetServerInfoResponse:
        s = self._hub.settings
        return diagnostics_pb2.GetServerInfoResponse(
            version=_hub_version(),
            services=list(self._hub.services),
            broker=self._hub.broker.engine if self._hub.broker is not None else s.broker.partition(":")[0],
            max_message_bytes=s.max_message_bytes,
            rate_limit_per_second=s.rate_limit,
            rate_limit_burst=s.rate_burst,
            max_streams_per_user=s.max_streams_per_user,
            instance_id=self._hub.instance_id,
            started_at=timestamp(self._hub.started_at),
        )

    async def Echo(self, request: diagnostics_pb2.EchoRequest, context: Any) -> diagnostics_pb2.EchoResponse:
        if request.HasField("delay"):
            delay = request.delay.ToTimedelta().total_seconds()
            if not 0 <= delay <= MAX_ECHO_DELAY:
                raise invalid_argument(
                    "delay must be between 0 and 10 seconds",
                    [("delay", f"got {delay:g}s; allowed 0..{MAX_ECHO_DELAY:g}s")],
                )
            await asyncio.sleep(delay)
        return diagnostics_pb2.EchoResponse(payload=request.payload)

    async def EchoStream(
        self, requests: AsyncIterator[diagnostics_pb2.EchoStreamRequest], context: Any
    ) -> AsyncIterator[diagnostics_pb2.EchoStreamResponse]:
        async for command in commands_until_shutdown(requests, self._hub.shutdown):
            if command is None:  # shutdown started: say so, then end the stream
                yield diagnostics_pb2.EchoStreamResponse(
                    going_away=going_away_event(self._hub.shutdown.grace)
                )
                raise going_away()
            kind = command.WhichOneof("command")
            if kind == "echo":
                yield diagnostics_pb2.EchoStreamResponse(
                    command_id=command.id, echo=diagnostics_pb2.EchoEvent(payload=command.echo.payload)
                )
            elif kind == "ping":
                yield diagnostics_pb2.EchoStreamResponse(command_id=command.id, pong=common_pb2.PongEvent())
            else:
                err = invalid_argument("command is empty: set echo or ping", [("command", "no command set")])
                yield diagnostics_pb2.EchoStreamResponse(
                    command_id=command.id, error=error_event(err, command.id)
                )


async def register(hub: HubContext) -> list[str]:
    diagnostics_pb2_grpc.add_DiagnosticsServiceServicer_to_server(DiagnosticsServicer(hub), hub.server)
    return [SERVICE]
