"""Dev-default hardening: what an anonymous or abusive peer can hold open is bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from realtime.server.testing import running_hub
from realtime.v1 import diagnostics_pb2, diagnostics_pb2_grpc

from .gateway_wire import DIAG, gateway_hub, grpc_web


async def test_health_watch_streams_are_bounded_per_peer(tmp_path: Path) -> None:
    async with running_hub(tmp_path, max_health_watches_per_peer=3) as h:
        async with grpc.aio.insecure_channel(h.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(3)]
            for watch in watches:
                assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            for _ in range(20):  # refused every time, not once
                extra = health.Watch(health_pb2.HealthCheckRequest())
                try:
                    await extra.read()
                    raise AssertionError("a fourth Watch from one peer was accepted")
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    status = rpc_status.from_call(err)
                    assert status is not None and "--max-health-watches-per-peer" in status.message
            watches[0].cancel()
            # The slot comes back once the server has seen the cancel (bounded wait, no fixed sleep).
            servicer = h.hub.health.servicer
            for _ in range(200):
                if servicer.open_watches("127.0.0.1") < 3:
                    break
                await asyncio.sleep(0.01)
            again = health.Watch(health_pb2.HealthCheckRequest())
            assert (await again.read()).status == health_pb2.HealthCheckResponse.SERVING
            for watch in [*watches, again]:
                watch.cancel()


async def test_non_ascii_header_on_grpc_web_is_a_grpc_status(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        req = diagnostics_pb2.GetIdentityRequest().SerializeToString()
        for value in ("héllo", "שלום", "\u2028"):
            for text in (False, True):
                reply = await grpc_web(
                    s,
                    hub.http_url + DIAG + "/GetIdentity",
                    req,
                    token=hub.token(),
                    text=text,
                    headers={"x-name": value},
                )
                assert reply.http_status == 200, (value, reply.http_status)
                status = reply.trailers.get("grpc-status") or reply.headers.get("grpc-status")
                assert status == str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), (value, reply)
        # The same header as ASCII, or binary in a -bin header, is fine.
        reply = await grpc_web(
            s, hub.http_url + DIAG + "/GetIdentity", req, token=hub.token(), headers={"x-name": "hello"}
        )
        assert (reply.trailers.get("grpc-status") or reply.headers.get("grpc-status")) == "0"


async def _closed_within(reader: asyncio.StreamReader, limit: float) -> bool:
    """True when the server closes the connection (EOF or reset) within `limit` seconds."""
    try:
        async with asyncio.timeout(limit):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_idle_http_connections_are_closed(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, http_idle_timeout=0.3) as (hub, _):
        port = hub.hub.http_port
        opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        # Silent from the start, stuck inside a request line, and idle after one request.
        stuck_reader, stuck_writer = await asyncio.open_connection("127.0.0.1", port)
        stuck_writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        kept_reader, kept_writer = await asyncio.open_connection("127.0.0.1", port)
        kept_writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await kept_reader.readline()).startswith(b"HTTP/1.1 200")
        for reader, _writer in [*opened, (stuck_reader, stuck_writer), (kept_reader, kept_writer)]:
            assert await _closed_within(reader, 10.0)
        for _, writer in [*opened, (stuck_reader, stuck_writer), (kept_reader, kept_writer)]:
            writer.close()


async def test_silent_grpc_connections_are_closed(tmp_path: Path) -> None:
    """A peer that connects to the gRPC port and never sends the HTTP/2 preface (or finishes TLS)
    is dropped after --handshake-timeout, not grpc's 120 s default; real clients are unaffected."""
    async with running_hub(tmp_path, handshake_timeout=0.3) as h:
        port = int(h.target.rsplit(":", 1)[1])
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        stuck_reader, stuck_writer = await asyncio.open_connection("127.0.0.1", port)
        stuck_writer.write(b"PRI * HTTP/2.0\r\n")  # half a preface
        for reader, _writer in [*silent, (stuck_reader, stuck_writer)]:
            assert await _closed_within(reader, 10.0)
        for _, writer in [*silent, (stuck_reader, stuck_writer)]:
            writer.close()
        async with grpc.aio.insecure_channel(h.target) as channel:
            reply = await diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).GetIdentity(
                diagnostics_pb2.GetIdentityRequest(), metadata=[("authorization", f"Bearer {h.token()}")]
            )
            assert reply.subject == "alice"


