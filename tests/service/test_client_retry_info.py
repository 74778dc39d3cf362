"""The Python client against a real hub that refuses with RetryInfo (issue 18 item 5).

The hub runs with `max_streams_per_user=1`: while a user holds one stream, another is refused
RESOURCE_EXHAUSTED with google.rpc.RetryInfo (1 s, platform/limits.py). The resuming notification
subscription, an upload's Write and a read's Read must each wait at least that long (jittered up to
1.5x), then get in once the holding stream is closed. Waits go through an injected sleep that
records what it is asked and then really sleeps (the hub needs the time to free the slot); the
assertions are on what was asked, never on the clock. Seeded randomness: SEED.
The TypeScript twin is src/clients/node/test/refusal.test.ts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from realtime.client import Backoff, Client, NotificationSubscription, Reconnecting
from realtime.client.uploads import read_to_file, upload
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import common_pb2, diagnostics_pb2

SEED = 18_105
ADVICE = 1.0  # the hub's RetryInfo on a refused stream
SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.notifications.service",
    "realtime.server.uploads.service",
)


@dataclass
class Recorder:
    """An injected sleep that remembers every wait, then waits."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def backoff(recorder: Recorder) -> Backoff:
    # Its own delays (at most 1 ms) are far below the advice: only RetryInfo makes a wait 1 s.
    return Backoff(base=0.001, cap=0.001, rng=random.Random(SEED), sleep=recorder)


def assert_advised(waits: list[float], told: list[float]) -> None:
    assert waits, "at least one refusal"
    assert waits == told, "waited what was reported"
    for w in waits:
        assert ADVICE <= w <= 1.5 * ADVICE, f"waited {w} s for advice of {ADVICE} s (seed {SEED})"


class Hold:
    """One EchoStream of the user (its only slot), open until `release()`."""

    def __init__(self, client: Client) -> None:
        self._out: asyncio.Queue[diagnostics_pb2.EchoStreamRequest | None] = asyncio.Queue()
        self._call = client.diagnostics.EchoStream(self._requests())

    async def _requests(self) -> AsyncIterator[diagnostics_pb2.EchoStreamRequest]:
        while (req := await self._out.get()) is not None:
            yield req

    async def __aenter__(self) -> Hold:
        self._out.put_nowait(diagnostics_pb2.EchoStreamRequest(id="hold", ping=common_pb2.PingCommand()))
        first = await self._call.read()
        assert first.WhichOneof("event") == "pong", first  # the hub has counted the stream
        return self

    def release(self) -> None:
        self._out.put_nowait(None)

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        async with asyncio.timeout(30):
            async for _ in self._call:  # until the hub ends it (and frees the slot)
                pass


async def test_subscription_refused_by_the_stream_cap_waits_the_advice(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, max_streams_per_user=1) as hub:
        await capped_subscription(hub)


async def capped_subscription(hub: TestHub) -> None:
    slept = Recorder()
    seen: list[Reconnecting] = []
    async with hub.client("capped-sub") as client, Hold(client) as hold:
        sub = NotificationSubscription(client, ["topic:retry-info"], backoff=backoff(slept), max_attempts=6)
        async with asyncio.timeout(60):
            async for event in sub:
                if isinstance(event, Reconnecting):
                    seen.append(event)
                    hold.release()  # the slot frees while the subscription waits
                elif (
                    event.WhichOneof("event") == "subscribed"
                    and event.subscribed.channel == "topic:retry-info"
                ):
                    break
    assert seen and seen[0].code == grpc.StatusCode.RESOURCE_EXHAUSTED, seen
    assert all(r.retry_after == ADVICE for r in seen), seen
    assert_advised(slept.waits, [r.delay for r in seen])


async def test_upload_and_read_refused_by_the_stream_cap_wait_the_advice(tmp_path: Path) -> None:
    data = b"retry-info " * 3000  # one Write message: see tests/unit/client/test_retry_paths.py
    async with (
        running_hub(tmp_path, services=SERVICES, max_streams_per_user=1) as hub,
        hub.client("capped-up") as client,
    ):
        slept, told = Recorder(), []
        async with Hold(client) as hold:

            def on_retry(err: grpc.aio.AioRpcError, _failures: int, delay: float) -> None:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
                told.append(delay)
                hold.release()

            async with asyncio.timeout(60):
                done = await upload(client, data, "text/plain", backoff=backoff(slept), on_retry=on_retry)
        assert done.complete and done.size == len(data)
        assert_advised(slept.waits, told)

        slept, told = Recorder(), []
        async with Hold(client) as hold:

            def on_read_retry(err: grpc.aio.AioRpcError, _failures: int, delay: float) -> None:
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
                told.append(delay)
                hold.release()

            async with asyncio.timeout(60):
                n = await read_to_file(
                    client, done.name, tmp_path / "back.txt", backoff=backoff(slept), on_retry=on_read_retry
                )
        assert n == len(data) and (tmp_path / "back.txt").read_bytes() == data
        assert_advised(slept.waits, told)
