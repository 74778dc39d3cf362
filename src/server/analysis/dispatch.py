"""The job state machine every runner goes through: claim, progress, finish, re-queue, cancel.

A runner (the local one, or a remote worker's session) calls `claim` for the
next job it may run; the queue's rules (queue.py) pick it. The runner reports
with `progress` and ends the job with `finish`; a job whose runner died or left
goes back to the queue with `_requeue`. `_revoke` tells a runner to stop a job:
the runner layers above override it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from ..platform.auth import Principal
from ..platform.errors import (
    Code,
    failed_precondition,
    not_found,
)
from .analyzers.base import AnalyzerResult
from .model import (
    START_TARGETS,
    Change,
    Job,
    JobError,
    JobState,
    Priority,
    advance,
    cancelled_error,
    finish_phases,
    mark_unavailable,
)
from .queue import Entry, Running, pick
from .store import UNCHANGED, QueueDoc
from .submit import Submitter

log = logging.getLogger("realtime.analysis")


#: Re-queue reasons that mean the runner died mid-job (they count against the job's attempts).
RUNNER_DIED = frozenset({"lease expired", "restart"})
#: Findings bigger than this (as JSON) are kept as the artifact "result.json" (read with
#: UploadService.Read when large) and the result says where: an operation must fit one message.
RESULT_INLINE_BYTES = 128 * 1024
RESULT_ARTIFACT = "result.json"


def fitted(result: AnalyzerResult) -> AnalyzerResult:
    """`result`, or, when its findings are too big for a message, a small result pointing at
    the artifact that holds them in full (runs on a worker thread: the JSON may be megabytes)."""
    encoded = json.dumps(result.data, separators=(",", ":")).encode()
    if len(encoded) <= RESULT_INLINE_BYTES:
        return result
    return AnalyzerResult(
        {"result_artifact": RESULT_ARTIFACT, "result_bytes": len(encoded)},
        [*result.artifacts, (RESULT_ARTIFACT, "application/json", encoded)],
    )


class Dispatcher(Submitter):
    # -- cancel / delete ---------------------------------------------------------------------
    async def cancel(self, job_id: str, who: Principal) -> Job:
        job = await self.get(job_id, who)
        if job.done:
            return job
        await self.store.update_queue(lambda doc: doc.remove(job_id) or UNCHANGED)
        now = self.clock()

        def mark(j: Job) -> Any:
            if j.done:
                return UNCHANGED
            j.cancel_requested = True
            j.state = int(JobState.CANCELLED)
            j.error = cancelled_error()
            j.finished = now
            return j.runner

        after, runner = await self.store.update(job_id, mark)
        if after is None:
            raise not_found(f"no analysis job {job_id}")
        if runner is not None:
            await self._release_running(job_id, runner or None)
            self._revoke(job_id, runner or "", "cancelled")
            await self._emit(after, [Change("done")])
            if after.started:
                self.stats.finished(after.analyzer, JobState.CANCELLED, now - after.started)
        return after

    async def delete(self, job_id: str, who: Principal) -> None:
        job = await self.get(job_id, who)
        if not job.done:
            raise failed_precondition("the job is not done; cancel it first", reason="JOB_NOT_DONE")
        await self.store.delete(job)

    # -- claiming and running -------------------------------------------------------------------
    async def claim(self, runner: str, analyzers: set[str]) -> Job | None:
        """Take the next job this runner may run (None when none may start now)."""
        while not self._stopping:
            now = self.clock()
            snapshot: list[QueueDoc] = []

            def take(doc: QueueDoc, now: float = now, snapshot: list[QueueDoc] = snapshot) -> Any:
                entry = pick(
                    doc.entries,
                    doc.running.values(),
                    now=now,
                    aging=self.config.aging,
                    global_limit=self.config.concurrency,
                    per_user_limit=self.config.per_user_concurrency,
                    analyzers=analyzers,
                )
                if entry is None:
                    return UNCHANGED
                doc.remove(entry.job_id)
                doc.running[entry.job_id] = Running(
                    entry.job_id,
                    entry.owner,
                    entry.analyzer,
                    runner,
                    now,
                    entry.priority,
                    entry.enqueued,
                    entry.seq,
                    entry.size,
                )
                snapshot.append(doc)
                return entry

            entry: Entry | None = await self.store.update_queue(take)
            if entry is UNCHANGED or entry is None:
                return None
            await self.store.backend.kv_set(
                "analysis:lease:" + entry.job_id, runner.encode(), ttl=self.config.lease_ttl
            )

            def start(job: Job, now: float = now) -> Any:
                if job.job_state != JobState.QUEUED:
                    return UNCHANGED
                job.state = int(JobState.RUNNING)
                job.started = now
                job.attempt += 1
                job.runner = runner
                return True

            job, ok = await self.store.update(entry.job_id, start)
            if job is None or not ok:  # cancelled or deleted meanwhile: drop and look again
                await self._release_running(entry.job_id, runner)
                continue
            waited = max(0.0, now - entry.enqueued)
            target = START_TARGETS.get(Priority(entry.priority))
            self.stats.started(Priority(entry.priority), waited, None if target is None else waited <= target)
            await self._emit(job, [Change("started")])
            await self._publish_positions(snapshot[-1])
            return job
        return None

    async def _release_running(self, job_id: str, runner: str | None) -> None:
        def drop(doc: QueueDoc) -> Any:
            found = doc.running.get(job_id)
            if found is None or (runner is not None and found.runner != runner):
                return UNCHANGED
            del doc.running[job_id]
            return None

        await self.store.update_queue(drop)
        await self.store.release_lease(job_id, runner)
        self.wake()

    async def _requeue(self, job_id: str, reason: str, expect_runner: str | None = None) -> bool:
        """Put a started job back in the queue (its runner died or left). True if it was."""

        def back(doc: QueueDoc) -> Any:
            r = doc.running.get(job_id)
            if r is None or (expect_runner is not None and r.runner != expect_runner):
                return UNCHANGED
            del doc.running[job_id]
            doc.entries.append(r.entry())
            return r

        r = await self.store.update_queue(back)
        if r is UNCHANGED:
            return False
        await self.store.release_lease(job_id, r.runner)

        now = self.clock()

        def reset(job: Job) -> Any:
            if job.job_state != JobState.RUNNING:
                return UNCHANGED
            if reason in RUNNER_DIED and not job.external and job.attempt >= self.attempts_of(job):
                # Its runner died on every attempt: maybe the job kills it. A dead letter, not a loop.
                job.state = int(JobState.FAILED)
                job.error = job.last_error = JobError(
                    int(Code.ABORTED),
                    f"the job's runner died during each of its {job.attempt} attempt(s) ({reason})",
                    "RUNNER_LOST",
                )
                job.finished = now
                return "failed"
            job.state = int(JobState.QUEUED)
            job.runner = ""
            job.phase = ""
            job.partials = []
            for p in job.phases:
                p["state"] = 1
            return True

        job, ok = await self.store.update(job_id, reset)
        if job is not None and ok == "failed":
            log.warning("analysis job %s failed: %s", job_id, job.error.message if job.error else reason)
            await self.store.update_queue(lambda doc: doc.remove(job_id) or UNCHANGED)
            await self._emit(job, [Change("done")])
        elif job is not None and ok:
            if self.backend.durable or reason != "shutdown":  # else stop() said they are lost
                log.warning("analysis job %s re-queued (%s)", job_id, reason)
            await self._emit(job, [Change("requeued")])
        elif job is not None and job.done:
            await self._release_running(job_id, None)
            await self.store.update_queue(lambda doc: doc.remove(job_id) or UNCHANGED)
        self.wake()
        return True

    def _revoke(self, job_id: str, runner: str, reason: str) -> None:
        """Tell `runner` to stop `job_id` (the runner layers override this)."""

    async def progress(
        self,
        job_id: str,
        runner: str,
        phase: str,
        fraction: float,
        partials: Sequence[dict[str, Any]] = (),
        unavailable: tuple[str, str] | None = None,
    ) -> Job:
        """Apply a runner's progress report; FAILED_PRECONDITION if the job is no longer its own."""
        new_partials: list[dict[str, Any]] = []
        now = self.clock()

        def apply(job: Job) -> Any:
            if job.job_state != JobState.RUNNING or job.runner != runner:
                raise failed_precondition(
                    "the job is no longer assigned to this runner", reason="JOB_NOT_HELD"
                )
            changes: list[Change] = []
            if unavailable is not None:
                mark_unavailable(job, unavailable[0])
                changes.append(Change("progress", unavailable[0]))
            if phase:
                changes.extend(advance(job, phase, fraction))
            for data in partials:
                partial = {"index": len(job.partials), "phase": job.phase, "data": data}
                job.partials.append(partial)
                new_partials.append(partial)
            if job.external:
                job.reported_at = now  # even a report that changes nothing shows the worker is alive
            elif not changes and not new_partials:
                return UNCHANGED
            return changes

        job, changes = await self.store.update(job_id, apply)
        if job is None:
            raise not_found(f"no analysis job {job_id}")
        if changes or new_partials:
            await self._emit(job, changes or [], new_partials)
        return job

    async def finish(
        self,
        job_id: str,
        runner: str,
        result: AnalyzerResult | None = None,
        error: JobError | None = None,
    ) -> Job | None:
        """End a job the runner holds with a result or an error; None if it no longer holds it."""
        now = self.clock()
        if result is not None:
            result = await asyncio.to_thread(fitted, result)
            await self.store.save_artifacts(job_id, result.artifacts)

        def end(job: Job) -> Any:
            if job.job_state != JobState.RUNNING or job.runner != runner:
                return UNCHANGED
            if error is None and result is not None:
                changes = finish_phases(job)
                job.state = int(JobState.SUCCEEDED)
                job.result = result.data
                job.artifacts = [
                    {"name": n, "content_type": ct, "size": len(d)} for n, ct, d in result.artifacts
                ]
            else:
                failed = error or JobError(int(Code.INTERNAL), "the analyzer failed", "INTERNAL")
                if self._schedule_retry(job, failed, now):
                    return [Change("requeued")]
                changes = []
                job.state = int(JobState.CANCELLED if failed.code == Code.CANCELLED else JobState.FAILED)
                job.error = failed
                if failed.code != Code.CANCELLED:
                    job.last_error = failed
                job.next_retry = 0.0
            job.finished = now
            return [*changes, Change("done")]

        job, changes = await self.store.update(job_id, end)
        if job is not None and changes is not None and job.job_state == JobState.QUEUED:
            await self._requeue_for_retry(job, runner)
            return job
        await self._release_running(job_id, runner)
        if job is None or changes is None:
            return None
        await self._emit(job, changes)
        elapsed = max(0.0, now - job.started)
        self.stats.finished(job.analyzer, job.job_state, elapsed)
        if job.job_state == JobState.SUCCEEDED:
            self._mean_run = 0.8 * self._mean_run + 0.2 * elapsed
        return job

    def _schedule_retry(self, job: Job, error: JobError, now: float) -> bool:
        """Turn a failed attempt into a wait for the next one, if the analyzer's policy allows."""
        policy = self.policy(job.analyzer)
        if job.external or job.cancel_requested or not policy.retries(error.code, job.attempt):
            return False
        if job.attempt >= self.attempts_of(job):
            return False
        job.state = int(JobState.QUEUED)
        job.runner = ""
        job.phase = ""
        job.percent = 0
        job.partials = []
        for p in job.phases:
            p["state"] = 1
        job.last_error = error
        job.next_retry = now + policy.backoff(job.attempt, self.random)
        return True

    async def _requeue_for_retry(self, job: Job, runner: str) -> None:
        """Move a job whose attempt failed from running back to the queue, not before its retry time."""

        def back(doc: QueueDoc) -> Any:
            r = doc.running.get(job.id)
            if r is None or r.runner != runner:
                return UNCHANGED
            del doc.running[job.id]
            doc.entries.append(r.entry(not_before=job.next_retry))
            return None

        await self.store.update_queue(back)
        await self.store.release_lease(job.id, runner)
        assert job.last_error is not None
        log.info(
            "analysis job %s attempt %d of %d failed (%s); retry at %.3f",
            job.id,
            job.attempt,
            job.max_attempts,
            job.last_error.reason,
            job.next_retry,
        )
        await self._emit(job, [Change("requeued")])
        self.wake()
