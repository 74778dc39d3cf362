"""Two hubs on one Redis: an upload lives on the replica that took it; the job and its large
artifact are shared through the broker, so any replica runs the job and serves the result."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from realtime.client.uploads import read_to_file, upload
from realtime.server.testing import running_hub
from realtime.v1 import analysis_pb2, analysis_pb2_grpc, uploads_pb2, uploads_pb2_grpc
from tests.redis_server import redis_process

from .analysis_helpers import result, watch_all
from .upload_helpers import SERVICES, noisy_image

pytestmark = pytest.mark.redis


async def test_upload_on_one_replica_result_read_from_the_other(tmp_path: Path) -> None:
    png = await asyncio.to_thread(noisy_image, 1400, 1000, "PNG", seed=11)
    with redis_process() as redis:
        async with (  # one secret (tmp_path/jwt-secret), a disk each (dev_dir: the upload spool)
            running_hub(tmp_path, services=SERVICES, broker=redis.url, dev_dir=tmp_path / "a") as a,
            running_hub(tmp_path, services=SERVICES, broker=redis.url, dev_dir=tmp_path / "b") as b,
            a.client("alice") as on_a,
            b.client("alice") as on_b,
        ):
            name = (await upload(on_a, png, "image/png")).name
            with pytest.raises(grpc.aio.AioRpcError) as err:  # the bytes are on replica a's disk only
                await on_b.stub(uploads_pb2_grpc.UploadServiceStub).GetUpload(
                    uploads_pb2.GetUploadRequest(name=name)
                )
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            op = await on_a.stub(analysis_pb2_grpc.AnalysisServiceStub).SubmitAnalysis(
                analysis_pb2.SubmitAnalysisRequest(
                    analyzer="image.optimize", input=analysis_pb2.AnalysisInput(upload=name)
                )
            )
            events = await watch_all(on_b.stub(analysis_pb2_grpc.AnalysisServiceStub), op.name, timeout=90)
            data, res = result(events[-1].operation)
            (artifact,) = res.artifacts
            assert artifact.resource_name and not artifact.data and artifact.size == data["optimized_bytes"]
            out = tmp_path / "optimized.webp"
            assert await read_to_file(on_b, artifact.resource_name, out) == artifact.size
            assert out.read_bytes()[8:12] == b"WEBP"
