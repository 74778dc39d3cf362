"""The analysis service on the Redis broker: jobs live in Redis; losing Redis is UNAVAILABLE, not INTERNAL."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2

from realtime.server.testing import running_hub
from realtime.v1 import analysis_pb2_grpc
from tests.redis_server import redis_process

from .analysis_helpers import SERVICES, meta, result, text_request

pytestmark = pytest.mark.redis


async def test_jobs_in_redis_and_redis_loss(tmp_path: Path) -> None:
    with redis_process() as redis:
        async with (
            running_hub(tmp_path, services=SERVICES, broker=redis.url) as h,
            h.client("alice") as client,
        ):
            stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
            op = await stub.SubmitAnalysis(text_request("akuo"), timeout=10)
            done = await stub.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=20)
            assert meta(done).attempt == 1
            assert result(done)[0]["wrong_layout"][0]["replacement"] == "שלום"
            redis.kill()
            with pytest.raises(grpc.aio.AioRpcError) as lost:
                await stub.SubmitAnalysis(text_request("again"), timeout=10)
            assert lost.value.code() == grpc.StatusCode.UNAVAILABLE
