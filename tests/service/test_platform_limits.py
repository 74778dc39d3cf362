"""Per-user limits and message size, as a client meets them."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from realtime.server.testing import running_hub
from realtime.v1 import diagnostics_pb2

ECHO = diagnostics_pb2.EchoRequest(payload=b"x")


def details(err: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(err)
    assert status is not None
    found: dict[str, object] = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
            if detail.Is(kind.DESCRIPTOR):
                msg = kind()
                detail.Unpack(msg)
                found[kind.__name__] = msg
    return found


async def test_oversize_message_is_resource_exhausted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path, max_message_bytes=64 * 1024) as h, h.client("alice") as client:
        reply = await client.diagnostics.Echo(diagnostics_pb2.EchoRequest(payload=b"a" * 60_000), timeout=5)
        assert len(reply.payload) == 60_000
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.diagnostics.Echo(diagnostics_pb2.EchoRequest(payload=b"a" * 70_000), timeout=5)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The hub is still fine afterwards.
        assert (await client.diagnostics.Echo(ECHO, timeout=5)).payload == b"x"


async def test_rate_limit_with_retry_info_and_other_users_unaffected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with (
        running_hub(tmp_path, rate_limit=1.0, rate_burst=5) as h,
        h.client("alice") as alice,
        h.client("bob") as bob,
    ):
        for _ in range(5):
            await alice.diagnostics.Echo(ECHO, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await alice.diagnostics.Echo(ECHO, timeout=5)
        err = caught.value
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        found = details(err)
        assert found["ErrorInfo"].reason == "RATE_LIMIT_EXCEEDED"  # type: ignore[attr-defined]
        assert found["ErrorInfo"].domain == "realtime"  # type: ignore[attr-defined]
        delay = found["RetryInfo"].retry_delay  # type: ignore[attr-defined]
        assert 0 < delay.seconds + delay.nanos / 1e9 <= 1.0
        # Bob has his own bucket.
        assert (await bob.diagnostics.Echo(ECHO, timeout=5)).payload == b"x"


async def test_stream_limit_per_user(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with (
        running_hub(tmp_path, max_streams_per_user=2) as h,
        h.client("alice") as alice,
        h.client("bob") as bob,
    ):
        ping = diagnostics_pb2.EchoStreamRequest(id="p", ping={})
        open_calls = []
        for _ in range(2):
            call = alice.diagnostics.EchoStream()
            await call.write(ping)
            assert (await asyncio.wait_for(call.read(), 5)).HasField("pong")
            open_calls.append(call)
        third = alice.diagnostics.EchoStream()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(third.read(), 5)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details(caught.value)["ErrorInfo"].reason == "RATE_LIMIT_EXCEEDED"  # type: ignore[attr-defined]
        assert "RetryInfo" in details(caught.value)
        # Another user is unaffected.
        other = bob.diagnostics.EchoStream()
        await other.write(ping)
        assert (await asyncio.wait_for(other.read(), 5)).HasField("pong")
        await other.done_writing()
        # Closing one of alice's streams frees a slot.
        await open_calls[0].done_writing()
        assert await asyncio.wait_for(open_calls[0].code(), 5) == grpc.StatusCode.OK
        again = alice.diagnostics.EchoStream()
        await again.write(ping)
        assert (await asyncio.wait_for(again.read(), 5)).HasField("pong")
        await again.done_writing()
        await open_calls[1].done_writing()


async def test_unary_bad_argument_has_bad_request(hub) -> None:  # type: ignore[no-untyped-def]
    async with hub.client("alice") as client:
        request = diagnostics_pb2.EchoRequest(payload=b"x")
        request.delay.seconds = 60
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.diagnostics.Echo(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = details(caught.value)["BadRequest"]
    assert bad.field_violations[0].field == "delay"  # type: ignore[attr-defined]


async def test_token_expiry_ends_a_stream_with_unauthenticated(hub) -> None:  # type: ignore[no-untyped-def]
    from realtime.client import Client

    token = hub.token("alice", ttl=1.5)
    async with Client(hub.target, token=token) as client:
        call = client.diagnostics.EchoStream()
        await call.write(diagnostics_pb2.EchoStreamRequest(id="1", ping={}))
        assert (await asyncio.wait_for(call.read(), 5)).HasField("pong")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(call.read(), 10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "expired" in (caught.value.details() or "")
