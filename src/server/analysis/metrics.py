"""The scheduler's figures as `realtime_analysis_*` Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..context import HubContext
from .model import JobState, Priority


class PromStats:
    """Scheduler figures as `realtime_analysis_*` Prometheus metrics."""

    def __init__(self, hub: HubContext) -> None:
        r = hub.metrics.registry
        self.started_total = Counter(
            "realtime_analysis_jobs_started",
            "Analysis jobs started, by priority and whether the start target was met (met, missed, none).",
            ("priority", "target"),
            registry=r,
        )
        self.wait = Histogram(
            "realtime_analysis_start_wait_seconds",
            "Time from submit to start, by priority.",
            ("priority",),
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.finished_total = Counter(
            "realtime_analysis_jobs_finished",
            "Analysis jobs finished, by analyzer and state.",
            ("analyzer", "state"),
            registry=r,
        )
        self.run = Histogram(
            "realtime_analysis_job_seconds",
            "Time from start to end, by analyzer.",
            ("analyzer",),
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120),
            registry=r,
        )
        self.depth = Gauge("realtime_analysis_queue_depth", "Jobs waiting in the queue.", registry=r)
        self.running = Gauge("realtime_analysis_running", "Jobs running (all replicas).", registry=r)

    def started(self, priority: Priority, waited: float, target_met: bool | None) -> None:
        target = "none" if target_met is None else "met" if target_met else "missed"
        self.started_total.labels(priority.name.lower(), target).inc()
        self.wait.labels(priority.name.lower()).observe(waited)

    def finished(self, analyzer: str, state: JobState, seconds: float) -> None:
        self.finished_total.labels(analyzer, state.name.lower()).inc()
        self.run.labels(analyzer).observe(seconds)

    def queue_depth(self, depth: int, running: int) -> None:
        self.depth.set(depth)
        self.running.set(running)


# -- the servicer ------------------------------------------------------------------------
