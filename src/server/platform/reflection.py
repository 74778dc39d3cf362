"""Server reflection under both names clients ask for, resolving every symbol.

grpcio-reflection only ships `grpc.reflection.v1alpha`; grpcurl, buf curl, Postman and the Go and
Java tooling try `grpc.reflection.v1` first (some newer tools only that). The two protocols have the
same messages field for field, so the v1 method is the v1alpha servicer under the v1 name, and the
v1 file (`grpc/reflection/v1/reflection.proto`) is the v1alpha file under the v1 package, added to
the descriptor pool so `describe grpc.reflection.v1.ServerReflection` works too.

The library asks the pool for the file of a symbol, which knows services, messages and enums but
not their members: `realtime.v1.TextService.FixText` (what `grpcurl describe` and grpcio-reflection's
`FindMethodByName` send) came back NOT_FOUND. Members resolve through their parent here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA: str = reflection.SERVICE_NAME
V1_FILE = "grpc/reflection/v1/reflection.proto"


def _add_v1_file(pool: Any) -> None:
    """Put the v1 reflection file in `pool` (the v1alpha file, renamed), once."""
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = "grpc.reflection.v1"
    for message in proto.message_type:
        for fld in message.field:
            if fld.type_name.startswith(".grpc.reflection.v1alpha."):
                fld.type_name = ".grpc.reflection.v1." + fld.type_name.rsplit(".", 1)[1]
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.")
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.")
    pool.Add(proto)


class _Servicer(reflection.aio.ReflectionServicer):  # type: ignore[misc]
    """grpcio-reflection's servicer; a member symbol (method, field, enum value) resolves to the
    file of the service, message or enum that declares it."""

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        name = fully_qualified_name.lstrip(".")
        pool = self._pool
        try:
            pool.FindFileContainingSymbol(name)
        except KeyError:
            parent, _, member = name.rpartition(".")
            owner = _member_owner(pool, parent, member)
            if owner is not None:
                name = owner
        return super()._file_containing_symbol(request, name)


def _member_owner(pool: Any, parent: str, member: str) -> str | None:
    """`parent` when it declares `member` (a service's method, a message's field or oneof,
    an enum's value), else None."""
    lookups = (
        (pool.FindServiceByName, "methods_by_name"),
        (pool.FindMessageTypeByName, "fields_by_name"),
        (pool.FindMessageTypeByName, "oneofs_by_name"),
        (pool.FindEnumTypeByName, "values_by_name"),
    )
    for find, members in lookups:
        try:
            descriptor = find(parent)
        except KeyError:
            continue
        if member in getattr(descriptor, members):
            return parent
    return None


def enable_reflection(service_names: Sequence[str], server: Any) -> None:
    """Serve reflection (v1 and v1alpha) describing `service_names` plus both reflection names."""
    pool = descriptor_pool.Default()
    _add_v1_file(pool)
    servicer = _Servicer([*service_names, V1ALPHA, V1], pool)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        V1,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
