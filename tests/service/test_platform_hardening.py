"""Dev-default hardening: what an anonymous or abusive peer can hold open is bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from realtime.server.testing import running_hub


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
