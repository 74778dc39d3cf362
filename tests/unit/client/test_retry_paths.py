"""Every retry path of the Python client waits at least the server's google.rpc.RetryInfo.

In-process grpc.aio services on 127.0.0.1 answer with a script of refusals (real gRPC status
details on the wire), the real `Client` calls them, and the waits go through an injected sleep
that records them and returns at once; randomness comes from `random.Random(SEED)` (the seed is in
every failure message). Issue 18 item 5; the TypeScript twin is src/clients/node/test/retry.test.ts.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from realtime.client import Backoff, Client, NotificationSubscription, Reconnecting
from realtime.client.uploads import read_to_file, upload
from realtime.v1 import (
    common_pb2,
    notifications_pb2,
    notifications_pb2_grpc,
    uploads_pb2,
    uploads_pb2_grpc,
)

SEED = 18_005
ADVICE = 1.0  # seconds: what the scripted refusals ask for (as the hub's stream cap does)
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    retry_after: float | None = None  # None: no RetryInfo detail


Script = list[Refusal | None]  # one entry per call of a method: refuse, or None to serve
Serve = Callable[..., Awaitable[Client]]
Ctx: TypeAlias = grpc.aio.ServicerContext  # type: ignore[type-arg]


async def refuse(context: Ctx, refusal: Refusal) -> None:
    status = status_pb2.Status(code=refusal.code.value[0], message="refused by the script")
    if refusal.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(refusal.retry_after * 1e9))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    trailing = (("grpc-status-details-bin", status.SerializeToString()),)
    await context.abort(refusal.code, status.message, trailing_metadata=trailing)


async def follow(script: Script, context: Ctx) -> None:
    """Refuse this call if the script says so (an empty script serves)."""
    step = script.pop(0) if script else None
    if step is not None:
        await refuse(context, step)


@dataclass
class Recorder:
    """An injected sleep: remembers every wait and returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def backoff(recorder: Recorder, seed: int = SEED) -> Backoff:
    # Its own delays (at most 1 ms) are far below the advice: only RetryInfo makes a wait 1 s.
    return Backoff(base=0.001, cap=0.001, rng=random.Random(seed), sleep=recorder)


def assert_advised(waits: list[float], advice: float = ADVICE) -> None:
    assert waits, f"no wait recorded (seed {SEED})"
    for w in waits:
        assert advice <= w <= advice * 1.5, f"waited {w} s for advice of {advice} s (seed {SEED})"
    assert len(set(waits)) == len(waits), f"jittered, not lock step: {waits} (seed {SEED})"


class Notifications(notifications_pb2_grpc.NotificationServiceServicer):  # type: ignore[misc]
    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls = 0

    async def Subscribe(
        self, requests: AsyncIterator[notifications_pb2.SubscribeRequest], context: Ctx
    ) -> AsyncIterator[notifications_pb2.SubscribeResponse]:
        self.calls += 1
        await follow(self.script, context)
        async for req in requests:
            if req.WhichOneof("command") == "subscribe":
                position = common_pb2.StreamPosition(epoch="e", offset=0)
                subscribed = notifications_pb2.SubscribedEvent(
                    channel=req.subscribe.channel, position=position
                )
                yield notifications_pb2.SubscribeResponse(command_id=req.id, subscribed=subscribed)


