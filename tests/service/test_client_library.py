"""The Python client: token providers, retries, reconnecting streams, the sync facade."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from realtime.client import Backoff, Client, SyncClient, reconnecting
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import diagnostics_pb2

WHO = diagnostics_pb2.GetIdentityRequest()


async def test_callable_token_provider_is_asked_per_call(hub: TestHub) -> None:
    subjects = iter(["alice", "bob"])
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return hub.token(next(subjects))

    async with Client(hub.target, token=provider) as client:
        assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
        assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "bob"
    assert calls == 2


async def test_reconnecting_stream_survives_a_server_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A hub restarts on the same port; the stream reopens by itself with backoff."""
    from tests.e2e.servers import free_port

    listen = f"127.0.0.1:{free_port()}"
    only_diagnostics = ("realtime.server.diagnostics.service",)
    current: list[TestHub] = []
    client = Client(listen, token=lambda: current[-1].token("alice"))
    attempts = 0

    def open_stream() -> AsyncIterator[diagnostics_pb2.EchoStreamResponse]:
        nonlocal attempts
        attempts += 1
        attempt = attempts

        async def commands() -> AsyncIterator[diagnostics_pb2.EchoStreamRequest]:
            yield diagnostics_pb2.EchoStreamRequest(id=str(attempt), ping={})
            await asyncio.sleep(30)

        return client.diagnostics.EchoStream(commands())

    pongs: list[str] = []
    first_pong = asyncio.Event()

    async def consume() -> None:
        async for event in reconnecting(open_stream, backoff=Backoff(base=0.05, cap=0.3)):
            if event.HasField("pong"):
                pongs.append(event.command_id)
                first_pong.set()
                if len(pongs) == 2:
                    return

    try:
        async with running_hub(tmp_path, only_diagnostics, grpc_listen=listen) as first:
            current.append(first)
            task = asyncio.ensure_future(consume())
            await asyncio.wait_for(first_pong.wait(), 10)
        # First hub is gone (its stream ended with going_away, then the port closed). The second
        # keeps the same secret (same tmp dir), so the reconnect's token is valid whenever it lands.
        async with running_hub(tmp_path, only_diagnostics, grpc_listen=listen) as second:
            current.append(second)
            await asyncio.wait_for(task, 20)
    finally:
        await client.close()
    assert pongs[0] == "1"
    assert len(pongs) == 2 and attempts >= 2


async def test_reconnecting_gives_up_on_non_retryable(hub: TestHub) -> None:
    client = Client(hub.target, token="garbage")

    def open_stream() -> AsyncIterator[diagnostics_pb2.EchoStreamResponse]:
        async def commands() -> AsyncIterator[diagnostics_pb2.EchoStreamRequest]:
            yield diagnostics_pb2.EchoStreamRequest(id="1", ping={})

        return client.diagnostics.EchoStream(commands())

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in reconnecting(open_stream, backoff=Backoff(base=0.01)):
            pass
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await client.close()


def test_sync_facade(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        async with running_hub(tmp_path) as h:
            token = h.token("carol")

            def use() -> tuple[str, str]:
                with SyncClient(h.target, token=token) as sync:
                    who = sync.run(lambda c: c.diagnostics.GetIdentity(WHO, timeout=5))
                    return who.subject, sync.check_health()

            assert await asyncio.to_thread(use) == ("carol", "SERVING")

    asyncio.run(main())
