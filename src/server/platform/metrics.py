"""Prometheus metrics with the grpc-ecosystem names, plus `realtime_*` domain metrics.

Every metric lives in one registry owned by the hub, so several hubs in one
process (tests) never collide. Label children are cached per method because
`labels()` is a dict lookup plus a lock on the hot path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# go-grpc-prometheus default buckets.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(slots=True)
class MethodMetrics:
    """Pre-bound metric children for one method."""

    started: Counter
    received: Counter
    sent: Counter
    handling: Histogram
    grpc_type: str
    service: str
    method: str


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("grpc_type", "grpc_service", "grpc_method")
        r = self.registry
        self.started = Counter("grpc_server_started", "RPCs started on the server.", labels, registry=r)
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            (*labels, "grpc_code"),
            registry=r,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received", "Stream messages received by the server.", labels, registry=r
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent", "Stream messages sent by the server.", labels, registry=r
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its end on the server.",
            labels,
            buckets=HANDLING_BUCKETS,
            registry=r,
        )
        self.active_streams = Gauge(
            "realtime_active_streams",
            "Streams open now, by service.",
            ("service",),
            registry=r,
            multiprocess_mode="livesum",  # with --workers: the sum over live workers
        )
        self.auth_failures = Counter(
            "realtime_auth_failures", "Calls refused for authentication, by reason.", ("reason",), registry=r
        )
        self.limited = Counter(
            "realtime_limited_calls", "Calls refused by a per-user limit, by limit.", ("limit",), registry=r
        )
        self._methods: dict[tuple[str, str], MethodMetrics] = {}
        self._handled: dict[tuple[str, str, str], Counter] = {}

    def method(self, full_method: str, grpc_type: str) -> MethodMetrics:
        key = (full_method, grpc_type)
        found = self._methods.get(key)
        if found is None:
            service, method = split_method(full_method)
            found = MethodMetrics(
                started=self.started.labels(grpc_type, service, method),
                received=self.msg_received.labels(grpc_type, service, method),
                sent=self.msg_sent.labels(grpc_type, service, method),
                handling=self.handling.labels(grpc_type, service, method),
                grpc_type=grpc_type,
                service=service,
                method=method,
            )
            self._methods[key] = found
        return found

    def count_handled(self, m: MethodMetrics, code_name: str) -> None:
        key = (m.service, m.method, code_name)
        child = self._handled.get(key)
        if child is None:
            child = self._handled[key] = self.handled.labels(m.grpc_type, m.service, m.method, code_name)
        child.inc()

    def render(self) -> bytes:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return generate_latest(self.registry)
        # --workers: every worker writes its metrics to files in this directory; any worker
        # answering /metrics sums them all (counters, histograms; gauges per live worker).
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        own = [c for c in self.registry._collector_to_names if not _is_metric(c)]  # custom collectors
        for collector in own:
            combined.register(collector)
        return generate_latest(combined)


def _is_metric(collector: object) -> bool:
    from prometheus_client.metrics import MetricWrapperBase

    return isinstance(collector, MetricWrapperBase)


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = (
        full_method.split("/", 2) if full_method.count("/") >= 2 else ("", "unknown", full_method)
    )
    return service, method
