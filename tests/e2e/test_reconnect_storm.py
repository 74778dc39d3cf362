"""A reconnect storm: thousands of streams opened at once on one hub are all served.

3,000 streams at once is past grpc core's default pending-call limits (random early drop
from 1,000 waiting calls, refusal at 3,000): with them, a raw grpc.aio server ends a large
share of such a burst before any message (bench_workers shows the counts on 10,000).
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

import grpc
import pytest

from realtime.v1 import diagnostics_pb2

from .servers import server_process

pytestmark = [pytest.mark.e2e]
STREAMS = 3000
CONNECTIONS = 30
METHOD = "/realtime.v1.DiagnosticsService/EchoStream"


async def test_a_burst_of_3000_streams_is_served_in_full(tmp_path: Path) -> None:
    args = ("--services=diagnostics", "--max-streams-per-user=0", "--rate-burst=100000")
    with server_process(tmp_path, *args) as server:
        metadata = (("authorization", f"Bearer {server.token('storm')}"),)
        message = diagnostics_pb2.EchoStreamRequest(
            id="1", echo=diagnostics_pb2.EchoCommand(payload=b"hello")
        ).SerializeToString()
        # Many connections, as many clients coming back at once would use.
        options = [("grpc.use_local_subchannel_pool", 1)]
        channels = [grpc.aio.insecure_channel(server.target, options=options) for _ in range(CONNECTIONS)]
        calls: list[grpc.aio.StreamStreamCall] = []
        outcomes: collections.Counter[str] = collections.Counter()

        async def one(i: int) -> None:
            call = channels[i % CONNECTIONS].stream_stream(METHOD)(metadata=metadata)
            calls.append(call)
            try:
                await call.write(message)
                reply = await call.read()
                outcomes["answered" if reply is not grpc.aio.EOF else "EOF"] += 1
            except grpc.aio.AioRpcError as err:
                outcomes[err.code().name] += 1

        try:
            async with asyncio.timeout(120):
                await asyncio.gather(*(asyncio.wait_for(ch.channel_ready(), 20) for ch in channels))
                await asyncio.gather(*(one(i) for i in range(STREAMS)))
        finally:
            for call in calls:
                call.cancel()
            for ch in channels:
                await ch.close()
        assert outcomes == {"answered": STREAMS}, outcomes
