"""Authentication as users meet it: every bad token is UNAUTHENTICATED with ErrorInfo."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from realtime.client import Client
from realtime.server.platform.auth import mint_token
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import diagnostics_pb2

WHO = diagnostics_pb2.GetIdentityRequest()


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)
    assert status is not None, "rich status details missing"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in status details")


async def refused(client: Client) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.diagnostics.GetIdentity(WHO, timeout=5)
    err = caught.value
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(err)
    assert (info.reason, info.domain) == ("AUTHENTICATION_FAILED", "realtime")
    return err


async def test_valid_token_reaches_handler_with_identity(hub: TestHub) -> None:
    async with hub.client("alice", roles=["admin"]) as client:
        who = await client.diagnostics.GetIdentity(WHO, timeout=5)
    assert who.subject == "alice"
    assert list(who.roles) == ["admin"]
    assert who.expires_at.seconds > time.time()


async def test_missing_header(hub: TestHub) -> None:
    async with hub.client(None) as client:
        err = await refused(client)
    assert "missing authorization" in (err.details() or "")


@pytest.mark.parametrize("value", ["Basic abc", "Bearer", "Bearer    ", "token-without-scheme"])
async def test_malformed_header(hub: TestHub, value: str) -> None:
    async with Client(hub.target) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.diagnostics.GetIdentity(WHO, metadata=[("authorization", value)], timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value).reason == "AUTHENTICATION_FAILED"


async def test_expired_token(hub: TestHub) -> None:
    token = mint_token(hub.secret, "alice", ttl=60, now=time.time() - 3600)
    async with Client(hub.target, token=token) as client:
        err = await refused(client)
    assert "expired" in (err.details() or "")


async def test_alg_none_is_refused(hub: TestHub) -> None:
    token = jwt.encode(
        {"sub": "mallory", "exp": int(time.time()) + 600, "roles": ["admin"]}, None, algorithm="none"
    )
    async with Client(hub.target, token=token) as client:
        await refused(client)


async def test_wrong_signature(hub: TestHub) -> None:
    token = mint_token(b"another-secret-that-is-long-enough-for-hs256!!", "alice")
    async with Client(hub.target, token=token) as client:
        err = await refused(client)
    assert "signature" in (err.details() or "")


async def test_garbage_token(hub: TestHub) -> None:
    async with Client(hub.target, token="not.a.jwt") as client:
        await refused(client)


async def test_missing_sub_claim(hub: TestHub) -> None:
    token = jwt.encode({"exp": int(time.time()) + 600}, hub.secret, algorithm="HS256")
    async with Client(hub.target, token=token) as client:
        await refused(client)


async def test_wrong_audience_and_issuer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path, jwt_audience="hub", jwt_issuer="https://issuer.example") as h:
        good = mint_token(h.secret, "alice", audience="hub", issuer="https://issuer.example")
        async with Client(h.target, token=good) as client:
            assert (await client.diagnostics.GetIdentity(WHO, timeout=5)).subject == "alice"
        for bad in (
            mint_token(h.secret, "alice", audience="other", issuer="https://issuer.example"),
            mint_token(h.secret, "alice", issuer="https://issuer.example"),
            mint_token(h.secret, "alice", audience="hub", issuer="https://evil.example"),
        ):
            async with Client(h.target, token=bad) as client:
                await refused(client)


async def test_rs256_happy_path_and_hs256_confusion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub = tmp_path / "pub.pem"
    pub.write_bytes(public_pem)
    async with running_hub(tmp_path, jwt_secret_file=None, jwt_public_key_file=pub) as h:
        token = jwt.encode(
            {"sub": "carol", "exp": int(time.time()) + 600, "roles": "admin ops"}, key, "RS256"
        )
        async with Client(h.target, token=token) as client:
            who = await client.diagnostics.GetIdentity(WHO, timeout=5)
        assert who.subject == "carol"
        assert sorted(who.roles) == ["admin", "ops"]
        # The classic key-confusion attack: HS256 signed with the public key must fail.
        forged = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 600}, "x" * 64, "HS256")
        async with Client(h.target, token=forged) as client:
            await refused(client)


async def test_health_and_reflection_need_no_token(hub: TestHub) -> None:
    async with hub.client(None) as client:
        reply = await client.health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)

        async def ask():  # type: ignore[no-untyped-def]
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = []
        async for answer in stub.ServerReflectionInfo(ask(), timeout=5):
            names = [s.name for s in answer.list_services_response.service]
    assert "realtime.v1.DiagnosticsService" in names
    assert "grpc.health.v1.Health" in names


async def test_reflection_v1_is_served_too(hub: TestHub) -> None:
    """Tools that ask grpc.reflection.v1 first (grpcurl, buf curl, Postman) get an answer, tokenless."""
    async with hub.client(None) as client:
        info = client.channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )

        async def ask():  # type: ignore[no-untyped-def]
            yield reflection_pb2.ServerReflectionRequest(list_services="")
            yield reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="realtime.v1.DiagnosticsService"
            )

        answers = [answer async for answer in info(ask(), timeout=5)]
    assert "realtime.v1.DiagnosticsService" in [s.name for s in answers[0].list_services_response.service]
    assert answers[1].file_descriptor_response.file_descriptor_proto
