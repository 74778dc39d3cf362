"""Protobuf wire-format pieces for responses the hub encodes by hand (pre-encoded, cached bytes).

Text results, notification events and collaboration broadcasts are serialized once and reused
across calls and subscribers; all build their bytes from these helpers (tests compare them with the
protobuf library's output) and register `serialize` as their response serializer.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import grpc

_SMALL = [bytes([i]) for i in range(128)]


def varint(value: int) -> bytes:
    """A base-128 varint (non-negative `value`)."""
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int) -> bytes:
    """The tag of a length-delimited field (wire type 2)."""
    return varint(number << 3 | 2)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return tag(number) + varint(len(payload)) + payload


def serialize(message: Any) -> bytes:
    """A gRPC response serializer for methods that answer with bytes they encoded themselves
    (encoded once, shared) or with a message."""
    return message if type(message) is bytes else message.SerializeToString()  # type: ignore[no-any-return]


def add_preencoding_service(server: Any, servicer: Any, module: ModuleType, service: str) -> None:
    """Register `servicer` like the generated `add_<Service>Servicer_to_server`, but with
    `serialize` as every method's response serializer (`module`: the service's `_pb2`; `service`:
    its short name in that module, e.g. "NotificationService")."""
    descriptor = module.DESCRIPTOR.services_by_name[service]
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in descriptor.methods:
        request_cls = getattr(module, method.input_type.name)
        if method.client_streaming and method.server_streaming:
            factory: Callable[..., grpc.RpcMethodHandler] = grpc.stream_stream_rpc_method_handler
        elif method.client_streaming:
            factory = grpc.stream_unary_rpc_method_handler
        elif method.server_streaming:
            factory = grpc.unary_stream_rpc_method_handler
        else:
            factory = grpc.unary_unary_rpc_method_handler
        handlers[method.name] = factory(
            getattr(servicer, method.name),
            request_deserializer=request_cls.FromString,
            response_serializer=serialize,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(descriptor.full_name, handlers),))
    server.add_registered_method_handlers(descriptor.full_name, handlers)
