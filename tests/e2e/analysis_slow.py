"""A slow, idempotent analyzer for the failover test (loaded by the hub via REALTIME_ANALYSIS_ANALYZERS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from realtime.server.analysis.analyzers.base import (
    AnalysisInput,
    Analyzer,
    AnalyzerResult,
    CancelToken,
    Progress,
)
from realtime.server.analysis.model import plan_from_ends


class Slow(Analyzer):
    """Counts `steps` steps of 0.1 s; the result says which process finished it."""

    name = "test.slow"
    input_types = ("text/plain",)
    phases = plan_from_ends([("count", 100)])
    options = frozenset({"steps"})

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        steps = int(options.get("steps", 30))
        progress.phase("count")
        progress.partial({"pid": os.getpid()})  # tells the test which process runs this attempt
        for i in range(steps):
            if cancel.wait(0.1):
                cancel.check()
            progress.update((i + 1) / steps)
        return AnalyzerResult({"text": (data.text or "").upper(), "pid": os.getpid()})
