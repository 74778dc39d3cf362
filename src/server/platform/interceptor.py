"""The one server interceptor: authentication, limits, metrics and the call log.

All cross-cutting work happens in a single wrapper around each handler, so a
call pays for one extra frame, not one per concern. Expected errors
(`HubError`) become rich statuses here; anything else becomes INTERNAL with the
traceback logged, never sent to the client.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from . import tracing
from .auth import Principal, TokenVerifier, bind_principal
from .errors import HubError, going_away, invalid_argument, unauthenticated
from .limits import RateLimiter, StreamLimiter
from .logs import call_log
from .metrics import MethodMetrics, Metrics
from .shared_limits import SharedLimits
from .shutdown import StreamMark, bind_stream_mark
from .status import abort
from .tls import SubjectMap, peer_certificate

log = logging.getLogger("realtime.calls")

OPEN_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)

_TOKEN_EXPIRED = "token expired during the stream; reconnect with a fresh token"


class _Malformed:
    """What `_tolerant` hands over instead of a message when the request bytes did not parse."""

    __slots__ = ("error",)

    def __init__(self, error: HubError) -> None:
        self.error = error


def _tolerant(deserialize: Callable[[bytes], Any] | None, method: str) -> Callable[[bytes], Any] | None:
    """The method's deserializer, made to return `_Malformed` instead of raising.

    Left to grpc, bytes that are not the method's message become UNKNOWN ("Unexpected
    DecodeError") on unary calls and an INTERNAL failure inside stream handlers. Checked in the
    call wrapper, after authentication, they are INVALID_ARGUMENT with reason MALFORMED_REQUEST.
    """
    if deserialize is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception as exc:
            detail = str(exc).rsplit(":", 1)[-1].strip() or type(exc).__name__
            return _Malformed(
                invalid_argument(
                    f"request to {method} is not a valid message: {detail}",
                    [("request", "the bytes do not parse as this method's request message")],
                    reason="MALFORMED_REQUEST",
                )
            )

    return parse


def _checked(request: Any) -> Any:
    if type(request) is _Malformed:
        raise request.error
    return request


class HubInterceptor:
    """The hub's call wrapper (authentication, limits, metrics, tracing, the call log). Not a
    grpc.aio ServerInterceptor: `HubServer` applies it once per method at registration."""

    def __init__(
        self,
        verifier: TokenVerifier,
        rate: RateLimiter,
        streams: StreamLimiter,
        metrics: Metrics,
        subjects: SubjectMap | None = None,
        shared: SharedLimits | None = None,
    ) -> None:
        self._verifier = verifier
        self._subjects = subjects
        # Set when processes share a broker: limits hold across them (one process: in memory).
        self._shared = shared
        self._rate = rate
        self._streams = streams
        self._metrics = metrics
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrapped(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """`handler` inside the hub's call wrapper, made once per method (the caller is
        authenticated inside the wrapper, per call)."""
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[method] = (handler, self._wrap(handler, method))
        return cached[1]

    def authenticate(self, context: Any, value: str | None) -> Principal:
        """The caller, from the `authorization` metadata value (None: none was sent)."""
        try:
            if value is None and self._subjects is not None:
                return self._by_certificate(context)
            return self._verifier.verify_header(value)
        except HubError as err:
            self._metrics.auth_failures.labels(err.message.split(":")[0][:40]).inc()
            raise

    def _by_certificate(self, context: Any) -> Principal:
        """No bearer token under mutual TLS: the client certificate's subject, if it is mapped
        (--tls-client-subjects). A token, when sent, always decides instead."""
        assert self._subjects is not None
        cert = peer_certificate(context)
        principal = self._subjects.principal_for(cert) if cert is not None else None
        if principal is None:
            shown = ", ".join(cert.names[:4]) if cert else "none (no client certificate on this call)"
            raise unauthenticated(
                "missing authorization metadata and the client certificate's subjects "
                f"({shown}) are not mapped to a user by --tls-client-subjects; send "
                "'authorization: Bearer <JWT>' or use a mapped certificate"
            )
        return principal

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        service = method[1:].split("/", 1)[0]
        req_stream, resp_stream = handler.request_streaming, handler.response_streaming
        grpc_type = (
            ("bidi_stream" if resp_stream else "client_stream")
            if req_stream
            else ("server_stream" if resp_stream else "unary")
        )
        spec = _CallSpec(self, self._metrics.method(method, grpc_type), method, service)
        spec.streaming = req_stream or resp_stream
        # A request that does not parse arrives as `_Malformed`; `_checked` raises its error in the call.
        parse = _tolerant(handler.request_deserializer, method)

        if not req_stream and not resp_stream:
            inner_uu = handler.unary_unary
            shared = self._shared

            # The most frequent call: `_Call`'s steps inline, no context manager, and an await
            # only where there is something to wait for (a refusal, limits in the broker).
            async def unary_unary(request: Any, context: Any) -> Any:
                call = _Call(spec, context)
                refused = call.admit()
                if refused is not None:
                    await call._finish_with(refused)
                if call.principal is not None and shared is not None:
                    await call.admit_shared()
                call.received = 1
                try:
                    response = await inner_uu(_checked(request), context)
                except BaseException as exc:
                    await call.failed(exc)
                    raise
                call.sent = 1
                call._end()
                return response

            return grpc.unary_unary_rpc_method_handler(unary_unary, parse, handler.response_serializer)

        if not resp_stream:
            inner_su = handler.stream_unary

            async def stream_unary(requests: Any, context: Any) -> Any:
                async with _Call(spec, context) as call:
                    response = await inner_su(call.count(requests), context)
                    call.sent = 1
                    return response

            return grpc.stream_unary_rpc_method_handler(stream_unary, parse, handler.response_serializer)

        inner = handler.stream_stream if req_stream else handler.unary_stream
        factory = (
            grpc.stream_stream_rpc_method_handler if req_stream else grpc.unary_stream_rpc_method_handler
        )

        if inspect.isasyncgenfunction(inner):

            async def stream_gen(request: Any, context: Any) -> AsyncIterator[Any]:
                async with _Call(spec, context) as call:
                    request = call.count(request) if req_stream else _checked(request)
                    call.received += 0 if req_stream else 1
                    async for response in inner(request, context):
                        call.sent += 1
                        if call.span is not None:
                            call.tick()
                        yield response

            return factory(stream_gen, parse, handler.response_serializer)

        # Handlers that write with context.write (grpc's own health Watch) stay coroutines:
        # grpc does not allow mixing yield and write.
        async def stream_coro(request: Any, context: Any) -> Any:
            async with _Call(spec, context) as call:
                request = call.count(request) if req_stream else _checked(request)
                return await inner(request, context)

        return factory(stream_coro, parse, handler.response_serializer)


class _CallSpec:
    """What is fixed for a method and caller before the call starts."""

    __slots__ = ("hub", "method", "metrics", "open", "service", "streaming")

    def __init__(self, hub: HubInterceptor, metrics: MethodMetrics, method: str, service: str) -> None:
        self.hub = hub
        self.metrics = metrics
        self.method = method
        self.service = service
        self.open = service in OPEN_SERVICES  # health and reflection need no token
        self.streaming = False


class _CountedRequests:
    """A stream's requests as the handler sees them (see `_Call.count`).

    A class, not an async generator: every open stream holds one, and an async generator
    costs a frame plus an entry in the event loop's weak set of generators."""

    __slots__ = ("_call", "_requests")

    def __init__(self, call: _Call, requests: AsyncIterator[Any]) -> None:
        self._call = call
        self._requests = requests

    def __aiter__(self) -> _CountedRequests:
        return self

    async def __anext__(self) -> Any:
        request = await self._requests.__anext__()
        call = self._call
        call.received += 1
        if call.span is not None:
            call.tick()
        if type(request) is _Malformed:
            raise request.error
        return request


