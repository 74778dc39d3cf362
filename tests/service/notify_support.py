"""Helpers for notification service tests: a hub with the service, and a stream driver."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from realtime.client import Client
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc

pb = notifications_pb2
SERVICES = ("realtime.server.diagnostics.service", "realtime.server.notifications.service")


@contextlib.asynccontextmanager
async def notify_hub(
    tmp: Path, notifications: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[TestHub]:
    extra = {"notifications": {"stats_interval": 0, **(notifications or {})}}
    async with running_hub(tmp, services=SERVICES, extra=extra, **settings) as h:
        yield h


def stub(client: Client) -> notifications_pb2_grpc.NotificationServiceStub:
    return client.stub(notifications_pb2_grpc.NotificationServiceStub)


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)
    assert status is not None, "rich status details missing"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in status details")


def pos(epoch: str, offset: int) -> common_pb2.StreamPosition:
    return common_pb2.StreamPosition(epoch=epoch, offset=offset)


class Stream:
    """Drives one Subscribe stream: `send` commands, `expect` events (bounded waits)."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self._n = 0
        self.auto: list[pb.SubscribeResponse] = []

    async def send(self, **command: Any) -> str:
        self._n += 1
        cid = f"c{self._n}"
        await self.call.write(pb.SubscribeRequest(id=cid, **command))
        return cid

    async def next(self, timeout: float = 10.0) -> pb.SubscribeResponse:
        async with asyncio.timeout(timeout):
            event = await self.call.read()
        assert event is not grpc.aio.EOF, "stream ended"
        return event  # type: ignore[no-any-return]

    async def expect(self, kind: str, timeout: float = 10.0) -> pb.SubscribeResponse:
        event = await self.next(timeout)
        assert event.WhichOneof("event") == kind, f"expected {kind}, got {event}"
        return event

    async def subscribe(
        self, channel: str, since: common_pb2.StreamPosition | None = None
    ) -> pb.SubscribedEvent:
        cid = await self.send(subscribe=pb.SubscribeCommand(channel=channel, since=since))
        event = await self.expect("subscribed")
        assert event.command_id == cid
        return event.subscribed

    async def notifications(self, n: int, timeout: float = 10.0) -> list[pb.Notification]:
        return [(await self.expect("notification", timeout)).notification for _ in range(n)]

    async def ended(self, timeout: float = 15.0) -> grpc.aio.AioRpcError:
        """Read until the stream ends with an error status; return it."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    event = await self.call.read()
                except grpc.aio.AioRpcError as err:
                    return err
                assert event is not grpc.aio.EOF, "stream ended OK, expected an error status"


@contextlib.asynccontextmanager
async def open_stream(client: Client) -> AsyncIterator[Stream]:
    """A Subscribe stream past its two automatic `subscribed` events."""
    s = Stream(stub(client).Subscribe())
    s.auto = [await s.expect("subscribed"), await s.expect("subscribed")]
    try:
        yield s
    finally:
        s.call.cancel()
