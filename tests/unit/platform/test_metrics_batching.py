"""Calls' metrics are plain numbers first and reach prometheus within FLUSH_INTERVAL, unchanged."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from realtime.server.platform.metrics import FLUSH_INTERVAL, HANDLING_BUCKETS, Metrics, observe_all

VALUES = [0.0, 0.004, 0.005, 0.0051, 0.3, 2.5, 10.0, 11.0, 0.01, 0.01]


def _rendered(observe: str) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram("h", "h", ("m",), buckets=HANDLING_BUCKETS, registry=registry)
    child = histogram.labels("x")
    if observe == "one by one":
        for value in VALUES:
            child.observe(value)
    else:
        observe_all(child, VALUES)
    return b"\n".join(line for line in generate_latest(registry).splitlines() if b"_created" not in line)


def test_observe_all_equals_observing_one_by_one() -> None:
    assert _rendered("all at once") == _rendered("one by one")


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_calls_reach_prometheus_after_the_flush_interval_and_on_render() -> None:
    metrics = Metrics()
    m = metrics.method("/realtime.v1.X/Y", "unary")
    labels = {"grpc_type": "unary", "grpc_service": "realtime.v1.X", "grpc_method": "Y"}
    metrics.call_started(m)
    metrics.call_ended(m, "OK", 0.002, 1, 1)
    metrics.call_started(m)
    metrics.call_ended(m, "NOT_FOUND", 0.02, 1, 0)
    assert _sample(metrics, "grpc_server_started_total", **labels) == 0  # not yet
    await asyncio.sleep(0)
    assert _sample(metrics, "grpc_server_started_total", **labels) == 0  # not per loop turn either
    for _ in range(200):  # the flush timer (bounded wait, not a timing assertion)
        if _sample(metrics, "grpc_server_started_total", **labels):
            break
        await asyncio.sleep(FLUSH_INTERVAL / 5)
    assert _sample(metrics, "grpc_server_started_total", **labels) == 2
    assert _sample(metrics, "grpc_server_handled_total", **labels, grpc_code="OK") == 1
    assert _sample(metrics, "grpc_server_handled_total", **labels, grpc_code="NOT_FOUND") == 1
    assert _sample(metrics, "grpc_server_msg_received_total", **labels) == 2
    assert _sample(metrics, "grpc_server_msg_sent_total", **labels) == 1
    assert _sample(metrics, "grpc_server_handling_seconds_count", **labels) == 2
    assert _sample(metrics, "grpc_server_handling_seconds_bucket", **labels, le="0.005") == 1
    metrics.call_started(m)
    assert b'grpc_server_started_total{grpc_method="Y"' in metrics.render()  # render flushes first
    assert _sample(metrics, "grpc_server_started_total", **labels) == 3


def test_without_an_event_loop_figures_are_recorded_at_once() -> None:
    metrics = Metrics()
    m = metrics.method("/realtime.v1.X/Y", "server_stream")
    metrics.call_started(m)
    labels = {"grpc_type": "server_stream", "grpc_service": "realtime.v1.X", "grpc_method": "Y"}
    assert _sample(metrics, "grpc_server_started_total", **labels) == 1
