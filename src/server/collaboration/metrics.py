"""realtime_collab_* metrics (read from the directory when /metrics is scraped) and the sweeper."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from .directory import Directory


class CollabMetrics:
    """realtime_collab_* metrics, read from the directory when /metrics is scraped."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        d = self.directory
        rooms = [live.room for live in d.live.values()]
        yield GaugeMetricFamily(
            "realtime_collab_documents_open", "Documents with a live room here.", len(rooms)
        )
        yield GaugeMetricFamily(
            "realtime_collab_participants",
            "Sessions joined to rooms here.",
            sum(len(r.sessions) for r in rooms),
        )
        yield GaugeMetricFamily(
            "realtime_collab_leases",
            "Leases held in rooms here.",
            sum(len(r.leases.by_element) for r in rooms),
        )
        ops = CounterMetricFamily("realtime_collab_operations", "Operations by outcome.", labels=["result"])
        ops.add_metric(["applied"], d.stats["operations_applied"])
        ops.add_metric(["rejected"], d.stats["operations_rejected"])
        yield ops
        yield CounterMetricFamily(
            "realtime_collab_duplicate_batches",
            "Resent batches answered as duplicates.",
            d.stats["batches_duplicate"],
        )
        yield CounterMetricFamily(
            "realtime_collab_cursor_updates", "Cursor commands received.", d.stats["cursor_updates"]
        )


async def sweeper(directory: Directory, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        directory.sweep()
