"""Reflection resolves every symbol a client asks for, on v1 and v1alpha; health List answers.

What grpcurl's `describe`, buf curl and grpcio-reflection's descriptor database send: every
service, every method (`realtime.v1.TextService.FixText`), every message and enum of the
contracts, and the reflection services themselves.
"""

from __future__ import annotations

import asyncio
import json

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from realtime.server.testing import TestHub

from .test_buf_curl import buf_curl

REFLECTION = ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")


def describe_everything(target: str) -> dict[str, int]:
    """Walk what reflection lists with grpcio-reflection's client (v1alpha), as grpcurl would."""
    counts = {"services": 0, "methods": 0, "messages": 0, "enums": 0}
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = descriptor_pool.DescriptorPool(database)
        services = database.get_services()
        assert set(REFLECTION) <= set(services), services
        assert "grpc.health.v1.Health" in services
        for name in services:
            service = pool.FindServiceByName(name)
            counts["services"] += 1
            for method in service.methods:
                # A method resolves by its full name (grpcurl `describe realtime.v1.TextService.FixText`).
                assert pool.FindMethodByName(method.full_name).full_name == method.full_name
                database.FindFileContainingSymbol(method.full_name)
                counts["methods"] += 1
            for message in _messages(service.file):
                database.FindFileContainingSymbol(message.full_name)
                assert pool.FindMessageTypeByName(message.full_name) is message
                for fld in message.fields:
                    database.FindFileContainingSymbol(fld.full_name)
                counts["messages"] += 1
            for enum in _enums(service.file):
                database.FindFileContainingSymbol(enum.full_name)
                for value in enum.values:
                    # A value is scoped beside its enum: `pkg.ENUM_VALUE`, `pkg.Message.ENUM_VALUE`.
                    scope = enum.full_name.rpartition(".")[0]
                    database.FindFileContainingSymbol(f"{enum.full_name}.{value.name}")
                    assert scope
                counts["enums"] += 1
    return counts


def _messages(file):  # type: ignore[no-untyped-def]
    pending = list(file.message_types_by_name.values())
    while pending:
        message = pending.pop()
        pending.extend(message.nested_types)
        yield message


def _enums(file):  # type: ignore[no-untyped-def]
    yield from file.enum_types_by_name.values()
    for message in _messages(file):
        yield from message.enum_types


async def test_grpcio_reflection_resolves_every_service_method_message_and_enum(hub: TestHub) -> None:
    counts = await asyncio.to_thread(describe_everything, hub.target)
    assert counts["services"] >= 10 and counts["methods"] >= 40, counts
    assert counts["messages"] >= 50 and counts["enums"] >= 5, counts


def ask(
    target: str, method: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    with grpc.insecure_channel(target) as channel:
        call = channel.stream_stream(
            method,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        return next(iter(call(iter([request]), timeout=10)))


async def test_method_and_reflection_symbols_on_v1_and_v1alpha(hub: TestHub) -> None:
    for service in REFLECTION:
        method = f"/{service}/ServerReflectionInfo"
        for symbol, file in (
            ("realtime.v1.TextService.FixText", "realtime/v1/text.proto"),
            ("realtime.v1.TextService", "realtime/v1/text.proto"),
            ("grpc.health.v1.Health.List", "grpc_health/v1/health.proto"),
            ("grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"),
            (
                "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
                "grpc/reflection/v1/reflection.proto",
            ),
            ("grpc.reflection.v1alpha.ServerReflection", "grpc_reflection/v1alpha/reflection.proto"),
        ):
            request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
            reply = await asyncio.to_thread(ask, hub.target, method, request)
            assert reply.HasField("file_descriptor_response"), (service, symbol, reply.error_response)
            from google.protobuf import descriptor_pb2

            names = []
            for raw in reply.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                names.append(proto.name)
            assert file in names, (symbol, names)
        for unknown in ("realtime.v1.TextService.NoSuchMethod", "realtime.v1.Nope", "", "..."):
            request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=unknown)
            reply = await asyncio.to_thread(ask, hub.target, method, request)
            assert reply.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0], unknown
        listed = await asyncio.to_thread(
            ask, hub.target, method, reflection_pb2.ServerReflectionRequest(list_services="")
        )
        names = {s.name for s in listed.list_services_response.service}
        assert set(REFLECTION) <= names


async def test_health_list_returns_every_registered_status(hub: TestHub) -> None:
    async with grpc.aio.insecure_channel(hub.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(3):  # twice and more: a snapshot, not a one-shot
            reply = await health.List(health_pb2.HealthListRequest(), timeout=5)
            statuses = {name: s.status for name, s in reply.statuses.items()}
            assert statuses[""] == health_pb2.HealthCheckResponse.SERVING
            for service in hub.hub.ctx.services:  # type: ignore[union-attr]
                assert statuses[service] == health_pb2.HealthCheckResponse.SERVING, service
        await hub.hub.health.mark_problem("broker", True)
        reply = await health.List(health_pb2.HealthListRequest(), timeout=5)
        assert {s.status for s in reply.statuses.values()} == {health_pb2.HealthCheckResponse.NOT_SERVING}
        await hub.hub.health.mark_problem("broker", False)


async def test_buf_curl_lists_and_describes_over_both_reflection_protocols(hub: TestHub) -> None:
    for protocol in ("grpc-v1", "grpc-v1alpha"):
        code, out, err = await buf_curl(
            "--reflect-protocol", protocol, "--list-methods", f"http://{hub.target}"
        )
        assert code == 0, err
        methods = set(out.split())
        assert {
            "realtime.v1.TextService/FixText",
            "grpc.health.v1.Health/List",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        } <= methods, methods
        code, out, err = await buf_curl(
            "--reflect-protocol", protocol, f"http://{hub.target}/grpc.health.v1.Health/List"
        )
        assert code == 0, err
        assert json.loads(out)["statuses"][""]["status"] == "SERVING"