class Uploads(uploads_pb2_grpc.UploadServiceServicer):  # type: ignore[misc]
    """One upload in memory; each method refuses as its script says."""

    def __init__(self, **scripts: Script) -> None:
        self.scripts = scripts
        self.data = bytearray()
        self.meta = uploads_pb2.Upload(name="uploads/u1")
        self.calls: dict[str, int] = {}

    async def _enter(self, method: str, context: Ctx) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        await follow(self.scripts.setdefault(method, []), context)

    def _upload(self) -> uploads_pb2.Upload:
        done = self.meta.size == len(self.data) and hashlib.sha256(self.data).hexdigest() == self.meta.sha256
        return uploads_pb2.Upload(
            name=self.meta.name,
            size=self.meta.size,
            sha256=self.meta.sha256,
            committed_size=len(self.data),
            complete=done,
        )

    async def CreateUpload(
        self, request: uploads_pb2.CreateUploadRequest, context: Ctx
    ) -> uploads_pb2.CreateUploadResponse:
        await self._enter("CreateUpload", context)
        self.meta.size, self.meta.sha256 = request.size, request.sha256
        return uploads_pb2.CreateUploadResponse(upload=self._upload())

    async def Write(
        self, requests: AsyncIterator[uploads_pb2.WriteRequest], context: Ctx
    ) -> uploads_pb2.WriteResponse:
        # It reads the whole stream before refusing: a refusal while the client still writes hits
        # a grpc.aio client race (grpc/grpc#36066: the status can come back as INTERNAL, or the
        # call as cancelled), which is not what these tests are about.
        received = [req async for req in requests]
        await self._enter("Write", context)
        for req in received:
            assert req.write_offset == len(self.data), "the client resumes from the committed size"
            self.data += req.data
        return uploads_pb2.WriteResponse(committed_size=len(self.data), upload=self._upload())

    async def QueryWriteStatus(
        self, request: uploads_pb2.QueryWriteStatusRequest, context: Ctx
    ) -> uploads_pb2.QueryWriteStatusResponse:
        await self._enter("QueryWriteStatus", context)
        up = self._upload()
        return uploads_pb2.QueryWriteStatusResponse(committed_size=up.committed_size, complete=up.complete)

    async def GetUpload(
        self, request: uploads_pb2.GetUploadRequest, context: Ctx
    ) -> uploads_pb2.GetUploadResponse:
        await self._enter("GetUpload", context)
        return uploads_pb2.GetUploadResponse(upload=self._upload())

    async def Read(
        self, request: uploads_pb2.ReadRequest, context: Ctx
    ) -> AsyncIterator[uploads_pb2.ReadResponse]:
        await self._enter("Read", context)
        for start in range(request.read_offset, len(self.data), 1000):
            yield uploads_pb2.ReadResponse(data=bytes(self.data[start : start + 1000]))


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts in-process services on 127.0.0.1; returns a factory of connected clients."""
    servers: list[grpc.aio.Server] = []
    clients: list[Client] = []

    async def start(notifications: Notifications | None = None, uploads: Uploads | None = None) -> Client:
        server = grpc.aio.server()
        if notifications is not None:
            notifications_pb2_grpc.add_NotificationServiceServicer_to_server(notifications, server)
        if uploads is not None:
            uploads_pb2_grpc.add_UploadServiceServicer_to_server(uploads, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        clients.append(Client(f"127.0.0.1:{port}"))
        return clients[-1]

    yield start
    for c in clients:
        await c.close()
    for s in servers:
        await s.stop(None)


async def first_subscribed(sub: NotificationSubscription, channel: str) -> list[Reconnecting]:
    """The Reconnecting events seen before `channel` is subscribed."""
    seen: list[Reconnecting] = []
    async for event in sub:
        if isinstance(event, Reconnecting):
            seen.append(event)
        elif event.WhichOneof("event") == "subscribed" and event.subscribed.channel == channel:
            return seen
    raise AssertionError("the subscription ended without subscribing")


async def test_subscription_waits_the_advice_with_jitter(serve: Serve) -> None:
    refusals: Script = [Refusal(EXHAUSTED, ADVICE), Refusal(UNAVAILABLE, ADVICE), Refusal(EXHAUSTED, ADVICE)]
    service = Notifications(refusals)
    client = await serve(notifications=service)
    slept = Recorder()
    sub = NotificationSubscription(client, ["topic:a"], backoff=backoff(slept), max_attempts=6)
    seen = await first_subscribed(sub, "topic:a")
    assert [r.code for r in seen] == [EXHAUSTED, UNAVAILABLE, EXHAUSTED]
    assert [r.retry_after for r in seen] == [ADVICE] * 3
    assert [r.attempt for r in seen] == [1, 2, 3]
    assert slept.waits == [r.delay for r in seen], "it waits what it reports"
    assert_advised(slept.waits)
    assert service.calls == 4


async def test_subscription_without_advice_keeps_its_own_backoff(serve: Serve) -> None:
    client = await serve(notifications=Notifications([Refusal(UNAVAILABLE), Refusal(UNAVAILABLE)]))
    slept = Recorder()
    sub = NotificationSubscription(client, ["topic:a"], backoff=backoff(slept))
    seen = await first_subscribed(sub, "topic:a")
    assert [r.retry_after for r in seen] == [None, None]
    assert len(slept.waits) == 2 and all(0 <= w <= 0.001 for w in slept.waits), (slept.waits, SEED)


async def test_same_seed_same_waits_and_a_day_of_advice_is_capped(serve: Serve) -> None:
    runs = []
    for _ in range(2):
        client = await serve(notifications=Notifications([Refusal(EXHAUSTED, 86_400.0)] * 2))
        slept = Recorder()
        await first_subscribed(NotificationSubscription(client, ["t"], backoff=backoff(slept)), "t")
        runs.append(slept.waits)
    assert runs[0] == runs[1], f"seed {SEED} must give the same waits"
    assert_advised(runs[0], advice=300.0)


async def test_upload_write_refused_with_advice_waits_then_completes(serve: Serve, tmp_path: Path) -> None:
    service = Uploads(Write=[Refusal(EXHAUSTED, ADVICE), Refusal(EXHAUSTED, ADVICE)])
    client = await serve(uploads=service)
    slept = Recorder()
    told: list[tuple[grpc.StatusCode, int, float]] = []
    data = b"retry-info " * 3000
    done = await upload(
        client,
        data,
        "text/plain",
        chunk_size=8192,
        backoff=backoff(slept),
        on_retry=lambda err, n, delay: told.append((err.code(), n, delay)),
    )
    assert done.complete and bytes(service.data) == data
    assert [(code, n) for code, n, _ in told] == [(EXHAUSTED, 1), (EXHAUSTED, 2)]
    assert slept.waits == [d for _, _, d in told]
    assert_advised(slept.waits)
    assert service.calls["QueryWriteStatus"] == 2  # asked where to resume after each refusal


async def test_upload_quota_refusal_without_advice_is_final(serve: Serve) -> None:
    service = Uploads(Write=[Refusal(EXHAUSTED)])
    slept = Recorder()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await upload(await serve(uploads=service), b"x" * 100, "text/plain", backoff=backoff(slept))
    assert refused.value.code() == EXHAUSTED
    assert slept.waits == [] and service.calls["Write"] == 1 and "QueryWriteStatus" not in service.calls


async def test_a_failing_status_query_is_one_more_failure(serve: Serve) -> None:
    # Write breaks, then QueryWriteStatus fails twice (once with advice): each is a failure of the
    # same loop, waited out like the first; the upload then completes.
    service = Uploads(
        Write=[Refusal(UNAVAILABLE)],
        QueryWriteStatus=[Refusal(UNAVAILABLE), Refusal(EXHAUSTED, ADVICE)],
    )
    slept = Recorder()
    told: list[tuple[grpc.StatusCode, int]] = []
    data = b"y" * 5000
    done = await upload(
        await serve(uploads=service),
        data,
        "text/plain",
        backoff=backoff(slept),
        on_retry=lambda err, n, _d: told.append((err.code(), n)),
    )
    assert done.complete and bytes(service.data) == data
    assert told == [(UNAVAILABLE, 1), (UNAVAILABLE, 2), (EXHAUSTED, 3)]
    assert len(slept.waits) == 3 and ADVICE <= slept.waits[2] <= 1.5 * ADVICE, (slept.waits, SEED)
    assert max(slept.waits[:2]) <= 0.001, (slept.waits, SEED)  # no advice there: its own backoff


async def test_failing_status_queries_use_up_the_retries(serve: Serve) -> None:
    service = Uploads(Write=[Refusal(UNAVAILABLE)], QueryWriteStatus=[Refusal(UNAVAILABLE)] * 5)
    slept = Recorder()
    with pytest.raises(grpc.aio.AioRpcError) as broken:
        await upload(
            await serve(uploads=service), b"z" * 100, "text/plain", retries=2, backoff=backoff(slept)
        )
    assert broken.value.code() == UNAVAILABLE
    # Write failed (1), the status query failed (2) and again (3 > retries): two waits, then final.
    assert len(slept.waits) == 2 and service.calls == {"CreateUpload": 1, "Write": 1, "QueryWriteStatus": 2}


async def test_read_refused_with_advice_waits_then_reads(serve: Serve, tmp_path: Path) -> None:
    service = Uploads(Read=[Refusal(EXHAUSTED, ADVICE)])
    service.data += b"r" * 4500
    slept = Recorder()
    told: list[float] = []
    out = tmp_path / "back.bin"
    n = await read_to_file(
        await serve(uploads=service),
        "uploads/u1",
        out,
        backoff=backoff(slept),
        on_retry=lambda _e, _n, d: told.append(d),
    )
    assert n == 4500 and out.read_bytes() == b"r" * 4500
    assert slept.waits == told
    assert_advised(slept.waits)


async def test_read_quota_refusal_without_advice_is_final(serve: Serve, tmp_path: Path) -> None:
    service = Uploads(Read=[Refusal(EXHAUSTED)])
    slept = Recorder()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await read_to_file(await serve(uploads=service), "uploads/u1", tmp_path / "x", backoff=backoff(slept))
    assert refused.value.code() == EXHAUSTED and slept.waits == [] and service.calls == {"Read": 1}
