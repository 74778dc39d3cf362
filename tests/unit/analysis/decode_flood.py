"""Run N image.inspect jobs on a 36-megapixel PNG of a few KB; print peak RSS as JSON.

Usage: python decode_flood.py DECODE_PIXELS N (a separate process, so RSS is this flood's alone).
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import sys

from PIL import Image

from realtime.server.analysis.analyzers.base import AnalysisInput
from realtime.server.analysis.analyzers.imaging import BUDGET
from realtime.server.analysis.analyzers.registry import builtin_registry
from realtime.server.analysis.backend import MemoryBackend
from realtime.server.analysis.model import JobState
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.platform.auth import Principal


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def main(budget: int, count: int) -> dict[str, int]:
    buf = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buf, "PNG", optimize=True)
    png = buf.getvalue()
    config = SchedulerConfig(concurrency=5, decode_pixels=budget, user_queue_limit=0, user_queue_bytes=0)
    s = Scheduler(MemoryBackend(), builtin_registry(), config)
    s.start()
    base = peak_rss()
    who = Principal("flood", frozenset(), 0.0)
    data = AnalysisInput(data=png, content_type="image/png")
    jobs = [await s.submit("flood", "image.inspect", data, {"ocr": False}) for _ in range(count)]
    done = [await s.wait(j.id, who, 120) for j in jobs]
    await s.stop()
    return {
        "png_bytes": len(png),
        "succeeded": sum(1 for d in done if d.job_state == JobState.SUCCEEDED),
        "budget_peak": BUDGET.peak,
        "base_rss": base,
        "peak_rss": peak_rss(),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))))
