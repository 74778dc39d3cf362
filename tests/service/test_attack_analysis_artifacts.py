"""Attack: an analyzer whose artifacts are each under the inline limit but together over the
message limit (3 x 400 KiB). Every way to get the operation must work, and every artifact must be
readable, inline or by reference."""

from __future__ import annotations

from pathlib import Path

from google.longrunning import operations_pb2

from realtime.server.testing import running_hub
from realtime.v1 import analysis_pb2, analysis_pb2_grpc, uploads_pb2, uploads_pb2_grpc

from .analysis_helpers import result, text_request, watch_all
from .upload_helpers import SERVICES as WITH_UPLOADS

SIZE = 400 * 1024


async def test_several_inline_sized_artifacts_fit_one_message(tmp_path: Path) -> None:
    extra = {"analysis_analyzers": "tests.unit.analysis.fakes:Artifacts"}
    async with running_hub(tmp_path, services=WITH_UPLOADS, extra=extra) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(text_request("x", analyzer="test.artifacts"), timeout=30)
        events = await watch_all(stub, op.name, timeout=60)
        assert events and events[-1].operation.done
        done = await stub.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=60)
        got = await stub.GetOperation(operations_pb2.GetOperationRequest(name=op.name), timeout=30)
        uploads = client.stub(uploads_pb2_grpc.UploadServiceStub)
        for answer in (events[-1].operation, done, got):
            _, res = result(answer)
            assert [a.name for a in res.artifacts] == ["part0.bin", "part1.bin", "part2.bin"]
            assert sum(len(a.data) for a in res.artifacts) <= 512 * 1024
            assert any(a.resource_name for a in res.artifacts)
            for i, artifact in enumerate(res.artifacts):
                assert isinstance(artifact, analysis_pb2.Artifact) and artifact.size == SIZE
                if artifact.resource_name:
                    read = uploads.Read(
                        uploads_pb2.ReadRequest(resource_name=artifact.resource_name), timeout=30
                    )
                    raw = b"".join([r.data async for r in read])
                else:
                    raw = artifact.data
                assert raw == bytes([i + 1]) * SIZE
