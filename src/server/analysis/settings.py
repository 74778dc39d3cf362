"""The analysis service's settings: `REALTIME_ANALYSIS_*` variables or `analysis_*` keys of Settings.extra.

| key (extra / env suffix)        | default  | meaning                                             |
| ------------------------------- | -------- | --------------------------------------------------- |
| analysis_concurrency            | 5        | jobs running at once (all replicas together)        |
| analysis_per_user_concurrency   | 3        | jobs of one user running at once                    |
| analysis_queue_limit            | 1000     | queued jobs, all users, before RESOURCE_EXHAUSTED   |
| analysis_user_queue_limit       | 100      | queued jobs of one user (0: no limit)               |
| analysis_user_queue_bytes       | 268435456| queued input bytes of one user (0: no limit)        |
| analysis_user_jobs              | 5000     | jobs one user keeps; older finished ones go (0: all) |
| analysis_decode_pixels          | 40000000 | pixels decoded at once, all jobs (0: no budget)     |
| analysis_aging                  | 10       | seconds of waiting that raise a job one priority    |
| analysis_job_timeout            | 120      | seconds a job may run                               |
| analysis_lease_ttl              | 10       | seconds a dead runner keeps its job                 |
| analysis_retention              | 86400    | seconds finished jobs and results are kept          |
| analysis_stream_inactivity      | 1800     | AnalyzeStream idle timeout (seconds)                |
| analysis_reported_idle          | 1800     | ReportProgress job fails after this long unreported |
| analysis_analyzers              | ""       | extra analyzers, "module:factory,..."               |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..platform.service_config import load_service_config
from .scheduler import SchedulerConfig

SECTION = "analysis"


@dataclass(frozen=True)
class AnalysisSettings:
    #: Its fields are analysis settings too (REALTIME_ANALYSIS_CONCURRENCY, analysis_concurrency).
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    stream_inactivity: float = 1800.0
    analyzers: tuple[str, ...] = ()


def load(extra: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> AnalysisSettings:
    """From `analysis_*` keys of Settings.extra (or `extra["analysis"]`) and REALTIME_ANALYSIS_*
    variables, through the loader every service shares (`platform.service_config`)."""
    settings = load_service_config(
        AnalysisSettings, SECTION, extra, os.environ if environ is None else environ
    )
    for f in fields(settings.scheduler):
        if getattr(settings.scheduler, f.name) < 0:
            raise ValueError(f"analysis_{f.name} must not be negative")
    return settings
