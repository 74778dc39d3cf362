"""The protobuf JSON mapping for the SSE fallback, found by method name in the descriptor pool.

The gateway still knows no service: every service module imports its generated
code, which registers the descriptors in protobuf's default pool, so a method
path is enough to find its request and response types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2

from ..platform.errors import Code, HubError, invalid_argument

POSITION_TYPE = "realtime.v1.StreamPosition"
_MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class Position:
    """A resume point: the epoch and offset of the last event a client saw."""

    epoch: str
    offset: int

    @property
    def event_id(self) -> str:
        return f"{self.epoch}:{self.offset}"

    @staticmethod
    def parse(event_id: str) -> Position:
        epoch, sep, offset = event_id.rpartition(":")
        if not sep or not offset.isdigit():
            raise invalid_argument(
                "Last-Event-ID must be 'EPOCH:OFFSET' as sent in the event ids",
                [("last_event_id", f"got {event_id[:40]!r}")],
            )
        return Position(epoch, int(offset))


def _is_message_field(f: FieldDescriptor) -> bool:
    return f.type == FieldDescriptor.TYPE_MESSAGE and not f.message_type.GetOptions().map_entry


def _position_fields(desc: Descriptor) -> list[FieldDescriptor]:
    return [
        f
        for f in desc.fields
        if _is_message_field(f) and f.message_type.full_name == POSITION_TYPE and not _repeated(f)
    ]


def _repeated(f: FieldDescriptor) -> bool:
    return bool(f.is_repeated)


def find_position(msg: Message, depth: int = 0) -> Position | None:
    """The first StreamPosition set in `msg` (depth-first), if any. In a repeated field only the
    last element counts: in a batch of events it is the newest, where a resume starts after."""
    if msg.DESCRIPTOR.full_name == POSITION_TYPE:
        return Position(str(msg.epoch), int(msg.offset))  # type: ignore[attr-defined]
    if depth >= _MAX_DEPTH:
        return None
    for field, value in msg.ListFields():
        if not _is_message_field(field):
            continue
        if _repeated(field):
            if not value:
                continue
            value = value[-1]
        found = find_position(value, depth + 1)
        if found is not None:
            return found
    return None


class MethodCodec:
    """JSON <-> bytes for one method's request and responses."""

    def __init__(self, request_cls: type[Message], response_cls: type[Message]) -> None:
        self._request_cls = request_cls
        self._response_cls = response_cls
        positions = _position_fields(request_cls.DESCRIPTOR)
        self.resume_field = positions[0].name if len(positions) == 1 else None

    def encode_request(self, text: str, resume: Position | None = None) -> bytes:
        request = self._request_cls()
        try:
            json_format.Parse(text or "{}", request)
        except json_format.ParseError as exc:
            raise invalid_argument(
                "the request is not valid protobuf JSON for this method", [("request", str(exc)[:200])]
            ) from None
        if resume is not None and self.resume_field is not None:
            pos = getattr(request, self.resume_field)
            pos.epoch = resume.epoch
            pos.offset = resume.offset
        return bytes(request.SerializeToString())

    def decode_response(self, data: bytes) -> tuple[str, str | None]:
        """(JSON text, event id or None) for one response message."""
        response = self._response_cls()
        try:
            response.ParseFromString(data)
        except DecodeError:
            raise HubError(Code.INTERNAL, "the hub sent a message the gateway cannot decode") from None
        position = find_position(response)
        text = json.dumps(json_format.MessageToDict(response), separators=(",", ":"), ensure_ascii=False)
        return text, position.event_id if position is not None else None


class JsonCodecs:
    """Finds (and caches) a MethodCodec by method path, from protobuf's default descriptor pool."""

    def __init__(self) -> None:
        self._pool = descriptor_pool.Default()
        self._cache: dict[str, MethodCodec] = {}

    def for_method(self, path: str) -> MethodCodec:
        found = self._cache.get(path)
        if found is not None:
            return found
        service_name, _, method_name = path.strip("/").partition("/")
        try:
            service = self._pool.FindServiceByName(service_name)
        except KeyError:
            raise HubError(Code.UNIMPLEMENTED, f"unknown service {service_name}") from None
        method = service.methods_by_name.get(method_name)
        if method is None:
            raise HubError(Code.UNIMPLEMENTED, f"unknown method {method_name} of {service_name}")
        if method.client_streaming:
            raise HubError(
                Code.UNIMPLEMENTED,
                f"{path} takes a client stream; SSE serves unary and server-streaming methods only "
                "(use the WebSocket bridge)",
            )
        codec = MethodCodec(
            message_factory.GetMessageClass(method.input_type),
            message_factory.GetMessageClass(method.output_type),
        )
        self._cache[path] = codec
        return codec


def status_json(code: int, message: str, details_bin: bytes | None) -> str:
    """The final SSE `status` event: code, name, message and the google.rpc.Status details."""
    out: dict[str, Any] = {
        "code": code,
        "status": Code(code).name if code in Code._value2member_map_ else str(code),
        "message": message,
    }
    if details_bin:
        status = status_pb2.Status()
        try:
            status.ParseFromString(details_bin)
            out["details"] = json_format.MessageToDict(status).get("details", [])
        except (DecodeError, TypeError, KeyError):
            pass  # details of a type this process does not know: the code and message still go out
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)
