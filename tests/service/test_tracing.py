"""W3C traceparent on calls, the gateway and analysis jobs; spans in the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from realtime.server.platform import tracing
from realtime.server.testing import running_hub
from realtime.v1 import analysis_pb2_grpc, diagnostics_pb2
from tests.service.analysis_helpers import SERVICES as ANALYSIS_SERVICES
from tests.service.analysis_helpers import text_request
from tests.service.gateway_wire import DIAG, SERVICES, grpc_web
from tests.service.test_gateway_sse import events, sse_url

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
WHO = diagnostics_pb2.GetIdentityRequest()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter=exporter)
    yield exporter
    tracing.disable()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def trace_hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def parent_hex(span: ReadableSpan) -> str:
    assert span.parent is not None
    return f"{span.parent.span_id:016x}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TRACEPARENT, TRACEPARENT),
        (TRACEPARENT.upper(), ""),  # W3C: lower-case hex only
        (f"00-{'0' * 32}-{PARENT}-01", ""),
        (f"00-{TRACE}-{'0' * 16}-01", ""),
        (f"ff-{TRACE}-{PARENT}-01", ""),
        (f"00-{TRACE}-{PARENT}-01-extra", ""),
        (f"01-{TRACE}-{PARENT}-01-future", f"00-{TRACE}-{PARENT}-01"),  # a later version, read as 00
        ("garbage", ""),
        ("x" * 10_000, ""),
        (b"bytes", ""),
    ],
)
def test_parse_traceparent(value: object, expected: str) -> None:
    assert tracing.parse_traceparent(value) == expected


async def test_call_span_continues_the_callers_trace(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    async with running_hub(tmp_path, services=SERVICES[:1]) as hub:
        async with hub.client("alice") as client:
            await client.diagnostics.GetIdentity(WHO, metadata=[("traceparent", TRACEPARENT)], timeout=5)
            await client.diagnostics.GetIdentity(WHO, timeout=5)  # no traceparent: a new trace
        async with hub.client(None) as anonymous:  # refused calls are in the trace too
            with pytest.raises(grpc.aio.AioRpcError):
                await anonymous.diagnostics.GetIdentity(
                    WHO, metadata=[("traceparent", TRACEPARENT)], timeout=5
                )
    found = named(spans, "realtime.v1.DiagnosticsService/GetIdentity")
    assert len(found) == 3
    traced, fresh, refused = found
    assert (trace_hex(traced), parent_hex(traced)) == (TRACE, PARENT)
    assert traced.kind == SpanKind.SERVER
    assert traced.attributes is not None
    assert traced.attributes["enduser.id"] == "alice"
    assert traced.attributes["rpc.grpc.status_code"] == "OK"
    assert fresh.parent is None and trace_hex(fresh) != TRACE
    assert trace_hex(refused) == TRACE
    assert (refused.attributes or {}).get("rpc.grpc.status_code") == "UNAUTHENTICATED"
    assert "enduser.id" not in (refused.attributes or {})


async def test_stream_gets_a_span_per_message_batch(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    count = tracing.BATCH * 2 + 10  # two full batches of requests (plus their echoes) and a rest

    async def commands() -> AsyncIterator[diagnostics_pb2.EchoStreamRequest]:
        for i in range(count):
            yield diagnostics_pb2.EchoStreamRequest(id=str(i), echo=diagnostics_pb2.EchoCommand(payload=b"x"))

    async with running_hub(tmp_path, services=SERVICES[:1]) as hub:
        async with hub.client("alice") as client:
            stream = client.diagnostics.EchoStream(commands(), metadata=[("traceparent", TRACEPARENT)])
            replies = [r async for r in stream]
    assert len(replies) == count
    (call,) = named(spans, "realtime.v1.DiagnosticsService/EchoStream")
    batches = named(spans, "realtime.v1.DiagnosticsService/EchoStream messages")
    assert len(batches) >= 2
    assert call.context is not None
    for batch in batches:
        assert trace_hex(batch) == TRACE
        assert batch.parent is not None and batch.parent.span_id == call.context.span_id
    moved = [(b.attributes or {}).get("realtime.messages_received", 0) for b in batches]
    assert sum(moved) == count  # every message is in exactly one batch  # type: ignore[arg-type]


async def test_gateway_forwards_the_traceparent_header(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    async with running_hub(tmp_path, services=SERVICES) as hub:
        async with aiohttp.ClientSession() as session:
            reply = await grpc_web(
                session,
                f"{hub.http_url}{DIAG}/GetIdentity",
                WHO.SerializeToString(),
                token=hub.token("bob"),
                headers={"traceparent": TRACEPARENT},
            )
    assert reply.status == 0, reply.message
    (span,) = named(spans, "realtime.v1.DiagnosticsService/GetIdentity")
    assert (trace_hex(span), parent_hex(span)) == (TRACE, PARENT)


async def test_analysis_run_continues_the_submit_trace(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    async with running_hub(tmp_path, services=ANALYSIS_SERVICES) as hub:
        async with hub.client("alice") as client:
            stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
            op = await stub.SubmitAnalysis(
                text_request("hello there"), metadata=[("traceparent", TRACEPARENT)], timeout=10
            )
            lro = client.stub(operations_pb2_grpc.OperationsStub)
            done = await lro.WaitOperation(operations_pb2.WaitOperationRequest(name=op.name), timeout=30)
            assert done.done
    (submit,) = named(spans, "realtime.v1.AnalysisService/SubmitAnalysis")
    (run,) = named(spans, "analysis.run")
    assert submit.context is not None
    assert trace_hex(run) == TRACE
    assert run.parent is not None and run.parent.span_id == submit.context.span_id
    assert [link.context.span_id for link in run.links] == [submit.context.span_id]
    assert (run.attributes or {}).get("realtime.job") == op.name.rsplit("/", 1)[-1]


async def test_without_spans_the_trace_id_is_on_the_call_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert tracing.spans is None
    async with running_hub(tmp_path, services=SERVICES[:1]) as hub:
        async with hub.client("alice") as client:
            with caplog.at_level(logging.INFO, logger="realtime.calls"):
                await client.diagnostics.GetIdentity(WHO, metadata=[("traceparent", TRACEPARENT)], timeout=5)
                await client.diagnostics.GetIdentity(WHO, metadata=[("traceparent", "junk")], timeout=5)
    lines = [r for r in caplog.records if r.getMessage() == "call finished"]
    assert [getattr(r, "trace_id", None) for r in lines] == [TRACE, None]


def test_a_hub_without_an_endpoint_never_imports_opentelemetry(tmp_path: Path) -> None:
    script = f"""
