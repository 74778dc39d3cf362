"""Hub / raw ratios from interleaved rounds: the noise-resistant form of the platform figures.

The platform figures in `make bench` measure raw grpc.aio and then the hub, once each; on a shared
2-core machine a burst of other work during one of the two moves the ratio by 2x. Here both
servers run side by side (the idle one costs nothing) and the Go load generator alternates
between them, ROUNDS times, swapping which goes first each round. Each round gives a ratio taken
seconds apart; the figure is the median of those ratios, with the spread (min, max) so a reader
can see how noisy the run was.

- unary: Echo, 64 in flight over 4 connections;
- ping-pong: one stream, one message in flight;
- pipelined: one stream, writer and reader concurrently;
- server CPU µs per unary call (hub and raw), from /proc, which noise inflates far less than
  calls/s.

BENCH_RATIO_ROUNDS sets the rounds (default 5); the window per figure is `--seconds` / 2.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from . import goload
from .harness import cpu_seconds, hub, raw_echo

ROUNDS = int(os.environ.get("BENCH_RATIO_ROUNDS", "5"))


async def _one(
    pid: int, target: str, methods: tuple[str, str], token: str, seconds: float
) -> dict[str, float]:
    unary_request, stream_request = goload.echo_requests()
    used = cpu_seconds(pid)
    unary = await goload.load("unary", target, methods[0], unary_request, token=token, seconds=seconds)
    cpu_per_call = (cpu_seconds(pid) - used) / unary["total"] * 1e6
    pingpong = await goload.load("pingpong", target, methods[1], stream_request, token=token, seconds=seconds)
    pipelined = await goload.load(
        "pipelined", target, methods[1], stream_request, token=token, seconds=seconds
    )
    return {
        "unary": unary["per_s"],
        "unary_cpu_us": cpu_per_call,
        "pingpong": pingpong["per_s"],
        "pipelined": pipelined["per_s"],
        "loadgen_cores": unary["loadgen_cores"],
    }


def _summary(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_median": statistics.median(values),
        f"{name}_min": min(values),
        f"{name}_max": max(values),
    }


async def run(base: dict[str, float]) -> dict[str, Any]:
    seconds = max(1.0, base.get("seconds", 5.0) / 2)
    rounds: list[tuple[dict[str, float], dict[str, float]]] = []
    with raw_echo() as raw, hub() as h:
        token = h.token()
        for i in range(ROUNDS):
            if i % 2 == 0:
                r = await _one(raw.proc.pid, raw.target, goload.RAW_METHODS, "", seconds)
                x = await _one(h.proc.pid, h.target, goload.HUB_METHODS, token, seconds)
            else:
                x = await _one(h.proc.pid, h.target, goload.HUB_METHODS, token, seconds)
                r = await _one(raw.proc.pid, raw.target, goload.RAW_METHODS, "", seconds)
            rounds.append((r, x))
    figures: dict[str, Any] = {"rounds": ROUNDS, "seconds_per_figure": seconds}
    for key in ("unary", "pingpong", "pipelined"):
        figures[f"raw_{key}_per_s_median"] = statistics.median(r[key] for r, _ in rounds)
        figures[f"hub_{key}_per_s_median"] = statistics.median(x[key] for _, x in rounds)
        figures |= _summary(f"hub_{key}_ratio", [x[key] / r[key] for r, x in rounds])
    figures["raw_unary_cpu_us_per_call_median"] = statistics.median(r["unary_cpu_us"] for r, _ in rounds)
    figures["hub_unary_cpu_us_per_call_median"] = statistics.median(x["unary_cpu_us"] for _, x in rounds)
    figures |= _summary(
        "hub_unary_cpu_per_call_ratio", [x["unary_cpu_us"] / r["unary_cpu_us"] for r, x in rounds]
    )
    figures["loadgen_cores_median"] = statistics.median(v["loadgen_cores"] for pair in rounds for v in pair)
    return figures
