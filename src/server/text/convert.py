"""Conversions between the text contract's messages (realtime.v1.text) and the plain-Python text
modules: operations and durations in, fixes, batch replies and session events out. No grpc here:
`service.py` adapts gRPC with these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError

from realtime.v1 import text_pb2

from ..platform.errors import HubError, invalid_argument, resource_exhausted
from ..platform.status import duration as _duration
from ..platform.status import error_event
from . import session as sess
from . import wire
from .fixer import FixResult, Operation
from .suggestions import Kind

#: Per batch item that is answered with an error, kept free of a reply's limit.
ITEM_ERROR_BYTES = 1024

_OPERATIONS = {text_pb2.OPERATION_FIX_LAYOUT: Operation.FIX_LAYOUT, text_pb2.OPERATION_CLEAN: Operation.CLEAN}
_KINDS = {Kind.LAYOUT: text_pb2.SUGGESTION_KIND_LAYOUT, Kind.CLEAN: text_pb2.SUGGESTION_KIND_CLEAN}
_REASONS = {
    "debounced": text_pb2.SUPERSEDED_REASON_DEBOUNCED,
    "cancelled": text_pb2.SUPERSEDED_REASON_CANCELLED,
}


def too_large(size: int, limit: int) -> HubError:
    return resource_exhausted(
        f"the answer would be {size} bytes, over the {limit} bytes one reply may hold; "
        "send a shorter text (or fewer items per batch)",
        reason="RESPONSE_TOO_LARGE",
        quota=[("reply", f"at most {limit} bytes per reply (the hub's message limit)")],
    )


def fit_results(results: list[bytes], ids: list[str], limit: int) -> list[bytes]:
    """The batch's results, in order, within `limit` bytes: an item whose fix would not fit
    gets its own RESPONSE_TOO_LARGE error (send it again, in another batch) instead of the
    whole reply failing."""
    fitted: list[bytes] = []
    used = 0
    for i, (result, item_id) in enumerate(zip(results, ids, strict=True)):
        later = sum(ITEM_ERROR_BYTES + len(x.encode()) for x in ids[i + 1 :])
        if used + len(result) + 8 + later > limit:
            error = too_large(len(result), max(0, limit - used - later))
            result = wire.batch_result(item_id, error=error_event(error, item_id).SerializeToString())
        fitted.append(result)
        used += len(result) + 8  # the field's tag and length
    return fitted


class Malformed:
    """A Session command that did not parse (e.g. a string field holding invalid UTF-8)."""

    __slots__ = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail

    def error(self) -> HubError:
        return invalid_argument(
            "request is not a valid message: " + self.detail,
            [("request", "string fields must be valid UTF-8 (no lone surrogates)")],
            reason="MALFORMED_REQUEST",
        )


def tolerant(cls: Any) -> Callable[[bytes], Any]:
    # An undecodable command becomes an error event for its stream, not the end of the stream.
    def parse(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except DecodeError as exc:
            return Malformed(str(exc).rsplit(":", 1)[-1].strip())

    return parse


def operations(values: Sequence[int], field: str) -> frozenset[Operation]:
    ops = set()
    for i, value in enumerate(values):
        op = _OPERATIONS.get(value)
        if op is None:
            raise invalid_argument(
                f"unknown operation {value}", [(f"{field}[{i}]", "OPERATION_FIX_LAYOUT or OPERATION_CLEAN")]
            )
        ops.add(op)
    return frozenset(ops)


def seconds(d: duration_pb2.Duration) -> float:
    return float(d.seconds) + float(d.nanos) / 1e9


def to_pb(fix: FixResult) -> text_pb2.TextFix:
    return text_pb2.TextFix(
        text=fix.text,
        suggestions=[
            text_pb2.Suggestion(
                offset=s.offset,
                length=s.length,
                replacement=s.replacement,
                kind=_KINDS[s.kind],
                confidence=s.confidence,
                message=s.message,
            )
            for s in fix.suggestions
        ],
        compute_time=_duration(fix.compute_seconds),
        decision=text_pb2.LanguageDecision(
            language=fix.language, confidence=fix.confidence, reason=fix.reason
        )
        if fix.reason
        else None,
    )


def session_response(event: sess.Event, max_reply: int) -> text_pb2.SessionResponse:
    """The stream message for a session event (an error event instead of a result over `max_reply`)."""
    R = text_pb2.SessionResponse
    if isinstance(event, sess.Result):
        response = R(
            command_id=event.command_id,
            result=text_pb2.ResultEvent(
                document_id=event.document_id, version=event.version, fix=to_pb(event.fix)
            ),
        )
        if (size := response.ByteSize()) > max_reply:  # would end the stream: say so
            return R(
                command_id=event.command_id,
                error=error_event(too_large(size, max_reply), event.command_id),
            )
        return response
    if isinstance(event, sess.Superseded):
        return R(
            command_id=event.command_id,
            superseded=text_pb2.SupersededEvent(
                document_id=event.document_id, versions=event.versions, reason=_REASONS[event.reason]
            ),
        )
    if isinstance(event, sess.Opened):
        return R(
            command_id=event.command_id,
            opened=text_pb2.DocumentOpenedEvent(
                document_id=event.document_id, version=event.version, debounce=_duration(event.debounce)
            ),
        )
    if isinstance(event, sess.Closed):
        return R(
            command_id=event.command_id,
            closed=text_pb2.DocumentClosedEvent(document_id=event.document_id),
        )
    if isinstance(event, sess.Configured):
        return R(
            command_id=event.command_id,
            configured=text_pb2.ConfiguredEvent(debounce=_duration(event.debounce)),
        )
    return R(command_id=event.command_id, error=error_event(event.error, event.command_id))
