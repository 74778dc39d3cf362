"""gRPC-Web through the gateway against a real hub: every framing case a browser can produce."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2

from realtime.v1 import diagnostics_pb2

from .gateway_wire import DIAG, WATCH, eventually, frame, gateway_hub, grpc_web, metric

ECHO = DIAG + "/Echo"


def echo(payload: bytes = b"hi", delay: float | None = None) -> bytes:
    req = diagnostics_pb2.EchoRequest(payload=payload)
    if delay is not None:
        req.delay.CopyFrom(duration_pb2.Duration(seconds=int(delay), nanos=int(delay % 1 * 1e9)))
    return req.SerializeToString()


def payload_of(message: bytes) -> bytes:
    return bytes(diagnostics_pb2.EchoResponse.FromString(message).payload)


async def test_unary_binary_and_text(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        reply = await grpc_web(s, hub.http_url + ECHO, echo(b"\x00\xffbinary"), token=hub.token())
        assert reply.http_status == 200 and reply.status == 0
        assert reply.headers["content-type"] == "application/grpc-web+proto"
        assert [payload_of(m) for m in reply.messages] == [b"\x00\xffbinary"]

        reply = await grpc_web(s, hub.http_url + ECHO, echo(b"text mode"), token=hub.token(), text=True)
        assert reply.status == 0 and [payload_of(m) for m in reply.messages] == [b"text mode"]

        # A text body written in two pieces, each base64 on its own: padding mid-stream.
        whole = frame(echo(b"padded"))
        body = base64.b64encode(whole[:4]) + base64.b64encode(whole[4:])
        assert b"=" in body[: len(body) - 2]
        reply = await grpc_web(s, hub.http_url + ECHO, body, token=hub.token(), text=True, raw=True)
        assert reply.status == 0 and [payload_of(m) for m in reply.messages] == [b"padded"]


async def test_request_split_into_many_chunks(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        whole = frame(echo(b"x" * 5000))

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(whole), 7):
                yield whole[i : i + 7]

        reply = await grpc_web(s, hub.http_url + ECHO, chunks(), token=hub.token())
        assert reply.status == 0 and payload_of(reply.messages[0]) == b"x" * 5000


async def test_metadata_reaches_the_service(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        req = diagnostics_pb2.GetIdentityRequest().SerializeToString()
        token = hub.token("carol", ["admin"])
        reply = await grpc_web(s, hub.http_url + DIAG + "/GetIdentity", req, token=token)
        who = diagnostics_pb2.GetIdentityResponse.FromString(reply.messages[0])
        assert who.subject == "carol" and list(who.roles) == ["admin"]


async def test_trailers_only_error_with_details(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        reply = await grpc_web(s, hub.http_url + ECHO, echo())  # no token
        assert reply.http_status == 200 and reply.messages == [] and reply.trailers == {}
        assert reply.headers["grpc-status"] == "16"
        assert "authorization" in reply.message
        assert reply.reason() == "AUTHENTICATION_FAILED"

        reply = await grpc_web(s, hub.http_url + ECHO, echo(delay=60), token=hub.token())
        assert reply.status == 3
        status = reply.details()
        bad = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
        assert bad, "BadRequest details lost on the way"
        violations = error_details_pb2.BadRequest()
        bad[0].Unpack(violations)
        assert violations.field_violations[0].field == "delay"


async def test_deadline_from_grpc_timeout(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        reply = await grpc_web(
            s, hub.http_url + ECHO, echo(delay=5), token=hub.token(), headers={"grpc-timeout": "200m"}
        )
        assert reply.status == 4  # DEADLINE_EXCEEDED
        reply = await grpc_web(
            s, hub.http_url + ECHO, echo(), token=hub.token(), headers={"grpc-timeout": "soon"}
        )
        assert reply.status == 13 and "grpc-timeout" in reply.message


async def test_unknown_method_is_unimplemented(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        for path in (DIAG + "/Nope", "/realtime.v1.NoSuchService/Call"):
            reply = await grpc_web(s, hub.http_url + path, b"", token=hub.token())
            assert reply.status == 12, path


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "exactly one message"),
        (b"\x00\x00\x00\x00\x09abc", "ends inside a frame"),
        (frame(b"a") + frame(b"b"), "exactly one message"),
        (frame(b"", 0x80), "trailer frame"),
        (b"\x04\x00\x00\x00\x00", "flag"),
    ],
)
async def test_bad_frames_are_internal(tmp_path: Path, body: bytes, fragment: str) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        reply = await grpc_web(s, hub.http_url + ECHO, body, token=hub.token(), raw=True)
        assert reply.status == 13 and fragment in reply.message, reply.message
        assert reply.reason() == "BAD_FRAME"


async def test_bad_base64_is_internal(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        reply = await grpc_web(s, hub.http_url + ECHO, b"AAAA*AAA", token=hub.token(), text=True, raw=True)
        assert reply.status == 13 and "base64" in reply.message


async def test_oversize_message_is_resource_exhausted(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, max_message_bytes=4096) as (hub, s):
        reply = await grpc_web(s, hub.http_url + ECHO, echo(b"x" * 10_000), token=hub.token())
        assert reply.status == 8 and "4096" in reply.message
        # A length prefix that lies about a huge frame is refused before anything is buffered.
        huge = b"\x00" + struct.pack(">I", 1 << 30) + b"x" * 100
        reply = await grpc_web(s, hub.http_url + ECHO, huge, token=hub.token(), raw=True)
        assert reply.status == 8


async def test_content_types(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        async with s.post(hub.http_url + ECHO, data=b"{}", headers={"content-type": "application/json"}) as r:
            assert r.status == 415
        reply = await grpc_web(
            s, hub.http_url + ECHO, echo(), headers={"content-type": "application/grpc-web+json"}
        )
        assert reply.status == 12 and "application/grpc-web+proto" in reply.message


async def test_server_streaming_and_client_disconnect(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        active = 'realtime_gateway_active_calls{protocol="grpc-web"}'
        body = frame(health_pb2.HealthCheckRequest(service="").SerializeToString())
        headers = {"content-type": "application/grpc-web+proto"}
        async with asyncio.timeout(10):
            resp = await s.post(hub.http_url + WATCH, data=body, headers=headers)
            first = await resp.content.readexactly(5)
            size = struct.unpack(">I", first[1:])[0]
            msg = health_pb2.HealthCheckResponse.FromString(await resp.content.readexactly(size))
            assert first[0] == 0 and msg.status == health_pb2.HealthCheckResponse.SERVING
            assert await metric(s, hub, active) == 1
            resp.close()  # the browser goes away mid-stream

        async def released() -> bool:
            return await metric(s, hub, active) == 0

        await eventually(released)
        assert await metric(s, hub, 'realtime_gateway_calls_total{grpc_code="CANCELLED",protocol="grpc-web"}')


async def test_backend_down_is_unavailable(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        assert hub.hub.ctx is not None
        await hub.hub.ctx.server.stop(0)
        reply = await grpc_web(s, hub.http_url + ECHO, echo(), token=hub.token())
        assert reply.status == 14


async def test_cors(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, cors_origins=("https://app.example",)) as (hub, s):
        pre = {
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-grpc-web,grpc-timeout",
        }
        async with s.options(hub.http_url + ECHO, headers=pre) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert r.headers["Access-Control-Allow-Headers"] == pre["Access-Control-Request-Headers"]
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
        async with s.options(hub.http_url + ECHO, headers={**pre, "Origin": "https://evil.example"}) as r:
            assert r.status == 403
        reply = await grpc_web(s, hub.http_url + ECHO, echo(), headers={"Origin": "https://app.example"})
        assert reply.status == 16
        exposed = reply.headers["access-control-expose-headers"]
        assert all(h in exposed for h in ("grpc-status", "grpc-message", "grpc-status-details-bin"))
        reply = await grpc_web(s, hub.http_url + ECHO, echo(), headers={"Origin": "https://evil.example"})
        assert reply.http_status == 403
        # the gateway's own origin needs no configuration
        own = {"Origin": hub.http_url}
        reply = await grpc_web(s, hub.http_url + ECHO, echo(), token=hub.token(), headers=own)
        assert reply.status == 0


async def test_metrics_count_gateway_calls(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        await grpc_web(s, hub.http_url + ECHO, echo(), token=hub.token())
        await grpc_web(s, hub.http_url + ECHO, echo())
        ok = await metric(s, hub, 'realtime_gateway_calls_total{grpc_code="OK",protocol="grpc-web"}')
        denied = await metric(
            s, hub, 'realtime_gateway_calls_total{grpc_code="UNAUTHENTICATED",protocol="grpc-web"}'
        )
        assert (ok, denied) == (1, 1)
        out = await metric(s, hub, 'realtime_gateway_messages_total{direction="out",protocol="grpc-web"}')
        assert out == 1
        # the hub's own metrics saw the forwarded calls too
        assert await metric(s, hub, "grpc_server_handled_total") >= 1


async def test_no_session_leak_across_many_calls(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        replies = await asyncio.gather(
            *(grpc_web(s, hub.http_url + ECHO, echo(str(i).encode()), token=hub.token()) for i in range(50))
        )
        got = sorted(payload_of(r.messages[0]) for r in replies)
        assert got == sorted(str(i).encode() for i in range(50))
        assert await metric(s, hub, 'realtime_gateway_active_calls{protocol="grpc-web"}') == 0


_ = aiohttp  # the session type comes from gateway_hub


async def test_server_streaming_in_text_mode_ends_at_the_deadline(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        req = health_pb2.HealthCheckRequest(service="").SerializeToString()
        reply = await grpc_web(s, hub.http_url + WATCH, req, text=True, headers={"grpc-timeout": "300m"})
        assert [health_pb2.HealthCheckResponse.FromString(m).status for m in reply.messages] == [
            health_pb2.HealthCheckResponse.SERVING
        ]
        assert reply.trailers["grpc-status"] == "4"  # the stream's messages, then the trailer frame
