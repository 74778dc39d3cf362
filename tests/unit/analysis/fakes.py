"""Analyzers and a clock for scheduler tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from realtime.server.analysis.analyzers.base import (
    AnalysisInput,
    Analyzer,
    AnalyzerResult,
    CancelToken,
    Progress,
)
from realtime.server.analysis.model import plan_from_ends
from realtime.server.analysis.retry import RetryPolicy
from realtime.server.platform.errors import Code, HubError


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingPool(ThreadPoolExecutor):
    """A thread pool that keeps the futures of the work it was given, in order."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="test-analysis")
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future

    def handed_over(self, index: int) -> threading.Event:
        """Set once work `index` has ended and the event loop was asked to take its outcome
        (`run_in_executor` registered its callback before this one, so it has run by then)."""
        handed = threading.Event()
        self.futures[index].add_done_callback(lambda _: handed.set())
        return handed


class Echo(Analyzer):
    """Instant: returns the text, reports both phases and one partial."""

    name = "test.echo"
    input_types = ("text/plain",)
    phases = plan_from_ends([("first", 40), ("second", 100)])

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        progress.phase("first")
        progress.update(0.5)
        progress.partial({"half": True})
        progress.phase("second")
        return AnalyzerResult({"text": data.text})


class Gate(Analyzer):
    """Blocks in phase "work" until released (or cancelled); counts runs."""

    name = "test.gate"
    input_types = ("text/plain",)
    phases = plan_from_ends([("work", 100)])
    # A timed-out gate job fails at once (error retries are tested with Flaky); a lost runner
    # still gets the default three attempts.
    retry = RetryPolicy(attempts=3, retry_on=frozenset())

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.runs = 0
        self.cancelled_runs = 0

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        self.runs += 1
        progress.phase("work")
        self.entered.release()
        while not self.release.wait(0.01):
            if cancel.cancelled:
                self.cancelled_runs += 1
                cancel.check()
        return AnalyzerResult({"text": data.text, "run": self.runs})


class Flaky(Analyzer):
    """Fails with `errors` in turn (google.rpc codes), then succeeds; counts runs."""

    name = "test.flaky"
    input_types = ("text/plain",)
    phases = plan_from_ends([("work", 100)])
    retry = RetryPolicy(attempts=3, initial=2.0, multiplier=2.0, maximum=60.0, jitter=0.25)

    def __init__(self) -> None:
        self.errors: list[Code] = []
        self.runs = 0

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        self.runs += 1
        progress.phase("work")
        if self.errors:
            code = self.errors.pop(0)
            raise HubError(code, f"attempt {self.runs} failed", reason=f"FLAKY_{code.name}")
        return AnalyzerResult({"text": data.text, "runs": self.runs})


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) until `predicate()` holds: for state another thread changes."""
    deadline = asyncio.get_running_loop().time() + timeout
    for _ in range(int(timeout / 0.01) + 1):
        if predicate():
            return
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


class Artifacts(Analyzer):
    """Three artifacts of 400 KiB each: together past what one message may carry inline."""

    name = "test.artifacts"
    input_types = ("text/plain",)
    phases = plan_from_ends([("work", 100)])
    SIZE = 400 * 1024

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        progress.phase("work")
        return AnalyzerResult(
            {"count": 3},
            [(f"part{i}.bin", "application/octet-stream", bytes([i + 1]) * self.SIZE) for i in range(3)],
        )