async def test_silent_websockets_are_closed(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, http_idle_timeout=0.3) as (hub, s):
        url = hub.http_url.replace("http", "ws") + "/realtime.v1.DiagnosticsService/EchoStream"
        sockets = [await s.ws_connect(url, protocols=("grpc-websockets",)) for _ in range(20)]
        for ws in sockets:
            async with asyncio.timeout(10):
                messages = [msg async for msg in ws]
            # The header frame and the trailer frame with the status, then the close.
            trailer = messages[-1].data
            assert b"grpc-status: 13" in trailer and b"no header block within 0.3 s" in trailer
            assert ws.closed


async def test_tokens_longer_than_the_maximum_lifetime_are_refused(tmp_path: Path) -> None:
    import jwt

    from realtime.common.tokens import mint_token

    async with running_hub(tmp_path) as h:  # the default maximum: 24 h
        now = time.time()
        day = 24 * 3600
        cases = {
            "25 h from now": mint_token(h.secret, "alice", ttl=25 * 3600),
            "issued 2 days ago, valid 1 more hour": mint_token(
                h.secret, "alice", ttl=2 * day + 3600, now=now - 2 * day
            ),
            "year 9999, no iat": jwt.encode(
                {"sub": "alice", "exp": 253402300799}, h.secret, algorithm="HS256"
            ),
        }
        async with grpc.aio.insecure_channel(h.target) as channel:
            identity = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).GetIdentity
            for name, token in cases.items():
                for _ in range(2):  # the verdict is not cached as a success
                    try:
                        await identity(
                            diagnostics_pb2.GetIdentityRequest(),
                            metadata=[("authorization", f"Bearer {token}")],
                        )
                        raise AssertionError(f"accepted: {name}")
                    except grpc.aio.AioRpcError as err:
                        assert err.code() == grpc.StatusCode.UNAUTHENTICATED, name
                        assert "--max-token-lifetime" in (err.details() or ""), name
            ok = mint_token(h.secret, "alice", ttl=23 * 3600)
            who = await identity(
                diagnostics_pb2.GetIdentityRequest(), metadata=[("authorization", f"Bearer {ok}")]
            )
            assert who.subject == "alice"
    async with running_hub(tmp_path, max_token_lifetime=0) as h:  # 0 disables the limit
        async with grpc.aio.insecure_channel(h.target) as channel:
            token = jwt.encode({"sub": "bob", "exp": 253402300799}, h.secret, algorithm="HS256")
            who = await diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).GetIdentity(
                diagnostics_pb2.GetIdentityRequest(), metadata=[("authorization", f"Bearer {token}")]
            )
            assert who.subject == "bob"


async def test_health_watch_budget_follows_the_gateway_browser_not_loopback(tmp_path: Path) -> None:
    """Through the gateway every Watch arrives from loopback with x-forwarded-for: counted per
    browser address. From a remote peer the header would be ignored (only loopback is trusted)."""
    async with running_hub(tmp_path, max_health_watches_per_peer=2) as h:
        async with grpc.aio.insecure_channel(h.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watches = []
            for browser in ("10.0.0.1", "10.0.0.2"):
                for _ in range(2):
                    watch = health.Watch(
                        health_pb2.HealthCheckRequest(), metadata=(("x-forwarded-for", browser),)
                    )
                    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
                    watches.append(watch)
            extra = health.Watch(health_pb2.HealthCheckRequest(), metadata=(("x-forwarded-for", "10.0.0.1"),))
            try:
                await extra.read()
                raise AssertionError("a third Watch for one browser was accepted")
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert h.hub.health.servicer.open_watches("10.0.0.2") == 2
            for watch in watches:
                watch.cancel()
