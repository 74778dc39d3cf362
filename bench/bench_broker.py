"""Broker engines side by side: publish throughput and latency on memory, sqlite and Redis, and the
SQLite file's size under the default retention. `python -m bench --only broker`.

- Through the hub: `Publish` calls (32 in flight, one channel) against a `realtime-server` on each
  engine, in the same run: calls/s, p50 and p99 latency, and ratios to the raw grpc.aio echo
  baseline of the same run (calls/s and p50). The engines take turns for ROUNDS rounds and each
  figure is the median over its rounds (a shared, busy machine drifts more than engines differ).
- The engine alone (in this process, no gRPC): `broker.publish` with 256 in flight; publications/s,
  p50 and p99. This is the cost the engine adds, without the hub around it.
- File size: BENCH_BROKER_PUBLICATIONS (default 1,000,000) publications of a 100-byte payload with
  the default retention (last 1,000 per channel, 24 h) spread over 1,000 channels, so every one is
  retained (the worst case of the defaults); bytes of hub.db (+ WAL) and bytes per publication.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from realtime.server.broker.base import Broker
from realtime.server.broker.factory import split_prefix
from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.broker.sqlite import SqliteBroker
from realtime.v1 import notifications_pb2, notifications_pb2_grpc

from .bench_notifications import environment, redis_url
from .harness import closed_loop, hub, percentile

PUBLICATIONS = int(os.environ.get("BENCH_BROKER_PUBLICATIONS", "1000000"))
CHANNELS = 1000
ROUNDS = int(os.environ.get("BENCH_BROKER_ROUNDS", "3"))
PAYLOAD = b"p" * 100


async def through_hub(name: str, spec: str, seconds: float, base: dict[str, Any]) -> dict[str, float]:
    args = [f"--broker={spec}"] if spec else []
    with hub(*args) as proc:
        async with grpc.aio.insecure_channel(proc.target) as ch:
            publish = notifications_pb2_grpc.NotificationServiceStub(ch).Publish
            md = proc.metadata("writer")
            request = notifications_pb2.PublishRequest(
                channel="topic:bench", title="t", data=PAYLOAD, content_type="application/octet-stream"
            )
            rate, lat = await closed_loop(
                lambda: publish(request, metadata=md, timeout=30), in_flight=32, seconds=seconds
            )
    p50 = percentile(lat, 50) * 1000
    return {
        f"hub_{name}_publish_per_s": rate,
        f"hub_{name}_publish_p50_ms": p50,
        f"hub_{name}_publish_p99_ms": percentile(lat, 99) * 1000,
        f"hub_{name}_publish_vs_echo_unary_ratio": rate / base["echo_unary_calls_per_s"],
        f"hub_{name}_p50_vs_echo_unary_p50_ratio": p50 / base["echo_unary_p50_ms"],
    }


async def engine_alone(name: str, broker: Broker, seconds: float) -> dict[str, float]:
    await broker.start()
    try:
        call: Callable[[], Awaitable[object]] = lambda: broker.publish("bench", PAYLOAD)  # noqa: E731
        rate, lat = await closed_loop(call, in_flight=256, seconds=seconds)
    finally:
        await broker.close()
    return {
        f"engine_{name}_publish_per_s": rate,
        f"engine_{name}_publish_p50_ms": percentile(lat, 50) * 1000,
        f"engine_{name}_publish_p99_ms": percentile(lat, 99) * 1000,
    }


async def file_size(total: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "hub.db"
        broker = SqliteBroker(db)
        await broker.start()
        started = time.perf_counter()
        try:
            window = 512
            for base in range(0, total, window):
                await asyncio.gather(
                    *(
                        broker.publish(f"user:{i % CHANNELS}", PAYLOAD)
                        for i in range(base, min(total, base + window))
                    )
                )
            elapsed = time.perf_counter() - started
            running = db.stat().st_size + _size(Path(f"{db}-wal"))
            await broker.sweep()  # nothing expired yet: what the retention sweep keeps
        finally:
            await broker.close()
        closed = db.stat().st_size + _size(Path(f"{db}-wal"))
    return {
        "file_publications": float(total),
        "file_channels": float(CHANNELS),
        "file_fill_publish_per_s": total / elapsed,
        "file_bytes_while_running": float(running),
        "file_bytes_after_clean_stop": float(closed),
        "file_bytes_per_publication": closed / total,
    }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _median_rounds(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


async def run(base: dict[str, Any]) -> dict[str, float]:
    seconds = 4.0
    figures: dict[str, float] = {"rounds": float(ROUNDS)}
    with environment(REALTIME_NOTIFICATIONS_PUBLISH_RATE="0", REALTIME_NOTIFICATIONS_STATS_INTERVAL="0"):
        with redis_url() as url, tempfile.TemporaryDirectory() as tmp:
            redis_plain, prefix = split_prefix(url)
            hubs: dict[str, list[dict[str, float]]] = {}
            engines: dict[str, list[dict[str, float]]] = {}
            for i in range(ROUNDS):
                for name, spec in (
                    ("memory", "memory"),
                    ("sqlite", f"sqlite:///{tmp}/h{i}.db"),
                    ("sqlite_queued", f"sqlite:///{tmp}/q{i}.db?durability=queued"),
                    ("redis", url),
                ):
                    hubs.setdefault(name, []).append(await through_hub(name, spec, seconds, base))
                for name, broker in (
                    ("memory", MemoryBroker()),
                    ("sqlite", SqliteBroker(Path(tmp) / f"e{i}.db")),
                    ("sqlite_queued", SqliteBroker(Path(tmp) / f"eq{i}.db", durability="queued")),
                    ("redis", RedisBroker(redis_plain, prefix=prefix)),
                ):
                    engines.setdefault(name, []).append(await engine_alone(name, broker, seconds))
            for rounds in (*hubs.values(), *engines.values()):
                figures.update(_median_rounds(rounds))
    for name in ("sqlite", "redis", "sqlite_queued"):
        figures[f"hub_{name}_vs_memory_publish_ratio"] = (
            figures[f"hub_{name}_publish_per_s"] / figures["hub_memory_publish_per_s"]
        )
        figures[f"engine_{name}_vs_memory_publish_ratio"] = (
            figures[f"engine_{name}_publish_per_s"] / figures["engine_memory_publish_per_s"]
        )
    figures.update(await file_size(PUBLICATIONS))
    return figures
