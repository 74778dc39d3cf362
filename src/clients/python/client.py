"""The async client: one channel, a token provider, retries for idempotent calls."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realtime.v1 import diagnostics_pb2_grpc

TokenProvider = str | Callable[[], str] | Callable[[], Awaitable[str]] | None
S = TypeVar("S")

# Methods that are safe to retry: read-only or idempotent by request_id.
# Services add theirs as they land ("realtime.v1.Service" or "realtime.v1.Service/Method").
IDEMPOTENT: list[str] = ["realtime.v1.DiagnosticsService", "grpc.health.v1.Health/Check"]
IDEMPOTENT += ["realtime.v1.TextService/FixText", "realtime.v1.TextService/FixTextBatch"]
IDEMPOTENT += [
    f"realtime.v1.NotificationService/{m}"
    for m in ("ListNotifications", "MarkRead", "GetChannelStats", "GetPresence")
]
IDEMPOTENT += [
    f"{s}/{m}"
    for s in ("realtime.v1.AnalysisService", "google.longrunning.Operations")
    for m in ("GetOperation", "ListOperations", "WaitOperation", "CancelOperation")
] + ["realtime.v1.AnalysisService/WatchAnalysis"]
IDEMPOTENT += [
    f"realtime.v1.CollaborationService/{m}" for m in ("GetDocument", "ListDocuments", "ShareDocument")
]


def service_config(idempotent: Iterable[str] = IDEMPOTENT) -> str:
    names = []
    for entry in idempotent:
        service, _, method = entry.partition("/")
        names.append({"service": service, **({"method": method} if method else {})})
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": names,
                    "retryPolicy": {
                        "maxAttempts": 4,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


class _TokenMetadata:
    """Adds `authorization: Bearer <token>` to every call (a client interceptor)."""

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    async def token(self) -> str | None:
        p = self._provider
        if p is None or isinstance(p, str):
            return p
        value = p()
        if inspect.isawaitable(value):
            value = await value
        return value  # type: ignore[return-value]

    async def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        token = await self.token()
        if token is None:
            return details
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata["authorization"] = f"Bearer {token}"
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


def _interceptors(tokens: _TokenMetadata) -> list[grpc.aio.ClientInterceptor]:
    class UU(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        async def intercept_unary_unary(self, cont: Any, details: Any, request: Any) -> Any:
            return await cont(await tokens._details(details), request)

    class US(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
        async def intercept_unary_stream(self, cont: Any, details: Any, request: Any) -> Any:
            return await cont(await tokens._details(details), request)

    class SU(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
        async def intercept_stream_unary(self, cont: Any, details: Any, requests: Any) -> Any:
            return await cont(await tokens._details(details), requests)

    class SS(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
        async def intercept_stream_stream(self, cont: Any, details: Any, requests: Any) -> Any:
            return await cont(await tokens._details(details), requests)

    return [UU(), US(), SU(), SS()]


class Client:
    """An async connection to a hub.

    `token` is a string, a callable returning one (called before every call, so
    it can refresh), an async callable, or None (health and reflection only).

    TLS: `tls=True` trusts the system roots; `ca_file` (PEM) trusts that CA instead and implies
    TLS. `cert_file` + `key_file` (PEM) present a client certificate to a hub that requires one
    (mutual TLS); such a hub may map the certificate to a user, so `token` can then be None.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        token: TokenProvider = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        options: Iterable[tuple[str, Any]] = (),
    ) -> None:
        self.target = target
        self._tokens = _TokenMetadata(token)
        opts = [
            ("grpc.enable_retries", 1),
            ("grpc.service_config", service_config()),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            *options,
        ]
        interceptors = _interceptors(self._tokens)
        if (cert_file is None) != (key_file is None):
            raise ValueError("give cert_file and key_file together (the client certificate and its key)")
        if ca_file is not None:
            root_certificates = Path(ca_file).read_bytes()
        if tls or root_certificates is not None or cert_file is not None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=root_certificates,
                private_key=Path(key_file).read_bytes() if key_file is not None else None,
                certificate_chain=Path(cert_file).read_bytes() if cert_file is not None else None,
            )
            self.channel = grpc.aio.secure_channel(target, creds, options=opts, interceptors=interceptors)
        else:
            self.channel = grpc.aio.insecure_channel(target, options=opts, interceptors=interceptors)
        self.diagnostics = diagnostics_pb2_grpc.DiagnosticsServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def stub(self, stub_class: Callable[[grpc.aio.Channel], S]) -> S:
        """A generated stub on this client's channel, e.g. `client.stub(TextServiceStub)`."""
        return stub_class(self.channel)

    async def token(self) -> str | None:
        return await self._tokens.token()

    async def check_health(self, service: str = "", timeout: float = 5.0) -> str:
        """The serving status name ("SERVING", "NOT_SERVING", ...) of `service` ("" = the hub)."""
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
