"""W3C trace context on every call, OpenTelemetry spans when a collector is configured.

Always (no setting, near-zero cost): the call wrapper reads the `traceparent` metadata (the
gateway forwards the browser's HTTP header as that metadata), logs its trace id on the call's
log line and makes it current (a context variable) so work the call hands to the broker or to a
background job can carry it (`current_traceparent()`), and that work can continue the trace
(`background_span`). No span object is created and opentelemetry is not imported.

With `--otlp-endpoint` (`enable()`): the call wrapper opens a SERVER span per call, a child of the
caller's `traceparent` when one came; streams also get a child span per batch of messages
(`BATCH` messages, or the rest at the end). Spans go to the collector over OTLP/gRPC in batches
from a background thread. Background runs open a span in the submitting call's trace, linked
to it (`background_span`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

log = logging.getLogger("realtime.tracing")

# version-traceid-parentid-flags, lower-case hex (https://www.w3.org/TR/trace-context/).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# Messages per stream batch span.
BATCH = 100

_current: contextvars.ContextVar[str] = contextvars.ContextVar("realtime_traceparent", default="")


def parse_traceparent(value: object) -> str:
    """A valid `traceparent` value, normalised to version 00; "" for anything else (the W3C rule:
    an invalid header is ignored, the call goes on without a parent)."""
    if not isinstance(value, str) or len(value) > 512:
        return ""
    m = _TRACEPARENT.match(value.strip())
    if m is None:
        return ""
    version, trace_id, span_id, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return ""
    return f"00-{trace_id}-{span_id}-{flags}"


def trace_id_of(traceparent: str) -> str:
    return traceparent[3:35] if traceparent else ""


def bind(traceparent: str) -> None:
    """Make `traceparent` the current call's trace context (the call wrapper does this)."""
    _current.set(traceparent)


def current_traceparent() -> str:
    """The trace context of the current call ("" outside a traced call): the call's own span
    when spans are on, else the caller's `traceparent`. Work handed to the broker or a
    background job stores it and continues the trace with `background_span`."""
    return _current.get()


class _Spans:
    """The OpenTelemetry side, built by `enable()` (the only place that imports opentelemetry)."""

    def __init__(self, processor: Any) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = TracerProvider(resource=Resource.create({"service.name": "realtime-hub"}))
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("realtime.hub")
        self._propagator = TraceContextTextMapPropagator()
        self._server = SpanKind.SERVER
        self._internal = SpanKind.INTERNAL
        self._link = Link
        self._status = Status
        self._error = StatusCode.ERROR

    def _parent(self, traceparent: str) -> Any:
        return self._propagator.extract({"traceparent": traceparent}) if traceparent else None

    def traceparent_of(self, span: Any) -> str:
        ctx = span.get_span_context()
        return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"

    def start_call(self, method: str, traceparent: str) -> Any:
        service, _, name = method[1:].partition("/")
        return self.tracer.start_span(
            method[1:],
            context=self._parent(traceparent),
            kind=self._server,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )

    def end_call(self, span: Any, code: str, received: int, sent: int) -> None:
        span.set_attribute("rpc.grpc.status_code", code)
        span.set_attribute("realtime.messages_received", received)
        span.set_attribute("realtime.messages_sent", sent)
        if code not in ("OK", "CANCELLED"):
            span.set_status(self._status(self._error, code))
        span.end()

    def batch(self, call_span: Any, method: str, start_ns: int, received: int, sent: int) -> None:
        """A child span covering one batch of a stream's messages (start_ns until now)."""
        from opentelemetry import trace

        span = self.tracer.start_span(
            f"{method[1:]} messages",
            context=trace.set_span_in_context(call_span),
            kind=self._internal,
            start_time=start_ns,
            attributes={"realtime.messages_received": received, "realtime.messages_sent": sent},
        )
        span.end()

    @contextlib.contextmanager
    def background(self, name: str, traceparent: str, attributes: Mapping[str, Any]) -> Iterator[None]:
        parent = self._parent(traceparent)
        links = []
        if parent is not None:
            from opentelemetry import trace

            links.append(
                self._link(trace.get_current_span(parent).get_span_context(), {"realtime.link": "origin"})
            )
        with self.tracer.start_as_current_span(
            name, context=parent, kind=self._internal, links=links, attributes=dict(attributes)
        ) as span:
            token = _current.set(self.traceparent_of(span))
            try:
                yield
            finally:
                _current.reset(token)

    def handed_over(self, name: str, traceparent: str, attributes: Mapping[str, Any]) -> None:
        """A zero-length span in `traceparent`'s trace (a delivery of work that call handed over)."""
        with self.background(name, traceparent, attributes):
            pass

    def start_child(self, name: str, parent: Any, attributes: Mapping[str, Any]) -> Any:
        """An INTERNAL span under `parent`, a span or a traceparent ("": a new trace). The caller
        ends it (`span.end()`); work inside a service's own steps (a conversation's turns)."""
        from opentelemetry import trace

        context = self._parent(parent) if isinstance(parent, str) else trace.set_span_in_context(parent)
        return self.tracer.start_span(name, context=context, kind=self._internal, attributes=dict(attributes))

    def fail(self, span: Any, message: str) -> None:
        """Mark `span` as failed (its status; the caller still ends it)."""
        span.set_status(self._status(self._error, message))

    def shutdown(self) -> None:
        self.provider.shutdown()


spans: _Spans | None = None


def enable(endpoint: str = "", exporter: Any = None) -> None:
    """Turn spans on: to an OTLP/gRPC collector at `endpoint`, or (tests) to `exporter`, which is
    then fed synchronously (SimpleSpanProcessor)."""
    global spans
    if exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        processor: Any = SimpleSpanProcessor(exporter)
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        insecure = endpoint.startswith("http://")
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure))
    if spans is not None:
        spans.shutdown()
    spans = _Spans(processor)
    log.info("tracing on", extra={"otlp_endpoint": endpoint or type(exporter).__name__})


def disable() -> None:
    """Flush and stop spans (the hub's stop does this)."""
    global spans
    if spans is not None:
        current, spans = spans, None
        current.shutdown()


@contextlib.contextmanager
def background_span(name: str, traceparent: str, **attributes: Any) -> Iterator[None]:
    """Continue the trace of the call that handed over this work (a job run, a delivery):
    a span in that trace, linked to the handing-over span, when spans are on; otherwise only
    the trace context is made current (for the log and any further hand-over)."""
    if spans is not None:
        with spans.background(name, traceparent, attributes):
            yield
        return
    token = _current.set(traceparent)
    try:
        yield
    finally:
        _current.reset(token)


TRACE_META = "tp"  # the publication meta key that carries the publishing call's traceparent


def publication_meta(meta: dict[str, str]) -> dict[str, str]:
    """`meta` plus the current trace context, so the publication's deliveries join the trace."""
    traceparent = _current.get()
    if traceparent:
        meta[TRACE_META] = traceparent
    return meta


def delivered(meta: Mapping[str, str], name: str, **attributes: Any) -> None:
    """Record the delivery of a publication in its publisher's trace (only when spans are on:
    callers check `tracing.spans is not None` first, keeping the hot path a single test)."""
    traceparent = meta.get(TRACE_META, "")
    if spans is not None and traceparent:
        spans.handed_over(name, traceparent, attributes)


def now_ns() -> int:
    return time.time_ns()
