"""Prometheus metrics with the grpc-ecosystem names, plus `realtime_*` domain metrics.

Every metric lives in one registry owned by the hub, so several hubs in one
process (tests) never collide. Label children are cached per method because
`labels()` is a dict lookup plus a lock on the hot path.

A call's own figures (started, handled, messages, duration) are plain numbers
on its method's `MethodMetrics` first and reach prometheus at most FLUSH_INTERVAL
later (`Metrics.flush`, also run before every rendering): five prometheus updates,
each a lock and several calls, were a third of the hub's per-call overhead, and a
flush per event-loop turn still cost about 35 Python calls per unary call under
load (a turn finishes about one call). With `--workers`, another worker's figures
reach a /metrics answer at most FLUSH_INTERVAL late.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# go-grpc-prometheus default buckets.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Seconds a call's figures may wait before they reach prometheus (see the module docstring).
FLUSH_INTERVAL = 0.05


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
    # Not yet added to the children above (see `Metrics.flush`).
    pending_started: int = 0
    pending_received: int = 0
    pending_sent: int = 0
    pending_codes: dict[str, int] = field(default_factory=dict)
    pending_durations: list[float] = field(default_factory=list)
    dirty: bool = False


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
        self._dirty: list[MethodMetrics] = []

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

    def count_handled(self, m: MethodMetrics, code_name: str, count: int = 1) -> None:
        key = (m.service, m.method, code_name)
        child = self._handled.get(key)
        if child is None:
            child = self._handled[key] = self.handled.labels(m.grpc_type, m.service, m.method, code_name)
        child.inc(count)

    def call_started(self, m: MethodMetrics) -> None:
        m.pending_started += 1
        if not m.dirty:
            self._touch(m)

    def call_ended(self, m: MethodMetrics, code_name: str, seconds: float, received: int, sent: int) -> None:
        m.pending_codes[code_name] = m.pending_codes.get(code_name, 0) + 1
        m.pending_durations.append(seconds)
        m.pending_received += received
        m.pending_sent += sent
        if not m.dirty:
            self._touch(m)

    def _touch(self, m: MethodMetrics) -> None:
        m.dirty = True
        self._dirty.append(m)
        if len(self._dirty) > 1:
            return  # a flush is already due
        try:
            asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self.flush)
        except RuntimeError:  # no event loop (library use): record now
            self.flush()

    def flush(self) -> None:
        """Move the calls' pending figures into the prometheus metrics."""
        dirty, self._dirty = self._dirty, []
        for m in dirty:
            m.dirty = False
            if m.pending_started:
                m.started.inc(m.pending_started)
            if m.pending_received:
                m.received.inc(m.pending_received)
            if m.pending_sent:
                m.sent.inc(m.pending_sent)
            for code_name, count in m.pending_codes.items():
                self.count_handled(m, code_name, count)
            observe_all(m.handling, m.pending_durations)
            m.pending_started = m.pending_received = m.pending_sent = 0
            m.pending_codes.clear()
            m.pending_durations = []

    def render(self) -> bytes:
        self.flush()
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


def observe_all(histogram: Histogram, values: Sequence[float]) -> None:
    """`histogram.observe(v)` for every value, with one update per bucket touched.

    Uses the child's `_sum` and `_buckets` values (prometheus_client 0.2x); a client
    without them gets the values one by one (tests/unit/platform compares both ways)."""
    if not values:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for value in values:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:
        i = bisect.bisect_left(bounds, value)  # the first bucket whose bound is >= value
        counts[i] = counts.get(i, 0) + 1
    total.inc(sum(values))
    for i, count in counts.items():
        buckets[i].inc(count)


def _is_metric(collector: object) -> bool:
    from prometheus_client.metrics import MetricWrapperBase

    return isinstance(collector, MetricWrapperBase)


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = (
        full_method.split("/", 2) if full_method.count("/") >= 2 else ("", "unknown", full_method)
    )
    return service, method
