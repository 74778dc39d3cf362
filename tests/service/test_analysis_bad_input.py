"""Every bad input gets a clear status, never a crash or a stuck job."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2
from google.protobuf import duration_pb2

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import analysis_pb2, analysis_pb2_grpc
from tests.unit.analysis.images import bomb_png, truncated_png

from .analysis_helpers import SERVICES, details, image_request, meta, png, text_request, watch_all


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_hub(
        tmp_path, services=SERVICES, extra={"analysis_queue_limit": 3, "analysis_max_input_bytes": 200_000}
    ) as h:
        yield h


async def refused(call, code: grpc.StatusCode) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return details(caught.value)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (text_request("x", analyzer="no.such"), "UNKNOWN_ANALYZER"),
        (image_request(png(), "text.inspect"), "UNSUPPORTED_CONTENT_TYPE"),
        (text_request("x", analyzer="image.optimize"), "UNSUPPORTED_CONTENT_TYPE"),
        (image_request(b"garbage", "image.inspect"), "CORRUPT_IMAGE"),
        (image_request(bomb_png(), "image.optimize"), "IMAGE_TOO_LARGE"),
        (image_request(b"\0" * 300_000, "image.optimize"), "INPUT_TOO_LARGE"),
        (analysis_pb2.SubmitAnalysisRequest(analyzer="text.inspect"), "INVALID_ARGUMENT"),
        (image_request(png(), "image.inspect", content_type=""), "INVALID_ARGUMENT"),
        (text_request("x", request_id="r" * 129), "INVALID_ARGUMENT"),
    ],
)
async def test_bad_submits(hub: TestHub, request_: analysis_pb2.SubmitAnalysisRequest, reason: str) -> None:
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        found = await refused(stub.SubmitAnalysis(request_, timeout=10), grpc.StatusCode.INVALID_ARGUMENT)
    assert found["reason"] == reason


async def test_bad_options_are_invalid(hub: TestHub) -> None:
    from google.protobuf import struct_pb2

    opts = struct_pb2.Struct()
    opts.update({"count": 99})
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        await refused(
            stub.SubmitAnalysis(image_request(png(), "screenshot.suggest", options=opts), timeout=10),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def test_truncated_image_fails_the_job_not_the_hub(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(image_request(truncated_png(), "image.inspect"), timeout=10)
        events = await watch_all(stub, op.name)
        final = events[-1].operation
        assert final.done and final.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "truncated or corrupt" in final.error.message
        assert meta(final).state == analysis_pb2.JOB_STATE_FAILED


async def test_unauthenticated_and_foreign_jobs(hub: TestHub) -> None:
    async with hub.client(None) as anon:
        stub = anon.stub(analysis_pb2_grpc.AnalysisServiceStub)
        await refused(stub.SubmitAnalysis(text_request("x"), timeout=10), grpc.StatusCode.UNAUTHENTICATED)
    async with hub.client("alice") as alice, hub.client("bob") as bob:
        a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        b = bob.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await a.SubmitAnalysis(text_request("mine"), timeout=10)
        await refused(
            b.CancelOperation(operations_pb2.CancelOperationRequest(name=op.name), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await refused(
            b.GetOperation(operations_pb2.GetOperationRequest(name=op.name), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await refused(watch_all(b, op.name), grpc.StatusCode.PERMISSION_DENIED)
        await refused(watch_all(a, "operations/unknown"), grpc.StatusCode.NOT_FOUND)
        await refused(watch_all(a, "operations/../etc"), grpc.StatusCode.INVALID_ARGUMENT)
        await refused(
            a.WaitOperation(
                operations_pb2.WaitOperationRequest(name=op.name, timeout=duration_pb2.Duration(seconds=-1)),
                timeout=10,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        await refused(
            a.ListOperations(operations_pb2.ListOperationsRequest(page_token="zz"), timeout=10),
            grpc.StatusCode.INVALID_ARGUMENT,
        )


async def test_duplicate_request_id(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        first = await stub.SubmitAnalysis(text_request("same", request_id="req-1"), timeout=10)
        again = await stub.SubmitAnalysis(text_request("same", request_id="req-1"), timeout=10)
        assert again.name == first.name
        found = await refused(
            stub.SubmitAnalysis(text_request("other", request_id="req-1"), timeout=10),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert found["reason"] == "REQUEST_ID_REUSED"


async def test_delete_running_job_is_refused(hub: TestHub) -> None:
    from realtime.server.analysis.service import SCHEDULERS

    scheduler = SCHEDULERS[hub.hub.ctx.instance_id]  # type: ignore[union-attr]
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        # A remote-only analyzer nobody serves: the job stays queued.
        await scheduler.backend.kv_set("analysis:remote:idle.kind", b"1", ttl=60)
        op = await stub.SubmitAnalysis(text_request("x", analyzer="idle.kind"), timeout=10)
        found = await refused(
            stub.DeleteOperation(operations_pb2.DeleteOperationRequest(name=op.name), timeout=10),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert found["reason"] == "JOB_NOT_DONE"
        await stub.CancelOperation(operations_pb2.CancelOperationRequest(name=op.name), timeout=10)
        await stub.DeleteOperation(operations_pb2.DeleteOperationRequest(name=op.name), timeout=10)


async def test_queue_full_is_resource_exhausted_with_retry_info(hub: TestHub) -> None:
    from realtime.server.analysis.service import SCHEDULERS

    scheduler = SCHEDULERS[hub.hub.ctx.instance_id]  # type: ignore[union-attr]
    await scheduler.backend.kv_set("analysis:remote:idle.kind", b"1", ttl=60)
    async with hub.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        ops = [
            await stub.SubmitAnalysis(text_request(str(i), analyzer="idle.kind"), timeout=10)
            for i in range(3)
        ]
        assert [meta(op).queue_position for op in ops] == [1, 2, 3]
        found = await refused(
            stub.SubmitAnalysis(text_request("4", analyzer="idle.kind"), timeout=10),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        assert found["reason"] == "QUEUE_FULL" and found["retry"] >= 1.0