import asyncio, json, sys
from pathlib import Path
from realtime.server.testing import running_hub
from realtime.v1 import diagnostics_pb2

async def main():
    async with running_hub(Path({str(tmp_path)!r}), services=("realtime.server.diagnostics.service",)) as hub:
        async with hub.client("alice") as client:
            md = [("traceparent", {TRACEPARENT!r})]
            await client.diagnostics.GetIdentity(diagnostics_pb2.GetIdentityRequest(), metadata=md, timeout=5)
    print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


async def test_notification_delivery_joins_the_publish_trace(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    await check_delivery_trace(tmp_path, spans, "memory")


async def test_notification_delivery_joins_the_publish_trace_through_redis(
    tmp_path: Path, spans: InMemorySpanExporter, redis_url: str, redis_prefix: str
) -> None:
    await check_delivery_trace(tmp_path, spans, f"{redis_url}?prefix={redis_prefix}")


async def check_delivery_trace(tmp_path: Path, spans: InMemorySpanExporter, broker: str) -> None:
    from realtime.v1 import notifications_pb2 as pb
    from tests.service.notify_support import SERVICES as NOTIFY_SERVICES
    from tests.service.notify_support import open_stream, stub

    async with running_hub(tmp_path, services=NOTIFY_SERVICES, broker=broker) as hub:
        async with hub.client("alice") as alice, hub.client("bob") as bob:
            async with open_stream(alice) as s:
                await s.subscribe("topic:traced")
                publish = pb.PublishRequest(channel="topic:traced", title="hi")
                await stub(bob).Publish(publish, metadata=[("traceparent", TRACEPARENT)], timeout=5)
                await s.notifications(1)
                listed = await stub(alice).ListNotifications(
                    pb.ListNotificationsRequest(channel="topic:traced"), timeout=5
                )
    assert [n.title for n in listed.notifications] == ["hi"]  # the trace meta stays internal
    (published,) = named(spans, "realtime.v1.NotificationService/Publish")
    (delivery,) = named(spans, "notifications.deliver")
    assert published.context is not None
    assert trace_hex(delivery) == TRACE
    assert delivery.parent is not None and delivery.parent.span_id == published.context.span_id
    assert (delivery.attributes or {}).get("realtime.channel") == "topic:traced"


class _Collector:
    """A minimal OTLP/gRPC trace collector on 127.0.0.1: keeps what it is sent."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        self.received: list[object] = []
        self.arrived = asyncio.Event()
        collector = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            async def Export(self, request: object, context: object) -> object:
                collector.received.append(request)
                collector.arrived.set()
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def span_names_and_traces(self) -> set[tuple[str, str]]:
        found = set()
        for request in self.received:
            for resource in request.resource_spans:  # type: ignore[attr-defined]
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        found.add((span.name, span.trace_id.hex()))
        return found


async def test_otlp_endpoint_sends_spans_to_a_collector(tmp_path: Path) -> None:
    collector = _Collector()
    await collector.server.start()
    try:
        endpoint = f"http://127.0.0.1:{collector.port}"
        async with running_hub(tmp_path, services=SERVICES[:1], otlp_endpoint=endpoint) as hub:
            assert tracing.spans is not None
            async with hub.client("alice") as client:
                await client.diagnostics.GetIdentity(WHO, metadata=[("traceparent", TRACEPARENT)], timeout=5)
        assert tracing.spans is None  # the hub's stop flushed and shut spans down
        await asyncio.wait_for(collector.arrived.wait(), 10)
        assert ("realtime.v1.DiagnosticsService/GetIdentity", TRACE) in collector.span_names_and_traces()
    finally:
        await collector.server.stop(0)


async def test_sse_takes_the_traceparent_from_the_query(tmp_path: Path, spans: InMemorySpanExporter) -> None:

    async with running_hub(tmp_path, services=SERVICES) as hub:
        async with aiohttp.ClientSession() as session:
            url = sse_url(
                hub.http_url,
                DIAG + "/GetIdentity",
                {},
                access_token=hub.token(ttl=60),
                traceparent=TRACEPARENT,
            )
            async with session.get(url) as resp:
                got = await events(resp)
    assert json.loads(got[-1]["data"])["status"] == "OK"
    (span,) = named(spans, "realtime.v1.DiagnosticsService/GetIdentity")
    assert (trace_hex(span), parent_hex(span)) == (TRACE, PARENT)
