"""Shared helpers for the text service tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import text_pb2

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.text.service")


@contextlib.asynccontextmanager
async def text_hub(tmp_path: Path) -> AsyncIterator[TestHub]:
    async with running_hub(tmp_path, services=SERVICES) as h:
        yield h


def bad_request(err: grpc.aio.AioRpcError) -> dict[str, str]:
    """The BadRequest field violations of a rich status, as {field: description}."""
    status = rpc_status.from_call(err)
    assert status is not None, "rich status details missing"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            detail.Unpack(br)
            return {v.field: v.description for v in br.field_violations}
    raise AssertionError("no BadRequest in status details")


class Session:
    """A Session stream with bounded waits."""

    def __init__(self, call: grpc.aio.StreamStreamCall) -> None:
        self.call = call

    async def send(self, **command: object) -> None:
        await self.call.write(text_pb2.SessionRequest(**command))  # type: ignore[arg-type]

    async def next(self, timeout: float = 10.0) -> text_pb2.SessionResponse:
        event = await asyncio.wait_for(self.call.read(), timeout)
        assert event is not grpc.aio.EOF, "stream ended"
        return event

    async def until(self, kind: str, timeout: float = 10.0) -> tuple[text_pb2.SessionResponse, list[str]]:
        """Read until an event of `kind`; also return the kinds seen before it."""
        seen = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                which = event.WhichOneof("event")
                if which == kind:
                    return event, seen
                seen.append(which)


def edit(document_id: str, version: int, text: str) -> text_pb2.EditCommand:
    return text_pb2.EditCommand(document_id=document_id, version=version, text=text)
