"""AnalysisService (and google.longrunning.Operations on the same jobs): the gRPC face of the scheduler.

The only module of the analysis package that touches grpc and generated code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import any_pb2, duration_pb2, empty_pb2, json_format, struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import Counter, Gauge, Histogram

from realtime.v1 import analysis_pb2, analysis_pb2_grpc, common_pb2

from ..context import HubContext
from ..platform.auth import current_principal
from ..platform.errors import (
    DOMAIN,
    Code,
    HubError,
    going_away,
    invalid_argument,
    permission_denied,
    unavailable,
)
from ..platform.status import error_event
from ..platform.streams import commands_until_shutdown
from .analyzers.base import AnalysisInput, AnalyzerResult
from .analyzers.registry import builtin_registry
from .backend import Backend, BrokerBackend, MemoryBackend
from .live import LiveSession
from .model import Job, JobError, JobState, Priority, job_id_from_name
from .scheduler import WORKER_ROLE, Event, Scheduler
from .settings import AnalysisSettings, load
from .uploaded import upload_input

SERVICE = "realtime.v1.AnalysisService"
OPERATIONS_SERVICE = "google.longrunning.Operations"
log = logging.getLogger("realtime.analysis")

MAX_PAGE = 500
MAX_WORKER_CAPACITY = 64
MAX_STREAM_INACTIVITY = 7200.0
WORK_QUEUE = 256
_KIND = {
    "snapshot": analysis_pb2.WATCH_EVENT_KIND_SNAPSHOT,
    "queue_position": analysis_pb2.WATCH_EVENT_KIND_QUEUE_POSITION,
    "started": analysis_pb2.WATCH_EVENT_KIND_STARTED,
    "phase_started": analysis_pb2.WATCH_EVENT_KIND_PHASE_STARTED,
    "phase_finished": analysis_pb2.WATCH_EVENT_KIND_PHASE_FINISHED,
    "progress": analysis_pb2.WATCH_EVENT_KIND_PROGRESS,
    "partial_result": analysis_pb2.WATCH_EVENT_KIND_PARTIAL_RESULT,
    "done": analysis_pb2.WATCH_EVENT_KIND_DONE,
    "requeued": analysis_pb2.WATCH_EVENT_KIND_REQUEUED,
}


# -- conversions ------------------------------------------------------------------


def _ts(seconds: float) -> timestamp_pb2.Timestamp | None:
    if not seconds:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def _struct(data: dict[str, Any] | None) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    if data:
        s.update(data)
    return s


def _dict(s: struct_pb2.Struct) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(s)
    return out


def _partial(p: dict[str, Any]) -> analysis_pb2.PartialResult:
    return analysis_pb2.PartialResult(index=p["index"], phase=p["phase"], data=_struct(p["data"]))


def metadata_of(job: Job, position: int = 0, eta: float = 0.0) -> analysis_pb2.AnalysisMetadata:
    return analysis_pb2.AnalysisMetadata(
        analyzer=job.analyzer,
        state=job.state,
        priority=job.priority,
        phase=job.phase,
        percent=job.percent,
        phases=[
            analysis_pb2.Phase(
                name=p["name"], start_percent=p["start"], end_percent=p["end"], state=p["state"]
            )
            for p in job.phases
        ],
        queue_position=position,
        estimated_start_time=_ts(eta),
        create_time=_ts(job.created),
        start_time=_ts(job.started),
        end_time=_ts(job.finished),
        owner=job.owner,
        attempt=job.attempt,
        partial_results=[_partial(p) for p in job.partials],
        cancel_requested=job.cancel_requested,
    )


def operation_of(
    job: Job, position: int = 0, eta: float = 0.0, artifacts: list[tuple[str, str, bytes]] | None = None
) -> operations_pb2.Operation:
    op = operations_pb2.Operation(name=job.name, done=job.done)
    op.metadata.Pack(metadata_of(job, position, eta))
    if job.job_state == JobState.SUCCEEDED:
        result = analysis_pb2.AnalysisResult(
            analyzer=job.analyzer,
            data=_struct(job.result),
            artifacts=[artifact_message(job.name, n, ct, d) for n, ct, d in (artifacts or [])],
        )
        op.response.Pack(result)
    elif job.error is not None:
        status = status_pb2.Status(code=job.error.code, message=job.error.message)
        info = error_details_pb2.ErrorInfo(
            reason=job.error.reason or Code(job.error.code).name, domain=DOMAIN
        )
        detail = any_pb2.Any()
        detail.Pack(info)
        status.details.append(detail)
        op.error.CopyFrom(status)
    return op


#: Artifacts larger than this are sent by reference (`resource_name`, read with UploadService.Read)
#: so an operation always fits the 1 MiB message limit.
INLINE_ARTIFACT_BYTES = 512 * 1024


def artifact_message(job_name: str, name: str, content_type: str, data: bytes) -> analysis_pb2.Artifact:
    if len(data) <= INLINE_ARTIFACT_BYTES:
        return analysis_pb2.Artifact(name=name, content_type=content_type, data=data, size=len(data))
    return analysis_pb2.Artifact(
        name=name, content_type=content_type, size=len(data), resource_name=f"{job_name}/artifacts/{name}"
    )


def analysis_input(msg: analysis_pb2.AnalysisInput) -> AnalysisInput:
    source = msg.WhichOneof("source")
    if source == "text":
        if msg.content_type not in ("", "text/plain"):
            raise invalid_argument(
                "text input must have content type text/plain", [("input.content_type", msg.content_type)]
            )
        return AnalysisInput(text=msg.text, content_type="text/plain", filename=msg.filename)
    if source == "data":
        if not msg.content_type:
            raise invalid_argument("binary input needs a content type", [("input.content_type", "empty")])
        return AnalysisInput(data=msg.data, content_type=msg.content_type, filename=msg.filename)
    raise invalid_argument("input is empty: set data or text", [("input", "no source set")])


def input_message(data: AnalysisInput) -> analysis_pb2.AnalysisInput:
    if data.text is not None:
        return analysis_pb2.AnalysisInput(text=data.text, content_type="text/plain", filename=data.filename)
    return analysis_pb2.AnalysisInput(data=data.data, content_type=data.content_type, filename=data.filename)


def failure(msg: analysis_pb2.ReportFailure) -> JobError:
    if not 0 < msg.code <= 16:
        raise invalid_argument(
            "failure.code must be a google.rpc.Code other than OK", [("failure.code", str(msg.code))]
        )
    return JobError(msg.code, msg.message or Code(msg.code).name, Code(msg.code).name)


def result_of(msg: analysis_pb2.AnalysisResult, analyzer: str) -> AnalyzerResult:
    return AnalyzerResult(_dict(msg.data), [(a.name, a.content_type, a.data) for a in msg.artifacts])


def _seconds(d: duration_pb2.Duration) -> float:
    return float(d.ToTimedelta().total_seconds())


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def _parse_filter(text: str) -> tuple[bool | None, str]:
    done: bool | None = None
    analyzer = ""
    for part in text.replace(" AND ", " ").split():
        key, sep, value = part.partition("=")
        if key == "done" and sep and value in ("true", "false"):
            done = value == "true"
        elif key == "analyzer" and sep and value:
            analyzer = value.strip('"')
        else:
            raise invalid_argument(
                "unsupported filter", [("filter", "use done=true|false and/or analyzer=NAME")]
            )
    return done, analyzer


# -- metrics ------------------------------------------------------------------------


class PromStats:
    """Scheduler figures as `realtime_analysis_*` Prometheus metrics."""

    def __init__(self, hub: HubContext) -> None:
        r = hub.metrics.registry
        self.started_total = Counter(
            "realtime_analysis_jobs_started",
            "Analysis jobs started, by priority and whether the start target was met (met, missed, none).",
            ("priority", "target"),
            registry=r,
        )
        self.wait = Histogram(
            "realtime_analysis_start_wait_seconds",
            "Time from submit to start, by priority.",
            ("priority",),
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.finished_total = Counter(
            "realtime_analysis_jobs_finished",
            "Analysis jobs finished, by analyzer and state.",
            ("analyzer", "state"),
            registry=r,
        )
        self.run = Histogram(
            "realtime_analysis_job_seconds",
            "Time from start to end, by analyzer.",
            ("analyzer",),
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120),
            registry=r,
        )
        self.depth = Gauge("realtime_analysis_queue_depth", "Jobs waiting in the queue.", registry=r)
        self.running = Gauge("realtime_analysis_running", "Jobs running (all replicas).", registry=r)

    def started(self, priority: Priority, waited: float, target_met: bool | None) -> None:
        target = "none" if target_met is None else "met" if target_met else "missed"
        self.started_total.labels(priority.name.lower(), target).inc()
        self.wait.labels(priority.name.lower()).observe(waited)

    def finished(self, analyzer: str, state: JobState, seconds: float) -> None:
        self.finished_total.labels(analyzer, state.name.lower()).inc()
        self.run.labels(analyzer).observe(seconds)

    def queue_depth(self, depth: int, running: int) -> None:
        self.depth.set(depth)
        self.running.set(running)


# -- the servicer ------------------------------------------------------------------------


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
    async def SubmitAnalysis(
        self, request: analysis_pb2.SubmitAnalysisRequest, context: Any
    ) -> operations_pb2.Operation:
        who = current_principal()
        if not request.HasField("input"):
            raise invalid_argument("input is required", [("input", "missing")])
        source = request.input
        if source.WhichOneof("source") == "upload":  # a large input, uploaded first (uploaded.py)
            data = await upload_input(
                self._hub.instance_id,
                who.subject,
                source.upload,
                source.content_type,
                source.filename,
                remote=self.scheduler.registry.find(request.analyzer) is None,
            )
        else:
            data = analysis_input(source)
        job = await self.scheduler.submit(
            who.subject,
            request.analyzer,
            data,
            _dict(request.options),
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
        done, analyzer = _parse_filter(request.filter)
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
            current_principal(), done=done, analyzer=analyzer, offset=offset, limit=size
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
        timeout = _seconds(request.timeout) if request.HasField("timeout") else None
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
            kind=_KIND[event.kind],
            operation=op,
            phase=event.phase,
            partial=_partial(event.partial) if event.partial else None,
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
            [_dict(p) for p in request.partial_results],
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
        session = _WorkSession(self, f"{self.scheduler.replica}/worker-{next(self._workers)}-{who.subject}")
        async for response in session.run(requests):
            yield response

    # -- live streams ---------------------------------------------------------------------------
    async def AnalyzeStream(
        self, requests: AsyncIterator[analysis_pb2.AnalyzeStreamRequest], context: Any
    ) -> AsyncIterator[analysis_pb2.AnalyzeStreamResponse]:
        current_principal()
        session: LiveSession | None = None
        inactivity = self._settings.stream_inactivity
        commands = commands_until_shutdown(requests, self._hub.shutdown)
        loop = asyncio.get_running_loop()
        R = analysis_pb2.AnalyzeStreamResponse
        try:
            while True:
                timeout = None
                if session is not None:
                    timeout = max(0.0, (session.last_chunk or session.started) + inactivity - time_now())
                try:
                    async with asyncio.timeout(timeout):
                        command = await anext(commands, None)
                except TimeoutError:
                    assert session is not None
                    yield R(stopped=self._stopped(session, "inactive"))
                    return
                if command is None:
                    if self._hub.shutdown.started:
                        yield R(
                            going_away=common_pb2.GoingAwayEvent(
                                reason="server shutting down", grace=_duration(self._hub.shutdown.grace)
                            )
                        )
                        raise going_away()
                    return  # the client half-closed
                kind = command.WhichOneof("command")
                try:
                    if kind == "ping":
                        yield R(command_id=command.id, pong=common_pb2.PongEvent())
                    elif kind == "start":
                        if session is not None:
                            raise invalid_argument(
                                "the stream is already started", [("start", "send it once")]
                            )
                        content = command.start.kind
                        if content not in (
                            analysis_pb2.STREAM_CONTENT_KIND_TEXT,
                            analysis_pb2.STREAM_CONTENT_KIND_IMAGE,
                        ):
                            raise invalid_argument(
                                "start.kind must be TEXT or IMAGE", [("start.kind", str(content))]
                            )
                        if command.start.HasField("inactivity_timeout"):
                            inactivity = _seconds(command.start.inactivity_timeout)
                            if not 0 < inactivity <= MAX_STREAM_INACTIVITY:
                                raise invalid_argument(
                                    "inactivity_timeout must be within 0..2 h",
                                    [("start.inactivity_timeout", f"{inactivity:g}s")],
                                )
                        session = LiveSession(
                            "text" if content == analysis_pb2.STREAM_CONTENT_KIND_TEXT else "image",
                            clock=time_now,
                        )
                        yield R(
                            command_id=command.id,
                            started=analysis_pb2.StreamStartedEvent(
                                stream_id=session.id, inactivity_timeout=_duration(inactivity)
                            ),
                        )
                    elif session is None:
                        raise invalid_argument(
                            "start the stream first",
                            [(kind or "command", "before start")],
                            reason="NOT_STARTED",
                        )
                    elif kind == "chunk":
                        which = command.chunk.WhichOneof("content")
                        if which == "text":
                            data = await loop.run_in_executor(None, session.add_text, command.chunk.text)
                        elif which == "image":
                            data = await loop.run_in_executor(None, session.add_image, command.chunk.image)
                        else:
                            raise invalid_argument("chunk is empty", [("chunk", "set text or image")])
                        yield R(
                            command_id=command.id,
                            result=analysis_pb2.StreamResultEvent(
                                chunk_index=session.chunks, data=_struct(data)
                            ),
                        )
                    elif kind == "status":
                        yield R(command_id=command.id, status=self._status(session))
                    elif kind == "stop":
                        yield R(command_id=command.id, stopped=self._stopped(session, "stopped"))
                        return
                    else:
                        raise invalid_argument("command is empty", [("command", "no command set")])
                except HubError as err:
                    yield R(command_id=command.id, error=error_event(err, command.id))
        finally:
            await commands.aclose()  # type: ignore[attr-defined]

    def _status(self, session: LiveSession) -> analysis_pb2.StreamStatusEvent:
        return analysis_pb2.StreamStatusEvent(
            stream_id=session.id,
            chunks=session.chunks,
            bytes=session.bytes_received,
            start_time=_ts(session.started),
            last_chunk_time=_ts(session.last_chunk),
            kind=analysis_pb2.STREAM_CONTENT_KIND_TEXT
            if session.kind == "text"
            else analysis_pb2.STREAM_CONTENT_KIND_IMAGE,
        )

    def _stopped(self, session: LiveSession, reason: str) -> analysis_pb2.StreamStoppedEvent:
        return analysis_pb2.StreamStoppedEvent(
            reason=reason, status=self._status(session), summary=_struct(session.last_result)
        )


def time_now() -> float:
    return time.time()


class _WorkSession:
    """One remote worker's stream: registration, job hand-out, commands, revocations."""

    def __init__(self, servicer: AnalysisServicer, runner: str) -> None:
        self.servicer = servicer
        self.scheduler = servicer.scheduler
        self.runner = runner
        self.out: asyncio.Queue[analysis_pb2.WorkResponse | None] = asyncio.Queue(WORK_QUEUE)
        self.held: set[str] = set()
        self.analyzers: set[str] = set()
        self.capacity = 0
        self.registered = False

    def _revoke(self, job_id: str, reason: str) -> None:
        targets = [job_id] if job_id else list(self.held)
        for jid in targets:
            self.held.discard(jid)
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(
                    analysis_pb2.WorkResponse(
                        revoked=analysis_pb2.JobRevokedEvent(name="operations/" + jid, reason=reason)
                    )
                )
        if not job_id:  # the whole worker was dropped (missed heartbeats): end its stream
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(None)

    async def run(
        self, requests: AsyncIterator[analysis_pb2.WorkRequest]
    ) -> AsyncIterator[analysis_pb2.WorkResponse]:
        hub = self.servicer._hub
        reader = asyncio.ensure_future(self._read(requests))
        feeder: asyncio.Task[None] | None = None
        try:
            while True:
                if feeder is None and self.registered:
                    feeder = asyncio.ensure_future(self._feed())
                getter = asyncio.ensure_future(self.out.get())
                done, _ = await asyncio.wait((getter, reader), return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    reader.result()  # re-raise a reader failure
                    while not self.out.empty():
                        item = self.out.get_nowait()
                        if item is not None:
                            yield item
                    if hub.shutdown.started:
                        yield analysis_pb2.WorkResponse(
                            going_away=common_pb2.GoingAwayEvent(
                                reason="server shutting down; running jobs are queued again",
                                grace=_duration(hub.shutdown.grace),
                            )
                        )
                        raise going_away()
                    return
                item = getter.result()
                if item is None:
                    return
                yield item
        finally:
            reader.cancel()
            if feeder is not None:
                feeder.cancel()
            await asyncio.gather(reader, *(t for t in (feeder,) if t is not None), return_exceptions=True)
            if self.registered:
                await self.scheduler.unregister_remote(self.runner, "worker disconnected")

    async def _read(self, requests: AsyncIterator[analysis_pb2.WorkRequest]) -> None:
        async for command in commands_until_shutdown(requests, self.servicer._hub.shutdown):
            if command is None:
                return
            try:
                reply = await self._handle(command)
            except HubError as err:
                reply = analysis_pb2.WorkResponse(command_id=command.id, error=error_event(err, command.id))
            await self.out.put(reply)

    async def _handle(self, command: analysis_pb2.WorkRequest) -> analysis_pb2.WorkResponse:
        try:
            return await self._apply(command)
        except HubError as err:
            if err.reason == "JOB_NOT_HELD":  # cancelled or re-assigned meanwhile: free the slot
                for field in ("progress", "complete", "fail"):
                    if command.HasField(field):
                        with contextlib.suppress(HubError):
                            self.held.discard(job_id_from_name(getattr(command, field).name))
            raise

    async def _apply(self, command: analysis_pb2.WorkRequest) -> analysis_pb2.WorkResponse:
        kind = command.WhichOneof("command")
        W = analysis_pb2.WorkResponse
        if kind == "ping":
            return W(command_id=command.id, pong=common_pb2.PongEvent())
        if kind == "register":
            if self.registered:
                raise invalid_argument("already registered", [("register", "send it once")])
            names = {n for n in command.register.analyzers if n}
            if not names:
                raise invalid_argument("declare at least one analyzer", [("register.analyzers", "empty")])
            capacity = command.register.capacity or 1
            if not 0 < capacity <= MAX_WORKER_CAPACITY:
                raise invalid_argument(
                    f"capacity must be 1..{MAX_WORKER_CAPACITY}", [("register.capacity", str(capacity))]
                )
            self.analyzers, self.capacity = names, capacity
            await self.scheduler.register_remote(self.runner, names, self._revoke, lambda: set(self.held))
            self.registered = True
            return W(
                command_id=command.id,
                registered=analysis_pb2.WorkerRegisteredEvent(
                    worker_id=self.runner, heartbeat_interval=_duration(self.scheduler.config.lease_ttl / 3)
                ),
            )
        if not self.registered:
            raise invalid_argument(
                "register first", [(kind or "command", "before register")], reason="NOT_REGISTERED"
            )
        accepted = W(command_id=command.id, accepted=analysis_pb2.CommandAcceptedEvent())
        if kind == "heartbeat":
            await self.scheduler.heartbeat_remote(self.runner)
            return accepted
        if kind == "progress":
            p = command.progress
            job_id = self._held(p.name)
            if not 0.0 <= p.phase_fraction <= 1.0:
                raise invalid_argument(
                    "phase_fraction must be within 0..1", [("progress.phase_fraction", "")]
                )
            await self.scheduler.heartbeat_remote(self.runner)
            await self.scheduler.progress(
                job_id, self.runner, p.phase, p.phase_fraction, [_dict(x) for x in p.partial_results]
            )
            return accepted
        if kind == "complete":
            job_id = self._held(command.complete.name)
            if (
                await self.scheduler.finish(
                    job_id, self.runner, result=result_of(command.complete.result, "")
                )
                is None
            ):
                raise HubError(
                    Code.FAILED_PRECONDITION, "the job is no longer assigned to this worker", "JOB_NOT_HELD"
                )
            self.held.discard(job_id)
            return accepted
        if kind == "fail":
            job_id = self._held(command.fail.name)
            await self.scheduler.finish(job_id, self.runner, error=failure(command.fail.failure))
            self.held.discard(job_id)
            return accepted
        raise invalid_argument("command is empty", [("command", "no command set")])

    def _held(self, name: str) -> str:
        job_id = job_id_from_name(name)
        if job_id not in self.held:
            raise HubError(Code.FAILED_PRECONDITION, "the job is not assigned to this worker", "JOB_NOT_HELD")
        return job_id

    async def _feed(self) -> None:
        while True:
            try:
                await self._hand_out()
            except HubError as err:  # the store is unreachable: tell the worker, keep the stream
                log.warning("cannot hand out analysis jobs: %s", err)
                await self.out.put(analysis_pb2.WorkResponse(error=error_event(err)))
            await self.scheduler.work_available(self.scheduler.idle_poll)

    async def _hand_out(self) -> None:
        while len(self.held) < self.capacity:
            job = await self.scheduler.claim(self.runner, self.analyzers)
            if job is None:
                break
            self.held.add(job.id)
            data = await self.scheduler.job_input(job)
            await self.out.put(
                analysis_pb2.WorkResponse(
                    assigned=analysis_pb2.JobAssignedEvent(
                        name=job.name,
                        analyzer=job.analyzer,
                        input=input_message(data),
                        options=_struct(job.options),
                        phases=metadata_of(job).phases,
                        attempt=job.attempt,
                    )
                )
            )


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

        broker = create_broker(hub.settings.broker)
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