class _Call:
    """One call's lifetime: checks on entry; status, metrics and the log line on exit."""

    __slots__ = (
        "_ended",
        "batch_in",
        "batch_out",
        "batch_start",
        "code",
        "context",
        "lease",
        "mark",
        "opened",
        "principal",
        "received",
        "sent",
        "span",
        "spec",
        "start",
        "timer",
        "token_expired",
        "trace",
        "user",
    )

    def __init__(self, spec: _CallSpec, context: Any) -> None:
        self.spec = spec
        self.context = context
        self.received = 0
        self.sent = 0
        self.opened = False
        self.token_expired = False
        self.timer: asyncio.TimerHandle | None = None
        self.start = time.perf_counter()
        self.code = "OK"
        self._ended = False
        self.principal: Principal | None = None
        self.user = ""
        self.mark: StreamMark | None = None
        self.trace = ""
        self.span: Any = None
        self.lease: str | None = None

    async def __aenter__(self) -> _Call:
        err = self.admit()
        if err is not None:
            await self._finish_with(err)
        spec = self.spec
        if self.principal is not None and spec.hub._shared is not None:
            await self.admit_shared()
        if spec.streaming:
            self.mark = bind_stream_mark()
            self.opened = True
            spec.hub._metrics.active_streams.labels(spec.service).inc()
            if self.principal is not None:
                self._arm_expiry(self.principal)
        return self

    def admit(self) -> HubError | None:
        """The checks that need no await: metadata, span, authentication and the in-process
        limits. The refusal to end the call with, or None (then `admit_shared` when the
        limits are shared)."""
        spec = self.spec
        hub = spec.hub
        hub._metrics.call_started(spec.metrics)
        authorization = self._read_metadata()
        if tracing.spans is not None:
            self._start_span()  # before authentication: refused calls show in the trace too
        elif self.trace:
            tracing.bind(self.trace)
        if spec.open:
            return None
        try:
            principal = self.principal = hub.authenticate(self.context, authorization)
        except HubError as err:
            return err
        self.user = principal.subject
        bind_principal(principal)
        if self.span is not None:
            self.span.set_attribute("enduser.id", self.user)
        if hub._shared is None:
            try:
                hub._rate.acquire(self.user)
                if spec.streaming:
                    hub._streams.open(self.user)
            except HubError as err:
                hub._metrics.limited.labels("streams" if "streams" in err.message else "rate").inc()
                return err
        return None

    async def admit_shared(self) -> None:
        """The limits processes share through the broker (--workers, replicas)."""
        spec = self.spec
        shared = spec.hub._shared
        assert shared is not None
        try:
            await shared.acquire(self.user)
            if spec.streaming:
                self.lease = await shared.open_stream(self.user)
        except HubError as err:
            spec.hub._metrics.limited.labels("streams" if "streams" in err.message else "rate").inc()
            await self._finish_with(err)

    def _read_metadata(self) -> str | None:
        """The call's authorization value (the first one counts); records its traceparent."""
        authorization = None
        for key, value in self.context.invocation_metadata() or ():
            if key == "authorization":
                if authorization is None:  # the first one counts, as before
                    authorization = value
            elif key == "traceparent":
                self.trace = tracing.parse_traceparent(value)
        return authorization

    def _start_span(self) -> None:
        spans = tracing.spans
        assert spans is not None
        self.span = spans.start_call(self.spec.method, self.trace)
        own = spans.traceparent_of(self.span)
        self.trace = self.trace or own  # the log line names the trace the span belongs to
        tracing.bind(own)  # work this call hands over continues from the call's span
        self.batch_start = tracing.now_ns()
        self.batch_in = self.batch_out = 0

    def tick(self) -> None:
        """A stream message under tracing: every BATCH messages close a batch span."""
        if self.received + self.sent - self.batch_in - self.batch_out >= tracing.BATCH:
            self._close_batch()

    def _close_batch(self) -> None:
        spans = tracing.spans
        received, sent = self.received - self.batch_in, self.sent - self.batch_out
        if spans is None or not (received or sent):
            return
        spans.batch(self.span, self.spec.method, self.batch_start, received, sent)
        self.batch_start = tracing.now_ns()
        self.batch_in, self.batch_out = self.received, self.sent

    def _end_span(self) -> None:
        if self.spec.streaming:
            self._close_batch()
        if tracing.spans is not None:
            tracing.spans.end_call(self.span, self.code, self.received, self.sent)

    def _arm_expiry(self, principal: Principal) -> None:
        # A long stream ends with UNAUTHENTICATED when its token expires; the
        # client reconnects with a fresh token (gRPC cannot refresh metadata mid-call).
        # A bound method and an argument, not a closure: every open stream holds this timer.
        delay = max(principal.expires_at - time.time(), 0.0)
        self.timer = asyncio.get_running_loop().call_later(delay, self._expire, asyncio.current_task())

    def _expire(self, task: asyncio.Task[Any] | None) -> None:
        self.token_expired = True
        if task is not None:
            task.cancel()

    def count(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The handler's request iterator: counts messages; one that did not parse raises
        INVALID_ARGUMENT out of the iterator, ending the stream with that status."""
        return _CountedRequests(self, requests)

    async def _finish_with(self, err: HubError) -> None:
        self.code = err.code.name
        self._end()
        await abort(self.context, err)

    async def failed(self, exc: BaseException) -> None:
        """A unary call's handler raised `exc`: its status (`_fail`), then metrics and the log."""
        try:
            if not isinstance(exc, GeneratorExit):
                await self._fail(exc)
        finally:
            self._end()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self.timer is not None:
            self.timer.cancel()
        try:
            if exc is None and self.mark is not None and self.mark.going_away:
                await self._fail(going_away())  # one rule: a stream shutdown ended is UNAVAILABLE
            if exc is None or isinstance(exc, GeneratorExit):
                return False
            await self._fail(exc)
            return False
        finally:
            self._end()

    async def _fail(self, exc: BaseException) -> None:
        """Map an exception to the call's final status (the one place that does)."""
        context = self.context
        if isinstance(exc, HubError):
            self.code = exc.code.name
            await abort(context, exc)
        if isinstance(exc, grpc.aio.AbortError):
            code = context.code()
            self.code = code.name if code is not None else "UNKNOWN"
            return
        if isinstance(exc, asyncio.CancelledError):
            if self.token_expired:
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                self.code = "UNAUTHENTICATED"
                await abort(context, unauthenticated(_TOKEN_EXPIRED))
            self.code = "CANCELLED"
            return
        self.code = "INTERNAL"
        log.exception("unhandled error in %s", self.spec.method, extra={"user": self.user})
        await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        spec = self.spec
        hub = spec.hub
        elapsed = time.perf_counter() - self.start
        hub._metrics.call_ended(spec.metrics, self.code, elapsed, self.received, self.sent)
        if self.opened:
            hub._metrics.active_streams.labels(spec.service).dec()
            if self.principal is not None and hub._shared is None:
                hub._streams.close(self.user)
            elif self.lease is not None and hub._shared is not None:
                hub._shared.close_stream(self.lease)
        if self.span is not None:
            self._end_span()
        call_log.finished(
            self.user,
            spec.method,
            self.code,
            round(elapsed * 1000, 3),
            self.received,
            self.sent,
            tracing.trace_id_of(self.trace),
        )
