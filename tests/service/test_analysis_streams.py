"""Reported jobs, remote workers (Work), live analysis (AnalyzeStream) and cancel over gRPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2
from google.protobuf import duration_pb2, json_format, struct_pb2

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import analysis_pb2, analysis_pb2_grpc
from tests.unit.analysis.images import photo, png_bytes

from .analysis_helpers import SERVICES, meta, result, text_request, watch_all

A = analysis_pb2


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path, services=SERVICES, extra={"analysis_lease_ttl": 3}) as h:
        yield h


def struct(**kw: object) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(kw)
    return s


async def test_report_progress_is_watched_like_a_builtin_job(hub: TestHub) -> None:
    async with hub.client("gen-service", roles=["worker"]) as worker, hub.client("alice") as alice:
        w = worker.stub(analysis_pb2_grpc.AnalysisServiceStub)
        a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        created = await w.ReportProgress(
            A.ReportProgressRequest(
                create=A.ReportedJobSpec(
                    kind="slides.generate",
                    owner="alice",
                    phases=[
                        A.PhasePlan(name="outline", end_percent=40),
                        A.PhasePlan(name="render", end_percent=100),
                    ],
                )
            ),
            timeout=10,
        )
        name = created.operation.name
        watch = asyncio.ensure_future(watch_all(a, name))
        await w.ReportProgress(
            A.ReportProgressRequest(name=name, phase="outline", phase_fraction=0.5), timeout=10
        )
        await w.ReportProgress(
            A.ReportProgressRequest(name=name, phase="render", partial_results=[struct(slide=1)]), timeout=10
        )
        # Going backwards is refused; the job is unharmed.
        with pytest.raises(grpc.aio.AioRpcError) as back:
            await w.ReportProgress(A.ReportProgressRequest(name=name, phase="outline"), timeout=10)
        assert back.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        done = await w.ReportProgress(
            A.ReportProgressRequest(name=name, result=A.AnalysisResult(data=struct(slides=2))), timeout=10
        )
        assert done.operation.done
        events = await asyncio.wait_for(watch, 10)
        assert events[-1].kind == A.WATCH_EVENT_KIND_DONE
        data, _ = result(events[-1].operation)
        assert data == {"slides": 2.0}
        assert meta(events[-1].operation).partial_results[0].data["slide"] == 1
        percents = [meta(e.operation).percent for e in events]
        assert percents == sorted(percents)
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await w.ReportProgress(A.ReportProgressRequest(name=name, phase="render"), timeout=10)
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # Alice (no worker role) may not report.
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await a.ReportProgress(A.ReportProgressRequest(create=A.ReportedJobSpec(kind="x")), timeout=10)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


class Worker:
    """A remote worker on a Work stream: commands in through a queue, events out."""

    def __init__(self, stub: analysis_pb2_grpc.AnalysisServiceStub) -> None:
        self.commands: asyncio.Queue[A.WorkRequest | None] = asyncio.Queue()
        self.call = stub.Work(self._requests())

    async def _requests(self):  # type: ignore[no-untyped-def]
        while (item := await self.commands.get()) is not None:
            yield item

    async def send(self, **kw: object) -> None:
        await self.commands.put(A.WorkRequest(**kw))  # type: ignore[arg-type]

    async def next(self, kind: str) -> A.WorkResponse:
        async with asyncio.timeout(15):
            while True:
                event = await self.call.read()
                assert event is not grpc.aio.EOF, "stream ended"
                if event.WhichOneof("event") == kind:
                    return event


async def test_remote_worker_takes_reports_and_completes(hub: TestHub) -> None:
    async with hub.client("w", roles=["worker"]) as wc, hub.client("alice") as alice:
        worker = Worker(wc.stub(analysis_pb2_grpc.AnalysisServiceStub))
        await worker.send(id="p", progress=A.JobProgressCommand(name="operations/x"))
        err = await worker.next("error")
        assert err.command_id == "p" and err.error.reason == "NOT_REGISTERED"
        await worker.send(id="r", register=A.RegisterWorkerCommand(analyzers=["remote.upper"], capacity=1))
        reg = await worker.next("registered")
        assert reg.command_id == "r" and reg.registered.heartbeat_interval.seconds == 1
        a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await a.SubmitAnalysis(text_request("shout", analyzer="remote.upper"), timeout=10)
        job = (await worker.next("assigned")).assigned
        assert job.name == op.name and job.input.text == "shout" and job.attempt == 1
        await worker.send(
            id="1", progress=A.JobProgressCommand(name=job.name, phase="run", phase_fraction=0.5)
        )
        assert (await worker.next("accepted")).command_id == "1"
        await worker.send(
            id="2",
            complete=A.CompleteJobCommand(name=job.name, result=A.AnalysisResult(data=struct(text="SHOUT"))),
        )
        assert (await worker.next("accepted")).command_id == "2"
        final = await a.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=10)
        assert result(final)[0] == {"text": "SHOUT"}
        await worker.send(id="3", complete=A.CompleteJobCommand(name=job.name))
        assert (await worker.next("error")).error.reason == "JOB_NOT_HELD"
        await worker.commands.put(None)


async def test_worker_disconnect_requeues_and_cancel_revokes(hub: TestHub) -> None:
    async with hub.client("w", roles=["worker"]) as wc, hub.client("alice") as alice:
        stub = wc.stub(analysis_pb2_grpc.AnalysisServiceStub)
        a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        first = Worker(stub)
        await first.send(id="r", register=A.RegisterWorkerCommand(analyzers=["remote.slow"]))
        await first.next("registered")
        op = await a.SubmitAnalysis(text_request("x", analyzer="remote.slow"), timeout=10)
        assert (await first.next("assigned")).assigned.name == op.name
        first.call.cancel()  # the worker dies mid-job
        second = Worker(stub)
        await second.send(id="r", register=A.RegisterWorkerCommand(analyzers=["remote.slow"]))
        again = (await second.next("assigned")).assigned
        assert again.name == op.name and again.attempt == 2
        await a.CancelOperation(operations_pb2.CancelOperationRequest(name=op.name), timeout=10)
        revoked = (await second.next("revoked")).revoked
        assert (revoked.name, revoked.reason) == (op.name, "cancelled")
        final = await a.GetOperation(operations_pb2.GetOperationRequest(name=op.name), timeout=10)
        assert (
            meta(final).state == A.JOB_STATE_CANCELLED
            and final.error.code == grpc.StatusCode.CANCELLED.value[0]
        )
        await second.commands.put(None)


async def test_non_worker_cannot_work(hub: TestHub) -> None:
    async with hub.client("alice") as alice:
        call = alice.stub(analysis_pb2_grpc.AnalysisServiceStub).Work()
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call.read()
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_cancel_running_and_queued_jobs_over_grpc(tmp_path: Path) -> None:
    # test.gate blocks until cancelled; with concurrency 1 the second job waits in the queue.
    extra = {"analysis_analyzers": "tests.unit.analysis.fakes:Gate", "analysis_concurrency": 1}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h, h.client("alice") as alice:
        a = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        running = await a.SubmitAnalysis(text_request("x", analyzer="test.gate"), timeout=10)
        queued = await a.SubmitAnalysis(text_request("y", analyzer="test.gate"), timeout=10)
        watch = a.WatchAnalysis(A.WatchAnalysisRequest(name=running.name))
        seen = []
        async with asyncio.timeout(15):
            async for event in watch:
                seen.append(event)
                if meta(event.operation).phase == "work":
                    break
        q = await a.GetOperation(operations_pb2.GetOperationRequest(name=queued.name), timeout=10)
        assert meta(q).state == A.JOB_STATE_QUEUED and meta(q).queue_position == 1
        await a.CancelOperation(operations_pb2.CancelOperationRequest(name=running.name), timeout=10)
        async with asyncio.timeout(15):
            rest = [e async for e in watch]
        assert rest[-1].kind == A.WATCH_EVENT_KIND_DONE
        assert meta(rest[-1].operation).state == A.JOB_STATE_CANCELLED
        assert rest[-1].operation.error.code == grpc.StatusCode.CANCELLED.value[0]
        # The freed slot goes to the queued job; cancel it too, then both are done.
        await a.CancelOperation(operations_pb2.CancelOperationRequest(name=queued.name), timeout=10)
        for op in (running, queued):
            final = await a.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=15)
            assert meta(final).state == A.JOB_STATE_CANCELLED
        # A watcher that reconnects gets the final snapshot.
        again = await watch_all(a, running.name)
        assert len(again) == 1 and again[0].operation.done


async def test_analyze_stream_text_and_images(hub: TestHub) -> None:
    async with hub.client("alice") as alice:
        stub = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        call = stub.AnalyzeStream()
        await call.write(A.AnalyzeStreamRequest(id="c0", chunk=A.StreamChunkCommand(text="early")))
        early = await call.read()
        assert early.error.reason == "NOT_STARTED" and early.command_id == "c0"
        await call.write(
            A.AnalyzeStreamRequest(id="s", start=A.StartStreamCommand(kind=A.STREAM_CONTENT_KIND_TEXT))
        )
        started = await call.read()
        assert started.started.inactivity_timeout.seconds == 1800
        await call.write(A.AnalyzeStreamRequest(id="c1", chunk=A.StreamChunkCommand(text="akuo  friend")))
        r1 = await call.read()
        assert r1.result.chunk_index == 1
        assert json_format.MessageToDict(r1.result.data)["wrong_layout"][0]["replacement"] == "שלום"
        await call.write(A.AnalyzeStreamRequest(id="c2", chunk=A.StreamChunkCommand(image=b"png?")))
        assert (await call.read()).error.reason == "INVALID_ARGUMENT"  # wrong kind for this stream
        await call.write(A.AnalyzeStreamRequest(id="st", status=A.StreamStatusCommand()))
        status = (await call.read()).status
        assert status.chunks == 1 and status.kind == A.STREAM_CONTENT_KIND_TEXT
        await call.write(A.AnalyzeStreamRequest(id="p", ping={}))
        assert (await call.read()).WhichOneof("event") == "pong"
        await call.write(A.AnalyzeStreamRequest(id="end", stop=A.StopStreamCommand()))
        stopped = await call.read()
        assert stopped.stopped.reason == "stopped" and stopped.stopped.status.chunks == 1
        assert await call.read() is grpc.aio.EOF

        images = stub.AnalyzeStream()
        await images.write(
            A.AnalyzeStreamRequest(
                id="s",
                start=A.StartStreamCommand(
                    kind=A.STREAM_CONTENT_KIND_IMAGE,
                    inactivity_timeout=duration_pb2.Duration(nanos=300_000_000),
                ),
            )
        )
        await images.read()
        frame = png_bytes(photo(160, 120))
        for i in range(2):
            await images.write(A.AnalyzeStreamRequest(id=f"f{i}", chunk=A.StreamChunkCommand(image=frame)))
            res = json_format.MessageToDict((await images.read()).result.data)
        assert res["same_as_previous"] is True
        await images.write(
            A.AnalyzeStreamRequest(id="bad", chunk=A.StreamChunkCommand(image=b"\x89PNG broken"))
        )
        assert (await images.read()).error.reason == "CORRUPT_IMAGE"
        # No chunk for 0.3 s: the stream ends as inactive.
        async with asyncio.timeout(10):
            idle = await images.read()
        assert idle.stopped.reason == "inactive"
        assert await images.read() is grpc.aio.EOF


async def test_streams_say_going_away_at_shutdown(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, shutdown_grace=2.0) as h, h.client("alice") as alice:
        stub = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
        call = stub.AnalyzeStream()
        await call.write(
            A.AnalyzeStreamRequest(id="s", start=A.StartStreamCommand(kind=A.STREAM_CONTENT_KIND_TEXT))
        )
        await call.read()
        stopping = asyncio.ensure_future(h.hub.stop())
        async with asyncio.timeout(10):
            event = await call.read()
        assert event.WhichOneof("event") == "going_away"
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await call.read()
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        await stopping
