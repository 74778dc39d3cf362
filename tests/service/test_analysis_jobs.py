"""AnalysisService end to end on a real hub: submit, watch, get, list, wait, cancel, delete."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2

from realtime.server.testing import running_hub
from realtime.v1 import analysis_pb2, analysis_pb2_grpc

from .analysis_helpers import (
    SCREENSHOT,
    SERVICES,
    details,
    image_request,
    meta,
    result,
    text_request,
    watch_all,
)


async def test_text_inspect_submit_watch_get(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(text_request("akuo  world!!! see https://example.com"), timeout=10)
        assert op.name.startswith("operations/") and not op.done
        assert meta(op).owner == "alice"
        events = await watch_all(stub, op.name)
        kinds = [analysis_pb2.WatchEventKind.Name(e.kind) for e in events]
        assert kinds[0] == "WATCH_EVENT_KIND_SNAPSHOT" and events[-1].operation.done
        # The job may finish before the watch starts; then the snapshot is the whole story.
        assert len(kinds) == 1 or kinds[-1] == "WATCH_EVENT_KIND_DONE"
        percents = [meta(e.operation).percent for e in events]
        assert percents == sorted(percents) and percents[-1] == 100
        final = await stub.GetOperation(operations_pb2.GetOperationRequest(name=op.name), timeout=10)
        data, _ = result(final)
        assert data["language"]["code"] == "en"
        assert {f["type"] for f in data["cleaning"]} >= {"repeated_spaces", "repeated_punctuation"}
        assert data["links"][0]["text"] == "https://example.com"
        m = meta(final)
        assert m.state == analysis_pb2.JOB_STATE_SUCCEEDED
        assert all(p.state == analysis_pb2.PHASE_STATE_DONE for p in m.phases)


async def test_screenshot_suggest_streams_four_phases_and_suggestions(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(
            image_request(
                SCREENSHOT.read_bytes(), "screenshot.suggest", priority=analysis_pb2.PRIORITY_URGENT
            ),
            timeout=10,
        )
        events = await watch_all(stub, op.name, timeout=60)
        # The watch may start after the first phase did: the snapshot then shows it running.
        started = [meta(events[0].operation).phase] if meta(events[0].operation).phase else []
        started += [e.phase for e in events if e.kind == analysis_pb2.WATCH_EVENT_KIND_PHASE_STARTED]
        assert started == ["image_analysis", "context", "generation", "validation"]
        finished = [e.phase for e in events if e.kind == analysis_pb2.WATCH_EVENT_KIND_PHASE_FINISHED]
        assert finished == ["image_analysis", "context", "generation", "validation"]
        partials = [e.partial for e in events if e.kind == analysis_pb2.WATCH_EVENT_KIND_PARTIAL_RESULT]
        assert len(partials) >= 3
        assert [p.index for p in partials] == list(range(len(partials)))
        done = events[-1]
        assert done.kind == analysis_pb2.WATCH_EVENT_KIND_DONE
        # partial results arrived before the job was done
        assert all(
            not e.operation.done for e in events if e.kind == analysis_pb2.WATCH_EVENT_KIND_PARTIAL_RESULT
        )
        data, _ = result(done.operation)
        assert len(data["suggestions"]) == 3
        assert data["context"]["last_message"].startswith("Do you want to meet for coffee")
        assert "coffee" in data["ocr"]["text"]


async def test_image_optimize_returns_artifact(tmp_path: Path) -> None:
    from tests.unit.analysis.images import photo_jpeg

    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        source = photo_jpeg(800, 600)
        op = await stub.SubmitAnalysis(image_request(source, "image.optimize", "image/jpeg"), timeout=10)
        final = await stub.WaitOperation(
            operations_pb2.WaitOperationRequest(name=op.name, timeout=duration_pb2.Duration(seconds=30)),
            timeout=40,
        )
        data, res = result(final)
        assert data["target_met"] is True
        assert res.artifacts[0].name == "optimized"
        assert len(res.artifacts[0].data) <= 0.4 * len(source)


async def test_operations_service_and_list_filters(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h:
        async with (
            h.client("alice") as alice,
            h.client("bob") as bob,
            h.client("root", roles=["admin"]) as root,
        ):
            a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
            b = bob.stub(analysis_pb2_grpc.AnalysisServiceStub)
            ops = [await a.SubmitAnalysis(text_request(f"hello {i}"), timeout=10) for i in range(3)]
            mine = await b.SubmitAnalysis(text_request("bob's"), timeout=10)
            lro = alice.stub(operations_pb2_grpc.OperationsStub)
            for op in ops:
                done = await lro.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=30)
                assert done.done
            listed = await a.ListOperations(operations_pb2.ListOperationsRequest(page_size=2), timeout=10)
            assert [o.name for o in listed.operations] == [ops[2].name, ops[1].name]
            rest = await a.ListOperations(
                operations_pb2.ListOperationsRequest(page_size=2, page_token=listed.next_page_token),
                timeout=10,
            )
            assert [o.name for o in rest.operations] == [ops[0].name] and not rest.next_page_token
            done_only = await lro.ListOperations(
                operations_pb2.ListOperationsRequest(filter="done=true"), timeout=10
            )
            assert {o.name for o in done_only.operations} == {o.name for o in ops}
            everyone = await root.stub(analysis_pb2_grpc.AnalysisServiceStub).ListOperations(
                operations_pb2.ListOperationsRequest(page_size=100), timeout=10
            )
            assert mine.name in {o.name for o in everyone.operations}
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await a.ListOperations(operations_pb2.ListOperationsRequest(filter="owner=bob"), timeout=10)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # delete: gone afterwards
            await lro.DeleteOperation(operations_pb2.DeleteOperationRequest(name=ops[0].name), timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await a.GetOperation(operations_pb2.GetOperationRequest(name=ops[0].name), timeout=10)
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
            assert details(gone.value)["reason"] == "NOT_FOUND"


async def test_completion_is_published_on_the_user_channel_and_counted(tmp_path: Path) -> None:
    import json

    import aiohttp

    from realtime.server.analysis.service import SCHEDULERS

    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        backend = SCHEDULERS[h.hub.ctx.instance_id].backend  # type: ignore[union-attr]
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        async with backend.listen("user:alice") as inbox:
            op = await stub.SubmitAnalysis(
                text_request("hello", priority=analysis_pb2.PRIORITY_URGENT), timeout=10
            )
            async with asyncio.timeout(10):
                note = json.loads(await inbox.get())
        assert note == {
            "type": "analysis.done",
            "name": op.name,
            "analyzer": "text.inspect",
            "state": "SUCCEEDED",
        }
        async with aiohttp.ClientSession() as http, http.get(h.http_url + "/metrics") as reply:
            metrics = await reply.text()
        assert 'realtime_analysis_jobs_started_total{priority="urgent",target="met"} 1.0' in metrics
        assert (
            'realtime_analysis_jobs_finished_total{analyzer="text.inspect",state="succeeded"} 1.0' in metrics
        )


async def test_queued_watchers_see_their_position_move(tmp_path: Path) -> None:
    extra = {"analysis_analyzers": "tests.unit.analysis.fakes:Gate", "analysis_concurrency": 1}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h, h.client("alice") as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        ops = [
            await stub.SubmitAnalysis(text_request(str(i), analyzer="test.gate"), timeout=10)
            for i in range(3)
        ]
        watch = stub.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=ops[2].name))
        first = await asyncio.wait_for(watch.read(), 10)
        assert meta(first.operation).queue_position == 2
        assert meta(first.operation).HasField("estimated_start_time")
        await stub.CancelOperation(operations_pb2.CancelOperationRequest(name=ops[0].name), timeout=10)
        async with asyncio.timeout(10):
            while True:
                event = await watch.read()
                if event.kind == analysis_pb2.WATCH_EVENT_KIND_QUEUE_POSITION:
                    break
        assert meta(event.operation).queue_position == 1
        for op in ops[1:]:
            await stub.CancelOperation(operations_pb2.CancelOperationRequest(name=op.name), timeout=10)
        watch.cancel()
