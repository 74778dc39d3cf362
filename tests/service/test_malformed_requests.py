"""Bytes that are not the method's message: INVALID_ARGUMENT (MALFORMED_REQUEST) on every service.

Left to grpc they were UNKNOWN ("Unexpected DecodeError") on unary calls and INTERNAL (or a
silent OK) on streams. The interceptor parses requests itself, after authentication.
"""

from __future__ import annotations

import grpc
import pytest

from realtime.server.testing import TestHub

from .test_platform_auth import error_info

GARBAGE = b"\xff\xff\xff\x07garbage"  # a field header with a truncated varint: never parses

UNARY = [
    "/realtime.v1.DiagnosticsService/Echo",
    "/realtime.v1.NotificationService/Publish",
    "/realtime.v1.AnalysisService/SubmitAnalysis",
    "/google.longrunning.Operations/GetOperation",
    "/realtime.v1.CollaborationService/CreateDocument",
]
STREAMS = [
    "/realtime.v1.DiagnosticsService/EchoStream",
    "/realtime.v1.NotificationService/Subscribe",
    "/realtime.v1.CollaborationService/Collaborate",
    "/realtime.v1.ConversationService/Converse",
    "/realtime.v1.AnalysisService/AnalyzeStream",
]


def _auth(hub: TestHub) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {hub.token('alice')}"),)


async def test_unary_garbage_is_invalid_argument(hub: TestHub) -> None:
    async with grpc.aio.insecure_channel(hub.target) as channel:
        for method in UNARY:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary(method)(GARBAGE, metadata=_auth(hub), timeout=10)
            err = caught.value
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.details())
            assert error_info(err).reason == "MALFORMED_REQUEST", method
            assert method in (err.details() or "")


async def test_garbage_without_a_token_is_unauthenticated_first(hub: TestHub) -> None:
    async with grpc.aio.insecure_channel(hub.target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(UNARY[0])(GARBAGE, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_stream_garbage_ends_the_stream_with_invalid_argument(hub: TestHub) -> None:
    async with grpc.aio.insecure_channel(hub.target) as channel:
        for method in STREAMS:
            call = channel.stream_stream(method)(metadata=_auth(hub), timeout=10)
            await call.write(GARBAGE)
            await call.done_writing()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for _ in call:  # a stream may greet first (subscribed events): read them
                    pass
            err = caught.value
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.code(), err.details())
            assert error_info(err).reason == "MALFORMED_REQUEST", method


async def test_a_good_call_still_works_after_garbage(hub: TestHub) -> None:
    from realtime.v1 import diagnostics_pb2

    async with grpc.aio.insecure_channel(hub.target) as channel:
        echo = channel.unary_unary(UNARY[0])
        with pytest.raises(grpc.aio.AioRpcError):
            await echo(GARBAGE, metadata=_auth(hub), timeout=10)
        reply = await echo(
            diagnostics_pb2.EchoRequest(payload=b"hi").SerializeToString(), metadata=_auth(hub), timeout=10
        )
    assert diagnostics_pb2.EchoResponse.FromString(reply).payload == b"hi"
