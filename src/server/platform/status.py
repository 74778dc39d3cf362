"""Turn `HubError` into gRPC statuses and stream error events (the one place that does)."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from realtime.v1 import common_pb2

from .errors import DOMAIN, HubError


def _details(err: HubError) -> list[status_pb2.Status]:
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=dict(err.metadata))
    details = [info]
    if err.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(max(err.retry_after, 0.0) * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    if err.quota:
        details.append(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(subject=q.subject, description=q.description)
                    for q in err.quota
                ]
            )
        )
    if err.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in err.violations
                ]
            )
        )
    return details


def to_status(err: HubError) -> grpc.Status:
    """A grpc.Status whose trailers carry `grpc-status-details-bin` (google.rpc.Status)."""
    status = status_pb2.Status(code=int(err.code), message=err.message)
    for detail in _details(err):
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def grpc_code(err: HubError) -> grpc.StatusCode:
    return _BY_VALUE[int(err.code)]


_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}
assert _BY_VALUE[code_pb2.UNAUTHENTICATED] is grpc.StatusCode.UNAUTHENTICATED


async def abort(context: grpc.aio.ServicerContext, err: HubError) -> None:  # type: ignore[type-arg]
    """End the call with `err` as a rich status. Raises (grpc's AbortError)."""
    status = to_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)


def error_event(err: HubError, command_id: str = "") -> common_pb2.ErrorEvent:
    """The in-stream form of an error: the stream stays open."""
    return common_pb2.ErrorEvent(
        command_id=command_id,
        code=int(err.code),
        reason=err.reason,
        message=err.message,
        metadata={
            **dict(err.metadata),
            **({"retry_after_seconds": f"{err.retry_after:.3f}"} if err.retry_after is not None else {}),
            **{f"field:{v.field}": v.description for v in err.violations},
            **{f"quota:{q.subject}": q.description for q in err.quota},
        },
    )


def duration(seconds: float) -> duration_pb2.Duration:
    """`google.protobuf.Duration` from seconds (the one conversion services share)."""
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """`google.protobuf.Timestamp` from seconds since the epoch (the one conversion services share)."""
    value = timestamp_pb2.Timestamp()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def going_away_event(grace: float, reason: str = "server shutting down") -> common_pb2.GoingAwayEvent:
    """The `going_away` event every stream sends before it ends UNAVAILABLE/GOING_AWAY
    (`errors.going_away()`; shutdown.py has the rule)."""
    return common_pb2.GoingAwayEvent(reason=reason, grace=duration(grace))
