"""One going-away rule: on SIGTERM every open stream of every service gets its `going_away`
event and then ends UNAVAILABLE with ErrorInfo reason GOING_AWAY (clients reconnect elsewhere),
whether the service raises that status itself or just returns (platform/shutdown.py)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from realtime.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    collaboration_pb2,
    collaboration_pb2_grpc,
    common_pb2,
    conversation_pb2,
    conversation_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
    text_pb2,
    text_pb2_grpc,
)

from .servers import server_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# (name, stub class, method, request class): every bidirectional stream the hub serves.
STREAMS: tuple[tuple[str, Any, str, Any], ...] = (
    ("text", text_pb2_grpc.TextServiceStub, "Session", text_pb2.SessionRequest),
    (
        "conversation",
        conversation_pb2_grpc.ConversationServiceStub,
        "Converse",
        conversation_pb2.ConverseRequest,
    ),
    ("analysis", analysis_pb2_grpc.AnalysisServiceStub, "AnalyzeStream", analysis_pb2.AnalyzeStreamRequest),
    ("analysis-work", analysis_pb2_grpc.AnalysisServiceStub, "Work", analysis_pb2.WorkRequest),
    (
        "collaboration",
        collaboration_pb2_grpc.CollaborationServiceStub,
        "Collaborate",
        collaboration_pb2.CollaborateRequest,
    ),
    (
        "notifications",
        notifications_pb2_grpc.NotificationServiceStub,
        "Subscribe",
        notifications_pb2.SubscribeRequest,
    ),
    (
        "diagnostics",
        diagnostics_pb2_grpc.DiagnosticsServiceStub,
        "EchoStream",
        diagnostics_pb2.EchoStreamRequest,
    ),
)


def reason_of(trailers: Any) -> str:
    for key, value in trailers or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


async def follow_to_the_end(call: Any) -> tuple[bool, grpc.StatusCode, str]:
    """Read until the stream ends: (saw a going_away event, final code, ErrorInfo reason)."""
    saw_going_away = False
    try:
        async with asyncio.timeout(30):
            while (message := await call.read()) is not grpc.aio.EOF:
                saw_going_away = saw_going_away or message.HasField("going_away")
        return saw_going_away, await call.code(), reason_of(await call.trailing_metadata())
    except grpc.aio.AioRpcError as err:
        return saw_going_away, err.code(), reason_of(err.trailing_metadata())


async def test_every_stream_ends_unavailable_going_away_on_sigterm(tmp_path: Path) -> None:
    with server_process(tmp_path, "--shutdown-grace=10") as server:
        metadata = (("authorization", f"Bearer {server.token('alice', roles=('admin',))}"),)
        async with grpc.aio.insecure_channel(server.target) as channel:
            calls = {}
            for name, stub_class, method, request_class in STREAMS:
                call = getattr(stub_class(channel), method)(metadata=metadata, timeout=60)
                await call.write(request_class(id="p", ping=common_pb2.PingCommand()))
                # The first answer (pong, or an error event for a ping before the stream's start
                # command) shows the stream is open and its handler running.
                first = await asyncio.wait_for(call.read(), 20)
                assert first is not grpc.aio.EOF, name
                calls[name] = call
            server.proc.send_signal(signal.SIGTERM)
            results = dict(
                zip(calls, await asyncio.gather(*(follow_to_the_end(c) for c in calls.values())), strict=True)
            )
        assert server.proc.wait(30) == 0
    for name, (saw_going_away, code, reason) in results.items():
        assert saw_going_away, f"{name}: no going_away event"
        assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "GOING_AWAY"), f"{name}: {code} {reason}"
