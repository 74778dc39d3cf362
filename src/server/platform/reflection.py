"""Server reflection under both names clients ask for.

grpcio-reflection only ships `grpc.reflection.v1alpha`; grpcurl, buf curl, Postman and the Go and
Java tooling try `grpc.reflection.v1` first (some newer tools only that). The two protocols have the
same messages field for field, so the v1 method is the v1alpha servicer under the v1 name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA: str = reflection.SERVICE_NAME


def enable_reflection(service_names: Sequence[str], server: Any) -> None:
    """Serve reflection (v1 and v1alpha) describing `service_names` plus itself."""
    servicer = reflection.aio.ReflectionServicer([*service_names, V1ALPHA])
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
