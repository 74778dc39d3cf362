"""Attacks on analysis jobs through a real hub: the same submit twenty times at once, two
cancels and deletes of the same job at once, on the memory and sqlite engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import analysis_pb2_grpc
from tests.redis_server import delete_prefix, test_prefix

from .analysis_helpers import SERVICES, text_request


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[TestHub]:
    prefix = test_prefix()
    broker = {
        "memory": {},
        "sqlite": {"broker": f"sqlite://{tmp_path}/hub.db"},
        "redis": {"broker": f"{redis_url}?prefix={prefix}"},
    }[request.param]
    try:
        async with running_hub(tmp_path, services=SERVICES, **broker) as h:
            yield h
    finally:
        if request.param == "redis":
            await delete_prefix(redis_url, prefix)


async def test_the_same_submit_twenty_times_at_once_makes_one_job(hub: TestHub) -> None:
    """A client retrying a submit (same request_id) while the first is still in flight gets the
    first job back; no second job runs for the same request."""
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        firsts = []
        for round_ in range(10):
            request = text_request(f"once only {round_}", request_id=f"retry-me-{round_}")
            ops = await asyncio.gather(*(stub.SubmitAnalysis(request, timeout=20) for _ in range(20)))
            assert len({op.name for op in ops}) == 1, (round_, sorted({op.name for op in ops}))
            firsts.append(ops[0].name)
        listed = await stub.ListOperations(operations_pb2.ListOperationsRequest(page_size=100), timeout=10)
        assert sorted(op.name for op in listed.operations) == sorted(firsts)


async def test_twenty_cancels_and_deletes_of_one_job_at_once(hub: TestHub) -> None:
    """Cancelling a queued job twenty times at once leaves it CANCELLED once; deleting it twenty
    times at once deletes it (each call OK or NOT_FOUND, never an internal error)."""
    extra_jobs = 6  # more than the concurrency: the last ones wait in the queue
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        ops = [await stub.SubmitAnalysis(text_request(f"job {i}"), timeout=10) for i in range(extra_jobs)]
        name = ops[-1].name
        cancel = operations_pb2.CancelOperationRequest(name=name)
        cancels = await asyncio.gather(
            *(stub.CancelOperation(cancel, timeout=10) for _ in range(20)),
            return_exceptions=True,
        )
        for outcome in cancels:
            assert not isinstance(outcome, BaseException) or (
                isinstance(outcome, grpc.aio.AioRpcError)
                and outcome.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)
            ), outcome
        async with asyncio.timeout(20):
            done = await stub.WaitOperation(operations_pb2.WaitOperationRequest(name=name), timeout=20)
        assert done.done
        delete = operations_pb2.DeleteOperationRequest(name=name)
        deletes = await asyncio.gather(
            *(stub.DeleteOperation(delete, timeout=10) for _ in range(20)),
            return_exceptions=True,
        )
        codes = sorted(
            "OK" if not isinstance(d, BaseException) else d.code().name  # type: ignore[attr-defined]
            for d in deletes
        )
        assert set(codes) <= {"OK", "NOT_FOUND"} and "OK" in codes, codes
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=10)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListOperations(operations_pb2.ListOperationsRequest(page_size=100), timeout=10)
        assert name not in [op.name for op in listed.operations]


async def test_one_user_keeps_a_bounded_number_of_finished_jobs(tmp_path: Path) -> None:
    """An ordinary user submitting job after job: the queue limit only counts waiting jobs, so
    finished ones (with their results) would pile up for the whole retention. The hub keeps the
    newest `analysis_user_jobs` of each user; older finished ones are deleted, other users'
    jobs are untouched."""
    extra = {"analysis_user_jobs": 5}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h:
        async with h.client("bob") as bob_client, h.client("alice") as client:
            bob = bob_client.stub(analysis_pb2_grpc.AnalysisServiceStub)
            stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
            bobs = await bob.SubmitAnalysis(text_request("bob's"), timeout=10)
            names = []
            for i in range(12):
                op = await stub.SubmitAnalysis(text_request(f"job {i}"), timeout=10)
                await stub.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=20)
                names.append(op.name)
            listed = await stub.ListOperations(
                operations_pb2.ListOperationsRequest(page_size=100), timeout=10
            )
            assert sorted(op.name for op in listed.operations) == sorted(names[-5:])
            for name in names[:-6]:  # the oldest are gone, not only unlisted
                with pytest.raises(grpc.aio.AioRpcError) as gone:
                    await stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=10)
                assert gone.value.code() == grpc.StatusCode.NOT_FOUND
            kept = await bob.GetOperation(operations_pb2.GetOperationRequest(name=bobs.name), timeout=10)
            assert kept.name == bobs.name


async def test_a_result_bigger_than_a_message_is_still_readable(tmp_path: Path) -> None:
    """text.inspect of a 300 KB text typed on the wrong layout finds something in every word:
    its findings (several MB) cannot travel in one message. The operation must still arrive
    (GetOperation, WaitOperation, WatchAnalysis) and the findings be readable in full."""
    import json

    from realtime.v1 import analysis_pb2, uploads_pb2, uploads_pb2_grpc

    from .analysis_helpers import result, watch_all
    from .upload_helpers import SERVICES as WITH_UPLOADS

    text = ("akuo nv tbh " * 30000)[:300_000]
    async with running_hub(tmp_path, services=WITH_UPLOADS) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(text_request(text), timeout=30)
        events = await watch_all(stub, op.name, timeout=120)
        assert events and events[-1].operation.done
        done = await stub.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=60)
        got = await stub.GetOperation(operations_pb2.GetOperationRequest(name=op.name), timeout=30)
        data, res = result(got)
        assert done.name == got.name == op.name
        assert data["result_artifact"] == "result.json"
        [artifact] = [a for a in res.artifacts if a.name == "result.json"]
        assert isinstance(artifact, analysis_pb2.Artifact) and artifact.resource_name
        uploads = client.stub(uploads_pb2_grpc.UploadServiceStub)
        raw = b"".join(
            [
                r.data
                async for r in uploads.Read(
                    uploads_pb2.ReadRequest(resource_name=artifact.resource_name), timeout=60
                )
            ]
        )
        assert len(raw) == artifact.size == data["result_bytes"]
        full = json.loads(raw)
        assert full["wrong_layout"] and full["language"]
