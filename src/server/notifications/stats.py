"""The hub's own stats, published on `system:stats` every few seconds for dashboards."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from ..broker.base import Broker, BrokerError
from ..platform.metrics import Metrics

log = logging.getLogger("realtime.notifications")

STATS_CHANNEL = "system:stats"


def snapshot(metrics: Metrics) -> tuple[dict[str, int], float]:
    """(active streams by service, total stream messages sent + received so far)."""
    streams: dict[str, int] = {}
    for metric in metrics.active_streams.collect():
        for sample in metric.samples:
            streams[sample.labels.get("service", "")] = int(sample.value)
    total = 0.0
    for counter in (metrics.msg_sent, metrics.msg_received):
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    total += sample.value
    return streams, total


class StatsPublisher:
    def __init__(
        self,
        broker: Broker,
        metrics: Metrics,
        instance_id: str,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._metrics = metrics
        self._instance = instance_id
        self.interval = interval
        self._clock = clock
        self._last: tuple[float, float] | None = None

    def build(self) -> dict[str, object]:
        streams, total = snapshot(self._metrics)
        now = self._clock()
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (total - self._last[1]) / (now - self._last[0])
        self._last = (now, total)
        return {
            "instance": self._instance,
            "active_streams": streams,
            "messages_per_second": round(rate, 3),
        }

    async def publish_once(self) -> None:
        body = json.dumps(self.build(), separators=(",", ":")).encode()
        await self._broker.publish(
            STATS_CHANNEL,
            body,
            meta={"p": "hub", "t": "hub stats", "ct": "application/json"},
            history_size=100,
            history_ttl=3600.0,
        )

    async def run(self) -> None:
        while True:
            try:
                await self.publish_once()
            except BrokerError as exc:
                log.warning("could not publish stats: %s", exc)
            await asyncio.sleep(self.interval)
