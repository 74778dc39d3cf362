"""AnalysisService (and google.longrunning.Operations on the same jobs): the gRPC face of the scheduler.

The gRPC adapter of the analysis package; the scheduler (scheduler.py and its layers) is plain
Python. The adapter's parts: this module (the servicers and `register`), convert.py (jobs to and
from messages), work_stream.py (one remote worker's `Work` stream), live_stream.py
(`AnalyzeStream`) and metrics.py (Prometheus figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from realtime.v1 import analysis_pb2, analysis_pb2_grpc

from ..context import HubContext
from ..platform.auth import current_principal
from ..platform.errors import (
    going_away,
    invalid_argument,
    permission_denied,
    unavailable,
)
from .analyzers.base import AnalysisInput
from .analyzers.registry import builtin_registry
from .backend import Backend, BrokerBackend, MemoryBackend
from .convert import (
    WATCH_KIND,
    analysis_input,
    failure,
    operation_of,
    parse_filter,
    partial_message,
    plain,
    result_of,
    seconds_of,
)
from .live_stream import LiveStream
from .metrics import PromStats
from .model import Job, JobState, job_id_from_name
from .scheduler import WORKER_ROLE, Event, Scheduler
from .settings import AnalysisSettings, load
from .uploaded import upload_input
from .work_stream import WorkSession

SERVICE = "realtime.v1.AnalysisService"
OPERATIONS_SERVICE = "google.longrunning.Operations"
log = logging.getLogger("realtime.analysis")

MAX_PAGE = 500


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, hub: HubContext, scheduler: Scheduler, settings: AnalysisSettings) -> None:
        self._hub = hub
        self.scheduler = scheduler
        self._settings = settings
        self._workers = itertools.count(1)

    async def _operation(self, job: Job) -> operations_pb2.Operation:
        position, eta = await self.scheduler.queue_info(job)
        artifacts = (
            await self.scheduler.store.artifacts(job.id) if job.job_state == JobState.SUCCEEDED else None
        )
        return operation_of(job, position, eta, artifacts)

    # -- unary --------------------------------------------------------------------
    async def submitted_input(self, request: analysis_pb2.SubmitAnalysisRequest, owner: str) -> AnalysisInput:
        """What a SubmitAnalysis request asks to analyse (every way of giving input is resolved here)."""
        if not request.HasField("input"):
            raise invalid_argument("input is required", [("input", "missing")])
        source = request.input
        if source.WhichOneof("source") == "upload":  # a large input, uploaded first (uploaded.py)
            return await upload_input(
                self._hub.instance_id,
                owner,
                source.upload,
                source.content_type,
                source.filename,
                remote=self.scheduler.registry.find(request.analyzer) is None,
            )
        return analysis_input(request.input)

    async def SubmitAnalysis(
        self, request: analysis_pb2.SubmitAnalysisRequest, context: Any
    ) -> operations_pb2.Operation:
        who = current_principal()
        job = await self.scheduler.submit(
            who.subject,
            request.analyzer,
            await self.submitted_input(request, who.subject),
            plain(request.options),
            int(request.priority),
            request.request_id,
        )
        return await self._operation(job)

    async def GetOperation(
        self, request: operations_pb2.GetOperationRequest, context: Any
    ) -> operations_pb2.Operation:
        job = await self.scheduler.get(job_id_from_name(request.name), current_principal())
        return await self._operation(job)

    async def ListOperations(
        self, request: operations_pb2.ListOperationsRequest, context: Any
    ) -> operations_pb2.ListOperationsResponse:
        selected = parse_filter(request.filter)
        size = request.page_size or 50
        if not 0 < size <= MAX_PAGE:
            raise invalid_argument(
                f"page_size must be 1..{MAX_PAGE}", [("page_size", str(request.page_size))]
            )
        try:
            offset = int(request.page_token or 0)
        except ValueError:
            raise invalid_argument(
                "malformed page_token", [("page_token", "not from a previous page")]
            ) from None
        jobs, nxt = await self.scheduler.list_jobs(
            current_principal(),
            done=selected.done,
            analyzer=selected.analyzer,
            state=selected.state,
            offset=offset,
            limit=size,
        )
        # Listing leaves results out (they may be large): GetOperation returns them.
        return operations_pb2.ListOperationsResponse(
            operations=[operation_of(j) for j in jobs], next_page_token=str(nxt) if nxt else ""
        )

    async def CancelOperation(
        self, request: operations_pb2.CancelOperationRequest, context: Any
    ) -> empty_pb2.Empty:
        await self.scheduler.cancel(job_id_from_name(request.name), current_principal())
        return empty_pb2.Empty()

    async def DeleteOperation(
        self, request: operations_pb2.DeleteOperationRequest, context: Any
    ) -> empty_pb2.Empty:
        await self.scheduler.delete(job_id_from_name(request.name), current_principal())
        return empty_pb2.Empty()

    async def WaitOperation(
        self, request: operations_pb2.WaitOperationRequest, context: Any
    ) -> operations_pb2.Operation:
        timeout = seconds_of(request.timeout) if request.HasField("timeout") else None
        if timeout is not None and timeout < 0:
            raise invalid_argument("timeout must not be negative", [("timeout", str(timeout))])
        job = await self.scheduler.wait(job_id_from_name(request.name), current_principal(), timeout)
        return await self._operation(job)

    # -- watch --------------------------------------------------------------------------
    async def WatchAnalysis(
        self, request: analysis_pb2.WatchAnalysisRequest, context: Any
    ) -> AsyncIterator[analysis_pb2.WatchAnalysisResponse]:
        who = current_principal()
        job_id = job_id_from_name(request.name)
        await self.scheduler.get(job_id, who)  # NOT_FOUND / PERMISSION_DENIED as a status, before any event
        events = self.scheduler.watch(job_id, who)
        stop = asyncio.ensure_future(self._hub.shutdown.wait())
        nxt: asyncio.Future[Event] | None = None
        try:
            while True:
                nxt = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait((nxt, stop), return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    raise going_away()
                try:
                    event: Event = nxt.result()
                except StopAsyncIteration:
                    return
                yield await self._watch_event(event)
        finally:
            stop.cancel()
            if nxt is not None and not nxt.done():
                nxt.cancel()
                with contextlib.suppress(BaseException):
                    await nxt
            await events.aclose()

    async def _watch_event(self, event: Event) -> analysis_pb2.WatchAnalysisResponse:
        job = event.job
        artifacts = None
        if job.done and job.job_state == JobState.SUCCEEDED:
            artifacts = await self.scheduler.store.artifacts(job.id)
        op = operation_of(job, event.position, event.estimated_start, artifacts)
        return analysis_pb2.WatchAnalysisResponse(
            kind=WATCH_KIND[event.kind],
            operation=op,
            phase=event.phase,
            partial=partial_message(event.partial) if event.partial else None,
        )

    # -- reported jobs ------------------------------------------------------------------------
    async def ReportProgress(
        self, request: analysis_pb2.ReportProgressRequest, context: Any
    ) -> analysis_pb2.ReportProgressResponse:
        who = current_principal()
        if not who.has_role(WORKER_ROLE) and not who.is_admin:
            raise permission_denied("reporting jobs needs the 'worker' role")
        outcome = request.WhichOneof("outcome")
        if request.HasField("create"):
            if request.name:
                raise invalid_argument(
                    "set name or create, not both", [("name", "must be empty with create")]
                )
            spec = request.create
            job = await self.scheduler.create_reported(
                who, spec.kind, [(p.name, p.end_percent) for p in spec.phases], spec.owner, spec.request_id
            )
            if not (request.phase or request.partial_results or outcome):
                return analysis_pb2.ReportProgressResponse(operation=await self._operation(job))
        elif not request.name:
            raise invalid_argument("name is required (or create a job)", [("name", "empty")])
        else:
            job = await self.scheduler.get(job_id_from_name(request.name), who)
        if not 0.0 <= request.phase_fraction <= 1.0:
            raise invalid_argument(
                "phase_fraction must be within 0..1", [("phase_fraction", str(request.phase_fraction))]
            )
        job = await self.scheduler.report(
            who,
            job.id,
            request.phase,
            request.phase_fraction,
            [plain(p) for p in request.partial_results],
            result_of(request.result, job.analyzer) if outcome == "result" else None,
            failure(request.failure) if outcome == "failure" else None,
        )
        return analysis_pb2.ReportProgressResponse(operation=await self._operation(job))

    # -- remote workers --------------------------------------------------------------------------
    async def Work(
        self, requests: AsyncIterator[analysis_pb2.WorkRequest], context: Any
    ) -> AsyncIterator[analysis_pb2.WorkResponse]:
        who = current_principal()
        if not who.has_role(WORKER_ROLE) and not who.is_admin:
            raise permission_denied("the Work stream needs the 'worker' role")
        session = WorkSession(
            self._hub, self.scheduler, f"{self.scheduler.replica}/worker-{next(self._workers)}-{who.subject}"
        )
        async for response in session.run(requests):
            yield response

    # -- live streams ---------------------------------------------------------------------------
    async def AnalyzeStream(
        self, requests: AsyncIterator[analysis_pb2.AnalyzeStreamRequest], context: Any
    ) -> AsyncIterator[analysis_pb2.AnalyzeStreamResponse]:
        async for response in LiveStream(self._hub, self._settings.stream_inactivity).run(requests):
            yield response


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    """The standard google.longrunning.Operations service over the same jobs."""

    def __init__(self, analysis: AnalysisServicer) -> None:
        self._a = analysis

    async def GetOperation(self, request: Any, context: Any) -> Any:
        return await self._a.GetOperation(request, context)

    async def ListOperations(self, request: Any, context: Any) -> Any:
        return await self._a.ListOperations(request, context)

    async def CancelOperation(self, request: Any, context: Any) -> Any:
        return await self._a.CancelOperation(request, context)

    async def DeleteOperation(self, request: Any, context: Any) -> Any:
        return await self._a.DeleteOperation(request, context)

    async def WaitOperation(self, request: Any, context: Any) -> Any:
        return await self._a.WaitOperation(request, context)


async def _backend(hub: HubContext) -> Backend:
    """The hub's broker when it has one; a broker of our own for a Redis URL the hub did not
    connect yet; else the in-process backend."""
    if hub.broker is not None:
        return BrokerBackend(hub.broker)
    if hub.settings.broker != "memory":
        from ..broker.factory import create_broker

        broker = create_broker(hub.settings.broker, dev_dir=hub.settings.dev_dir)
        try:
            await broker.start()
        except Exception as exc:
            raise unavailable(f"analysis cannot reach the broker: {exc}") from exc
        hub.on_stop.append(broker.close)
        return BrokerBackend(broker)
    return MemoryBackend()


#: The scheduler of each running hub, by instance id (tests and benches reach it here).
SCHEDULERS: dict[str, Scheduler] = {}


def _forget(instance: str) -> Any:
    async def forget() -> None:
        SCHEDULERS.pop(instance, None)

    return forget


async def register(hub: HubContext) -> list[str]:
    settings = load(hub.settings.extra)
    registry = builtin_registry()
    registry.load_entry_points()
    for spec in settings.analyzers:
        registry.load_spec(spec)
    backend = await _backend(hub)
    scheduler = Scheduler(
        backend, registry, settings.scheduler, replica=hub.instance_id, stats=PromStats(hub)
    )
    scheduler.start()

    async def stop() -> None:
        await scheduler.stop()

    # Runs before the broker is closed (on_stop hooks run in reverse order).
    hub.on_stop.append(stop)
    servicer = AnalysisServicer(hub, scheduler, settings)
    analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(servicer, hub.server)
    operations_pb2_grpc.add_OperationsServicer_to_server(OperationsServicer(servicer), hub.server)
    SCHEDULERS[hub.instance_id] = scheduler
    hub.on_stop.append(_forget(hub.instance_id))
    return [SERVICE, OPERATIONS_SERVICE]
