"""Conversions between the jobs (model.py) and the contract's messages (realtime.v1.analysis)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from google.longrunning import operations_pb2
from google.protobuf import any_pb2, duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2

from realtime.v1 import analysis_pb2

from ..platform.errors import (
    DOMAIN,
    Code,
    invalid_argument,
)
from ..platform.status import timestamp as shared_timestamp
from .analyzers.base import AnalysisInput, AnalyzerResult
from .model import Job, JobError, JobState

WATCH_KIND = {
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


def timestamp(seconds: float) -> timestamp_pb2.Timestamp | None:
    """The shared conversion, with 0 (not set) as no timestamp."""
    return shared_timestamp(seconds) if seconds else None


def struct(data: dict[str, Any] | None) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    if data:
        s.update(data)
    return s


def plain(s: struct_pb2.Struct) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(s)
    return out


def partial_message(p: dict[str, Any]) -> analysis_pb2.PartialResult:
    return analysis_pb2.PartialResult(index=p["index"], phase=p["phase"], data=struct(p["data"]))


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
        estimated_start_time=timestamp(eta),
        create_time=timestamp(job.created),
        start_time=timestamp(job.started),
        end_time=timestamp(job.finished),
        owner=job.owner,
        attempt=job.attempt,
        partial_results=[partial_message(p) for p in job.partials],
        cancel_requested=job.cancel_requested,
        max_attempts=job.max_attempts,
        next_retry_time=timestamp(job.next_retry) if job.job_state == JobState.QUEUED else None,
        last_error=error_status(job.last_error) if job.last_error is not None else None,
    )


def error_status(error: JobError) -> status_pb2.Status:
    """A job error as google.rpc.Status with its ErrorInfo."""
    status = status_pb2.Status(code=error.code, message=error.message)
    info = error_details_pb2.ErrorInfo(reason=error.reason or Code(error.code).name, domain=DOMAIN)
    detail = any_pb2.Any()
    detail.Pack(info)
    status.details.append(detail)
    return status


def operation_of(
    job: Job, position: int = 0, eta: float = 0.0, artifacts: list[tuple[str, str, bytes]] | None = None
) -> operations_pb2.Operation:
    op = operations_pb2.Operation(name=job.name, done=job.done)
    op.metadata.Pack(metadata_of(job, position, eta))
    if job.job_state == JobState.SUCCEEDED:
        result = analysis_pb2.AnalysisResult(
            analyzer=job.analyzer,
            data=struct(job.result),
            artifacts=artifact_messages(job.name, artifacts or []),
        )
        op.response.Pack(result)
    elif job.error is not None:
        op.error.CopyFrom(error_status(job.error))
    return op


#: The artifact bytes one operation carries inline, all its artifacts together: the rest are sent
#: by reference (`resource_name`, read with UploadService.Read), so an operation always fits the
#: 1 MiB message limit (with its findings, at most RESULT_INLINE_BYTES, and its metadata).
INLINE_ARTIFACT_BYTES = 512 * 1024


def artifact_messages(job_name: str, artifacts: list[tuple[str, str, bytes]]) -> list[analysis_pb2.Artifact]:
    """The operation's artifacts, in order: each inline while the operation's inline budget
    (INLINE_ARTIFACT_BYTES in all) has room for it, by reference otherwise."""
    room = INLINE_ARTIFACT_BYTES
    out = []
    for name, content_type, data in artifacts:
        inline = len(data) <= room
        if inline:
            room -= len(data)
        out.append(artifact_message(job_name, name, content_type, data, inline=inline))
    return out


def artifact_message(
    job_name: str, name: str, content_type: str, data: bytes, *, inline: bool | None = None
) -> analysis_pb2.Artifact:
    """One artifact, inline or by reference (by default: inline when it fits the budget alone)."""
    if inline is None:
        inline = len(data) <= INLINE_ARTIFACT_BYTES
    if inline:
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
    return AnalyzerResult(plain(msg.data), [(a.name, a.content_type, a.data) for a in msg.artifacts])


def seconds_of(d: duration_pb2.Duration) -> float:
    return float(d.ToTimedelta().total_seconds())


@dataclass(frozen=True)
class JobFilter:
    """What `ListOperations.filter` selects (unset fields select everything)."""

    done: bool | None = None
    analyzer: str = ""
    state: JobState | None = None


def parse_filter(text: str) -> JobFilter:
    """`done=true|false`, `analyzer=NAME`, `state=QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED`,
    separated by spaces or AND (state names in any case, with or without JOB_STATE_)."""
    found = JobFilter()
    for part in text.replace(" AND ", " ").split():
        key, sep, value = part.partition("=")
        value = value.strip('"')
        state = value.upper().removeprefix("JOB_STATE_")
        if key == "done" and sep and value in ("true", "false"):
            found = replace(found, done=value == "true")
        elif key == "analyzer" and sep and value:
            found = replace(found, analyzer=value)
        elif key == "state" and sep and state in JobState.__members__ and state != "UNSPECIFIED":
            found = replace(found, state=JobState[state])
        else:
            raise invalid_argument(
                "unsupported filter",
                [
                    (
                        "filter",
                        "use done=true|false, analyzer=NAME and/or "
                        "state=QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED",
                    )
                ],
            )
    return found


# -- metrics ------------------------------------------------------------------------
