"""Join/leave across two `realtime-server` replicas on Redis, and a leave for a SIGKILLed replica's
connection once its presence expires (presence TTL 3 s here)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import grpc
import pytest

from realtime.client import Client
from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc
from tests.redis_server import delete_prefix, test_prefix

from .servers import server_process

pb = notifications_pb2
pytestmark = [pytest.mark.e2e, pytest.mark.redis]
CHANNEL = "topic:lobby"


async def next_presence(call: Any, timeout: float = 20.0) -> pb.PresenceEvent:
    async with asyncio.timeout(timeout):
        while True:
            event = await call.read()
            assert event is not grpc.aio.EOF
            if event.WhichOneof("event") == "presence":
                return event.presence


async def test_join_leave_across_replicas_and_a_sigkill(tmp_path: Path, redis_url: str) -> None:
    prefix = test_prefix()
    broker = f"--broker={redis_url}?prefix={prefix}"
    env = {"REALTIME_NOTIFICATIONS_PRESENCE_TTL": "3", "REALTIME_NOTIFICATIONS_STATS_INTERVAL": "0"}
    try:
        with (
            server_process(tmp_path, broker, name="a", env=env) as a,
            server_process(tmp_path, broker, name="b", env=env) as b,
        ):
            async with Client(b.target, token=b.token("alice")) as alice:
                watch = alice.stub(notifications_pb2_grpc.NotificationServiceStub).Subscribe()
                await watch.write(
                    pb.SubscribeRequest(
                        id="w", subscribe=pb.SubscribeCommand(channel=CHANNEL, join_leave=True)
                    )
                )
                mine = await next_presence(watch)
                assert (mine.change, mine.user_id) == (pb.PRESENCE_CHANGE_JOIN, "alice")
                # carol joins and leaves on replica A: alice on B sees both.
                async with Client(a.target, token=a.token("carol")) as carol:
                    call = carol.stub(notifications_pb2_grpc.NotificationServiceStub).Subscribe()
                    await call.write(
                        pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel=CHANNEL))
                    )
                    joined = await next_presence(watch)
                    assert (joined.change, joined.user_id) == (pb.PRESENCE_CHANGE_JOIN, "carol")
                    await call.write(
                        pb.SubscribeRequest(id="u", unsubscribe=pb.UnsubscribeCommand(channel=CHANNEL))
                    )
                    left = await next_presence(watch)
                    assert (left.change, left.client_id) == (pb.PRESENCE_CHANGE_LEAVE, joined.client_id)
                    call.cancel()
                # bob joins on A; A is SIGKILLed: nobody removes bob's entry, it expires, B says he left.
                async with Client(a.target, token=a.token("bob")) as bob:
                    call = bob.stub(notifications_pb2_grpc.NotificationServiceStub).Subscribe()
                    await call.write(
                        pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel=CHANNEL))
                    )
                    joined = await next_presence(watch)
                    assert (joined.change, joined.user_id) == (pb.PRESENCE_CHANGE_JOIN, "bob")
                    a.proc.send_signal(signal.SIGKILL)
                    a.proc.wait(10)
                    left = await next_presence(watch, timeout=30.0)
                    assert (left.change, left.user_id, left.client_id) == (
                        pb.PRESENCE_CHANGE_LEAVE,
                        "bob",
                        joined.client_id,
                    )
                    call.cancel()
                # Once: the next event is alice's own stream still working (a ping), no second leave.
                await watch.write(pb.SubscribeRequest(id="p", ping=common_pb2.PingCommand()))
                async with asyncio.timeout(10):
                    event = await watch.read()
                assert event.WhichOneof("event") == "pong", event
                watch.cancel()
    finally:
        await delete_prefix(redis_url, prefix)
