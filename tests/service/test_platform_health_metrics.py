"""Health (Check, Watch, NOT_SERVING on shutdown), reflection and /metrics."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import diagnostics_pb2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_health_check_per_service_and_unknown(hub: TestHub) -> None:
    async with hub.client(None) as client:
        assert await client.check_health("") == "SERVING"
        assert await client.check_health("realtime.v1.DiagnosticsService") == "SERVING"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.check_health("realtime.v1.NoSuchService")
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_watch_sees_broker_problem_and_recovery(hub: TestHub) -> None:
    async with hub.client(None) as client:
        watch = client.health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await asyncio.wait_for(watch.read(), 5)).status == SERVING
        await hub.hub.health.mark_problem("broker", True)
        assert (await asyncio.wait_for(watch.read(), 5)).status == NOT_SERVING
        await hub.hub.health.mark_problem("broker", False)
        assert (await asyncio.wait_for(watch.read(), 5)).status == SERVING
        watch.cancel()


async def test_shutdown_turns_not_serving_says_going_away_and_refuses_new_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path, shutdown_grace=5.0) as h:
        async with h.client("alice") as client:
            watch = client.health.Watch(
                health_pb2.HealthCheckRequest(service="realtime.v1.DiagnosticsService")
            )
            assert (await asyncio.wait_for(watch.read(), 5)).status == SERVING
            stream = client.diagnostics.EchoStream()
            await stream.write(diagnostics_pb2.EchoStreamRequest(id="1", ping={}))
            assert (await asyncio.wait_for(stream.read(), 5)).HasField("pong")

            stopping = asyncio.ensure_future(h.hub.stop())
            assert (await asyncio.wait_for(watch.read(), 5)).status == NOT_SERVING
            event = await asyncio.wait_for(stream.read(), 5)
            assert event.HasField("going_away")
            assert event.going_away.grace.seconds == 5
            assert await asyncio.wait_for(stream.code(), 5) == grpc.StatusCode.UNAVAILABLE
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client.diagnostics.Echo(diagnostics_pb2.EchoRequest(payload=b"late"), timeout=3)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            # The stream said goodbye promptly, so shutdown does not wait out the whole grace period.
            await asyncio.wait_for(stopping, 4)


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


async def test_metrics_count_calls_by_code(hub: TestHub) -> None:
    async with hub.client("alice") as client, hub.client(None) as anonymous:
        for _ in range(3):
            await client.diagnostics.Echo(diagnostics_pb2.EchoRequest(payload=b"x"), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError):
            await anonymous.diagnostics.Echo(diagnostics_pb2.EchoRequest(), timeout=5)
        stream = client.diagnostics.EchoStream()
        await stream.write(diagnostics_pb2.EchoStreamRequest(id="1", ping={}))
        await asyncio.wait_for(stream.read(), 5)
        text = await asyncio.to_thread(_scrape, f"{hub.http_url}/metrics")
        assert 'realtime_active_streams{service="realtime.v1.DiagnosticsService"} 1.0' in text
        await stream.done_writing()
        await asyncio.wait_for(stream.code(), 5)
    text = await asyncio.to_thread(_scrape, f"{hub.http_url}/metrics")
    labels = 'grpc_method="Echo",grpc_service="realtime.v1.DiagnosticsService",grpc_type="unary"'
    assert re.search(r'grpc_server_handled_total\{grpc_code="OK",' + labels + r"\} 3\.0", text)
    assert re.search(r'grpc_server_handled_total\{grpc_code="UNAUTHENTICATED",' + labels + r"\} 1\.0", text)
    assert re.search(r"grpc_server_started_total\{" + labels + r"\} 4\.0", text)
    assert re.search(r"grpc_server_handling_seconds_count\{" + labels + r"\} 4\.0", text)
    bidi = 'grpc_method="EchoStream",grpc_service="realtime.v1.DiagnosticsService",grpc_type="bidi_stream"'
    assert re.search(r"grpc_server_msg_received_total\{" + bidi + r"\} 1\.0", text)
    assert re.search(r"grpc_server_msg_sent_total\{" + bidi + r"\} 1\.0", text)
    assert 'realtime_active_streams{service="realtime.v1.DiagnosticsService"} 0.0' in text


async def test_calls_just_before_stop_are_counted(tmp_path: Path) -> None:
    """Call figures reach prometheus in 50 ms batches; the hub's stop flushes the last batch
    (with --workers the shared files are all another worker's /metrics will ever see)."""
    async with running_hub(tmp_path) as h:
        async with h.client("alice") as client:
            for _ in range(3):
                await client.diagnostics.GetIdentity(diagnostics_pb2.GetIdentityRequest(), timeout=5)
        metrics = h.hub.metrics
    labels = {
        "grpc_type": "unary",
        "grpc_service": "realtime.v1.DiagnosticsService",
        "grpc_method": "GetIdentity",
        "grpc_code": "OK",
    }
    assert metrics.registry.get_sample_value("grpc_server_handled_total", labels) == 3
