"""Remote runners: workers on a `Work` stream, and jobs that external workers report.

A `Work` session registers its runner here with a revoke callback; it claims jobs
through the dispatcher like the local runner does. `ReportProgress` jobs
(`create_reported`/`report`) are run by a worker the hub never dispatches to;
maintenance fails them when their worker goes silent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ..platform.auth import Principal
from ..platform.errors import (
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    permission_denied,
)
from .analyzers.base import AnalyzerResult
from .jobs import WORKER_ROLE
from .local_runner import LocalRunner
from .model import (
    Change,
    Job,
    JobError,
    JobState,
    Priority,
    fingerprint,
    new_phases,
    plan_from_ends,
)
from .store import UNCHANGED, QueueDoc


class RemoteRunners(LocalRunner):
    def _revoke(self, job_id: str, runner: str, reason: str) -> None:
        callback = self._remote.get(runner)
        if callback is not None:
            callback(job_id, reason)
        super()._revoke(job_id, runner, reason)

    # -- remote runners ----------------------------------------------------------------------
    async def register_remote(
        self,
        runner: str,
        analyzers: set[str],
        revoke: Callable[[str, str], None],
        held: Callable[[], set[str]] | None = None,
    ) -> None:
        """A remote worker on this replica. `revoke(job, reason)` tells it to stop a job ("" = all);
        `held()` lists the jobs it thinks it runs (checked against the store by `maintain`)."""
        self._remote[runner] = revoke
        if held is not None:
            self._remote_held[runner] = held
        self._remote_seen[runner] = self.clock()
        self._remote_analyzers[runner] = analyzers
        for name in analyzers:
            await self.backend.kv_set("analysis:remote:" + name, b"1", ttl=self.config.lease_ttl * 3)

    async def heartbeat_remote(self, runner: str) -> None:
        self._remote_seen[runner] = self.clock()
        for name in self._remote_analyzers.get(runner, ()):
            await self.backend.kv_set("analysis:remote:" + name, b"1", ttl=self.config.lease_ttl * 3)

    async def unregister_remote(self, runner: str, reason: str = "worker left") -> None:
        self._remote.pop(runner, None)
        self._remote_held.pop(runner, None)
        self._remote_seen.pop(runner, None)
        self._remote_analyzers.pop(runner, None)
        doc = await self.store.queue()
        for job_id, r in doc.running.items():
            if r.runner == runner:
                await self._requeue(job_id, reason, expect_runner=runner)

    # -- reported jobs (ReportProgress) ------------------------------------------------------
    async def create_reported(
        self, who: Principal, kind: str, plan: list[tuple[str, int]], owner: str, request_id: str
    ) -> Job:
        if not who.has_role(WORKER_ROLE) and not who.is_admin:
            raise permission_denied("reporting jobs needs the 'worker' role")
        if not kind or len(kind) > 100:
            raise invalid_argument("kind is required (at most 100 characters)", [("create.kind", "")])
        phases = plan_from_ends(plan)
        now = self.clock()
        runner = "external:" + who.subject
        job = Job(
            id=uuid.uuid4().hex,
            owner=owner or who.subject,
            analyzer=kind,
            priority=int(Priority.NORMAL),
            state=int(JobState.RUNNING),
            phases=new_phases(phases),
            created=now,
            enqueued=now,
            started=now,
            reported_at=now,
            attempt=1,
            runner=runner,
            external=True,
            request_id=request_id,
        )
        fp = fingerprint(kind, b"", json.dumps(plan), {"owner": job.owner}, 0)
        job.fingerprint = fp
        await self.store.create(job, b"")
        if request_id:  # bound once the job is stored: a retry in flight finds this job
            existing = await self.store.bind_request_id(who.subject, request_id, job)
            if existing is not None:
                await self.store.delete(job)
                if existing.fingerprint != fp:
                    raise already_exists(
                        "request_id was already used for a different job", reason="REQUEST_ID_REUSED"
                    )
                return existing
        await self._watch_reported(job.id, now + self.config.reported_idle)
        await self._emit(job, [Change("started")])
        return job

    async def _watch_reported(self, job_id: str, deadline: float) -> None:
        """When to look at a reported job again; its worker's reports only touch the job itself."""

        def watch(doc: QueueDoc) -> Any:
            doc.reported[job_id] = deadline
            return None

        await self.store.update_queue(watch)

    async def _forget_reported(self, job_ids: Sequence[str]) -> None:
        def drop(doc: QueueDoc) -> Any:
            if not any(j in doc.reported for j in job_ids):
                return UNCHANGED
            for j in job_ids:
                doc.reported.pop(j, None)
            return None

        await self.store.update_queue(drop)

    async def report(
        self,
        who: Principal,
        job_id: str,
        phase: str,
        fraction: float,
        partials: list[dict[str, Any]],
        result: AnalyzerResult | None,
        error: JobError | None,
    ) -> Job:
        if not who.has_role(WORKER_ROLE) and not who.is_admin:
            raise permission_denied("reporting jobs needs the 'worker' role")
        job = await self.store.load(job_id)
        if job is None:
            raise not_found(f"no analysis job {job_id}")
        if not job.external or (job.runner != "external:" + who.subject and not who.is_admin):
            raise permission_denied("this job is not reported by you")
        if job.done:
            raise failed_precondition("the job is already done", reason="JOB_DONE")
        ending = result is not None or error is not None
        if phase or partials or not ending:  # a bare report is a heartbeat: it records the time
            job = await self.progress(job_id, job.runner, phase, fraction, partials)
        if ending:
            done = await self.finish(job_id, job.runner, result=result, error=error)
            if done is None:
                raise failed_precondition("the job is already done", reason="JOB_DONE")
            await self._forget_reported([job_id])
            return done
        return job
