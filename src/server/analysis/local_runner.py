"""The local runner: built-in analyzers run in a thread pool on this replica, off the event loop.

`_dispatch_loop` claims jobs while fewer than `concurrency` run here, and each
job runs in `_run_local`: the analyzer's synchronous `run` on the executor, its
progress reports pumped onto the event loop in order, a timeout, and the outcome
recorded with `finish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from ..platform import tracing
from ..platform.errors import (
    Code,
    HubError,
)
from ..platform.streams import quiet
from .analyzers.base import AnalysisInput, Analyzer, AnalyzerResult, Cancelled, CancelToken, Progress
from .analyzers.imaging import BUDGET
from .dispatch import Dispatcher
from .jobs import LocalRun
from .model import (
    Job,
    JobError,
    PhaseSpec,
    cancelled_error,
)

log = logging.getLogger("realtime.analysis")


class LocalRunner(Dispatcher):
    def _revoke(self, job_id: str, runner: str, reason: str) -> None:
        run = self._local.get(job_id)
        if run is not None and runner == self.replica:
            run.token.cancel(reason)
            run.stopped.set()
        super()._revoke(job_id, runner, reason)

    async def _dispatch_loop(self) -> None:
        """The local runner: start built-in analyzer jobs while capacity allows."""
        names = set(self.registry.names)
        while not self._stopping:
            event = self._wake  # taken before claiming, so a wake during the claims is not lost
            try:
                while len(self._local) < self.config.concurrency and not self._stopping:
                    job = await self.claim(self.replica, names)
                    if job is None:
                        break
                    self._start_local(job)
            except Exception:  # the store is unreachable (Redis down): keep the runner alive, retry
                log.exception("analysis dispatch failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_poll):
                    await event.wait()

    def _start_local(self, job: Job) -> LocalRun:
        """Run the claimed `job` here, superseding an earlier attempt of it still running here."""
        run = LocalRun(CancelToken(), job.attempt)
        stale = self._local.get(job.id)
        if stale is not None:
            # Our earlier attempt lost its lease (a stalled loop) and the job came back to us: the
            # new attempt supersedes it, and the lease it renews is the new one's.
            stale.token.cancel("lease_lost")
            stale.stopped.set()
        self._local[job.id] = run
        self._spawn(self._run_local(job, run), f"analysis-job-{job.id}")
        return run

    async def _run_local(self, job: Job, run: LocalRun) -> None:
        with tracing.background_span("analysis.run", job.traceparent, **{"realtime.job": job.id}):
            await self._run_local_traced(job, run)

    async def _run_local_traced(self, job: Job, run: LocalRun) -> None:
        loop = asyncio.get_running_loop()
        try:
            analyzer = self.registry.get(job.analyzer)
            data = await self.job_input(job)
            reports: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
            reporter = _ThreadProgress(loop, reports, analyzer.phases)
            work: asyncio.Future[AnalyzerResult] = loop.run_in_executor(
                self._executor, _run_analyzer, analyzer, data, job.options, reporter, run.token
            )
            work.add_done_callback(quiet)  # its outcome is read below, unless the job is abandoned
            pump = asyncio.ensure_future(self._pump(job.id, reports, run))
            stopped: asyncio.Future[Any] = asyncio.ensure_future(run.stopped.wait())
            try:
                done, _ = await asyncio.wait(
                    {work, stopped}, timeout=self.config.job_timeout, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:  # the scheduler is stopping: abandon the job here
                pump.cancel()
                raise
            finally:
                stopped.cancel()
            if work not in done:
                run.token.cancel("timeout" if not run.stopped.is_set() else run.token.reason)
                pump.cancel()
                if not run.stopped.is_set():
                    await self.finish(
                        job.id,
                        self.replica,
                        error=JobError(
                            int(Code.DEADLINE_EXCEEDED),
                            f"the job did not finish within {self.config.job_timeout:g}s",
                            "JOB_TIMEOUT",
                        ),
                    )
                return
            await reports.put(("end", None))
            await pump
            if run.stopped.is_set():
                # Stopped (superseded, lease lost, revoked) while the analyzer ended, often with the
                # Cancelled the stop caused: the job is no longer this attempt's. Recording the outcome
                # would end a newer attempt that runs under the same replica name.
                return
            try:
                result = work.result()
            except Cancelled:
                await self.finish(job.id, self.replica, error=cancelled_error())
                return
            except HubError as err:
                await self.finish(
                    job.id, self.replica, error=JobError(int(err.code), err.message, err.reason)
                )
                return
            except Exception:
                log.exception("analyzer %s failed on job %s", job.analyzer, job.id)
                await self.finish(
                    job.id,
                    self.replica,
                    error=JobError(int(Code.INTERNAL), "the analyzer failed", "INTERNAL"),
                )
                return
            await self.finish(job.id, self.replica, result=result)
        except HubError as err:
            log.warning("analysis job %s could not finish here: %s", job.id, err)
        finally:
            if self._local.get(job.id) is run:  # not a newer attempt of the same job
                del self._local[job.id]
            self.wake()

    async def _pump(self, job_id: str, reports: asyncio.Queue[tuple[str, Any]], run: LocalRun) -> None:
        """Apply the analyzer's reports in order, coalescing bursts of percent updates."""
        while True:
            batch = [await reports.get()]
            while not reports.empty():
                batch.append(reports.get_nowait())
            for i, (kind, value) in enumerate(batch):
                if kind == "end":
                    return
                if run.stopped.is_set():
                    continue
                if kind == "update" and i + 1 < len(batch) and batch[i + 1][0] == "update":
                    continue  # only the newest of consecutive updates matters
                try:
                    if kind == "unavailable":
                        await self.progress(job_id, self.replica, "", 0.0, unavailable=value)
                    elif kind == "partial":
                        await self.progress(job_id, self.replica, "", 0.0, [value])
                    else:
                        await self.progress(job_id, self.replica, value[0], value[1])
                except HubError as err:
                    if err.code == Code.FAILED_PRECONDITION:
                        run.token.cancel("lease_lost")
                        run.stopped.set()
                    else:
                        log.warning("progress of %s refused: %s", job_id, err)


class _ThreadProgress:
    """The `Progress` an analyzer gets: records calls from its thread onto the loop's queue."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[tuple[str, Any]],
        plan: tuple[PhaseSpec, ...],
    ) -> None:
        self._loop = loop
        self._queue = queue
        self._phase = plan[0].name if plan else ""

    def _put(self, item: tuple[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def phase(self, name: str, fraction: float = 0.0) -> None:
        self._phase = name
        self._put(("phase", (name, fraction)))

    def update(self, fraction: float) -> None:
        self._put(("update", (self._phase, fraction)))

    def partial(self, data: Mapping[str, Any]) -> None:
        self._put(("partial", json.loads(json.dumps(dict(data)))))

    def unavailable(self, name: str, reason: str) -> None:
        self._put(("unavailable", (name, reason)))


def _run_analyzer(
    analyzer: Analyzer,
    data: AnalysisInput,
    options: Mapping[str, Any],
    progress: Progress,
    cancel: CancelToken,
) -> AnalyzerResult:
    """`analyzer.run` on a pool thread; the pixels it decodes stay reserved until it returns."""
    with BUDGET.scope():
        return analyzer.run(data, options, progress, cancel)
