"""`make bench`: raw grpc.aio echo baseline, the hub platform, then every bench_<service>.py.

Figures are printed as absolute numbers and as ratios to the baseline measured
in the same run (this machine is shared and noisy; absolute times drift).
Results also go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any

import bench

from . import goload
from .harness import (
    channel,
    closed_loop,
    cpu_seconds,
    hub,
    idle_stream_bytes,
    percentile,
    pipelined_bidi,
    raw_echo,
)

RAW_METHODS, HUB_METHODS = goload.RAW_METHODS, goload.HUB_METHODS


async def go_figures(
    name: str,
    pid: int,
    target: str,
    methods: tuple[str, str],
    requests: tuple[bytes, bytes],
    token: str,
    seconds: float,
) -> dict[str, float]:
    """Unary (64 in flight over 4 connections), ping-pong and pipelined figures from the Go load
    generator, the server's CPU per unary call, and the share of the machine the generator took."""
    unary_method, bidi_method = methods
    unary_request, stream_request = requests
    cpu = cpu_seconds(pid)
    unary = await goload.load("unary", target, unary_method, unary_request, token=token, seconds=seconds)
    used = cpu_seconds(pid) - cpu  # warmup included: per call over every call (`total`)
    pingpong = await goload.load(
        "pingpong", target, bidi_method, stream_request, token=token, seconds=seconds
    )
    pipelined = await goload.load(
        "pipelined", target, bidi_method, stream_request, token=token, seconds=seconds
    )
    return {
        f"go_{name}_unary_calls_per_s": unary["per_s"],
        f"go_{name}_unary_p50_ms": unary["p50_ms"],
        f"go_{name}_unary_p99_ms": unary["p99_ms"],
        f"go_{name}_unary_server_cpu_us_per_call": used / unary["total"] * 1e6,
        f"go_{name}_unary_loadgen_cpu_us_per_call": unary["loadgen_cpu_us_per_call"],
        f"go_{name}_unary_loadgen_cores": unary["loadgen_cores"],
        f"go_{name}_pingpong_per_s": pingpong["per_s"],
        f"go_{name}_pingpong_p50_ms": pingpong["p50_ms"],
        f"go_{name}_pipelined_msgs_per_s": pipelined["per_s"],
        f"go_{name}_pipelined_loadgen_cores": pipelined["loadgen_cores"],
    }


def go_ratios(figures: dict[str, float]) -> dict[str, float]:
    def ratio(key: str) -> float:
        return figures[f"go_hub_{key}"] / figures[f"go_echo_{key}"]

    return {
        "go_hub_unary_ratio": ratio("unary_calls_per_s"),
        "go_hub_pingpong_ratio": ratio("pingpong_per_s"),
        "go_hub_pipelined_ratio": ratio("pipelined_msgs_per_s"),
        "go_hub_unary_cpu_per_call_ratio": ratio("unary_server_cpu_us_per_call"),
    }


async def baseline_and_platform(seconds: float, streams: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    requests = echo_request, stream_request = goload.echo_requests()
    with raw_echo() as raw:
        figures |= await go_figures("echo", raw.proc.pid, raw.target, RAW_METHODS, requests, "", seconds)
        async with channel(raw.target) as ch:
            unary = ch.unary_unary("/bench.Echo/Unary")
            cpu = cpu_seconds(raw.proc.pid)
            rate, lat = await closed_loop(lambda: unary(echo_request), seconds=seconds, warmup=0)
            figures["echo_unary_server_cpu_us_per_call"] = (
                (cpu_seconds(raw.proc.pid) - cpu) / (rate * seconds) * 1e6
            )
            figures["echo_unary_calls_per_s"] = rate
            figures["echo_unary_p50_ms"] = percentile(lat, 50) * 1000
            bidi = ch.stream_stream("/bench.Echo/Bidi")
            figures["echo_bidi_msgs_per_s"] = await pipelined_bidi(
                lambda: bidi(), stream_request, seconds=seconds
            )
            figures["echo_idle_stream_bytes"] = await idle_stream_bytes(
                raw.proc.pid, lambda: bidi(), stream_request, streams=streams
            )
    with hub() as h:
        md = h.metadata()
        figures |= await go_figures("hub", h.proc.pid, h.target, HUB_METHODS, requests, h.token(), seconds)
        async with channel(h.target) as ch:
            unary = ch.unary_unary("/realtime.v1.DiagnosticsService/Echo")
            cpu = cpu_seconds(h.proc.pid)
            rate, lat = await closed_loop(lambda: unary(echo_request, metadata=md), seconds=seconds, warmup=0)
            figures["hub_unary_server_cpu_us_per_call"] = (
                (cpu_seconds(h.proc.pid) - cpu) / (rate * seconds) * 1e6
            )
            figures["hub_unary_calls_per_s"] = rate
            figures["hub_unary_p50_ms"] = percentile(lat, 50) * 1000
            bidi = ch.stream_stream("/realtime.v1.DiagnosticsService/EchoStream")
            figures["hub_bidi_msgs_per_s"] = await pipelined_bidi(
                lambda: bidi(metadata=md), stream_request, seconds=seconds
            )
            figures["hub_idle_stream_bytes"] = await idle_stream_bytes(
                h.proc.pid, lambda: bidi(metadata=md), stream_request, streams=streams
            )
    figures |= go_ratios(figures)
    # The same figures with Python clients (their CPU competes with the server for the 2 cores).
    figures["hub_unary_ratio"] = figures["hub_unary_calls_per_s"] / figures["echo_unary_calls_per_s"]
    figures["hub_bidi_ratio"] = figures["hub_bidi_msgs_per_s"] / figures["echo_bidi_msgs_per_s"]
    figures["hub_idle_stream_memory_ratio"] = (
        figures["hub_idle_stream_bytes"] / figures["echo_idle_stream_bytes"]
    )
    figures["hub_unary_cpu_per_call_ratio"] = (
        figures["hub_unary_server_cpu_us_per_call"] / figures["echo_unary_server_cpu_us_per_call"]
    )
    return figures


def service_benches(selected: list[str] | None) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected]
    return names


def show(title: str, figures: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for key, value in figures.items():
        text = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"  {key:<48} {text}")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> int:
    results: dict[str, dict[str, Any]] = {}
    base = await baseline_and_platform(args.seconds, args.streams)
    results["platform"] = base
    show("baseline (raw grpc.aio echo) and hub platform", base)
    for name in service_benches(args.only):
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        try:
            figures = await module.run(dict(base))
        except Exception as exc:  # one broken bench must not hide the others' figures
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        figures["bench_seconds"] = time.perf_counter() - started
        results[name] = figures
        show(name, figures)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement window per figure")
    parser.add_argument("--streams", type=int, default=1000, help="idle streams for the memory figure")
    parser.add_argument("--only", nargs="*", help="service benches to run (e.g. text notifications)")
    sys.exit(asyncio.run(main(parser.parse_args())))
