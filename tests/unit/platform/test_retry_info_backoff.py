"""The Python client waits at least what the server's RetryInfo asks, with jitter on top."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from realtime.client.backoff import Backoff, reconnecting, retry_after


def refused(seconds: float | None) -> grpc.aio.AioRpcError:
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="busy")
    if seconds is not None:
        status.details.add().Pack(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(seconds * 1e9)))
        )
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), trailing, "busy")


def test_retry_after_reads_retry_info_and_tolerates_its_absence() -> None:
    assert retry_after(refused(0.25)) == 0.25
    assert retry_after(refused(None)) is None
    garbage = grpc.aio.Metadata(("grpc-status-details-bin", b"\xff\xff not a status"))
    assert (
        retry_after(grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), garbage)) is None
    )


async def test_reconnecting_waits_at_least_the_advised_delay() -> None:
    delays: list[float] = []
    attempts = 0

    async def open_stream() -> AsyncIterator[int]:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise refused(0.05)
        yield 1

    backoff = Backoff(base=0.001, rng=random.Random(7))  # its own delays are far below the advice
    got = [
        e async for e in reconnecting(open_stream, backoff=backoff, on_retry=lambda _e, d: delays.append(d))
    ]
    assert got == [1]
    assert len(delays) == 3
    assert all(0.05 <= d <= 0.075 for d in delays), delays
    assert len(set(delays)) == 3  # jittered, not lock step
