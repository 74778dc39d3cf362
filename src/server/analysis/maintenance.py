"""Maintenance: what keeps the shared queue honest when runners die, stall or go silent.

Every `lease_ttl / 3` seconds each replica renews the leases of the jobs it runs,
drops remote workers that missed heartbeats, re-queues jobs whose lease expired
(their replica or worker died: at-least-once, so analyzers must be idempotent),
times out remote jobs, and fails reported jobs whose worker went silent.
"""

from __future__ import annotations

import asyncio
import logging

from ..platform.errors import (
    Code,
)
from .model import (
    JobError,
)
from .remote_runner import RemoteRunners
from .store import QueueDoc

log = logging.getLogger("realtime.analysis")


class Maintenance(RemoteRunners):
    # -- maintenance ----------------------------------------------------------------------------
    async def recover(self) -> int:
        """At start: say honestly what happened to jobs from before. On a durable engine, re-queue
        running jobs whose runner is gone (no lease) now; jobs whose lease is still alive come back
        when it expires (at most lease_ttl). Returns how many were re-queued."""
        engine = self.backend.engine
        if not self.backend.durable:
            log.warning(
                "analysis: the %s engine keeps no jobs across restarts: jobs submitted before this "
                "start (if any) were lost; use a durable broker (e.g. --broker redis://...) to keep them",
                engine,
            )
            return 0
        doc = await self.store.queue()
        now = self.clock()
        requeued = 0
        for job_id, r in list(doc.running.items()):
            if now - r.started < min(1.0, self.config.lease_ttl):
                continue  # just claimed by a live replica, which sets its lease right after
            if await self.store.lease_holder(job_id) is None and await self._requeue(job_id, "restart"):
                requeued += 1
        log.info(
            "analysis: the %s engine keeps jobs across restarts: %d queued job(s) from before kept, "
            "%d running job(s) whose runner is gone re-queued, %d still held by a live lease",
            engine,
            len(doc.entries),
            requeued,
            len(doc.running) - requeued,
        )
        return requeued

    async def _maintenance_loop(self) -> None:
        interval = max(0.05, self.config.lease_ttl / 3)
        try:
            await self.recover()
        except Exception:
            log.exception("analysis: recovering jobs from before this start failed")
        while not self._stopping:
            try:
                await self.maintain()
            except Exception:
                log.exception("analysis maintenance failed")
            await asyncio.sleep(interval)

    async def maintain(self) -> None:
        """Renew our leases, drop silent workers, re-queue orphaned jobs, time out stuck ones."""
        now = self.clock()
        ttl = self.config.lease_ttl
        for job_id, run in list(self._local.items()):
            if not await self.store.renew_lease(job_id, self.replica, ttl):
                run.token.cancel("lease_lost")
                run.stopped.set()
        for runner, seen in list(self._remote_seen.items()):
            if now - seen > ttl:
                callback = self._remote.get(runner)
                await self.unregister_remote(runner, "worker missed heartbeats")
                if callback is not None:
                    callback("", "lease_lost")
        doc = await self.store.queue()
        for job_id, r in doc.running.items():
            if r.runner in self._remote and now - self._remote_seen.get(r.runner, 0.0) <= ttl:
                await self.store.renew_lease(job_id, r.runner, ttl)
                if now - r.started > self.config.job_timeout:
                    self._revoke(job_id, r.runner, "timeout")
                    await self.finish(
                        job_id,
                        r.runner,
                        error=JobError(
                            int(Code.DEADLINE_EXCEEDED), "the worker did not finish in time", "JOB_TIMEOUT"
                        ),
                    )
                continue
            if r.runner == self.replica and job_id in self._local:
                continue
            if now - r.started > ttl and await self.store.lease_holder(job_id) is None:
                await self._requeue(job_id, "lease expired")
        # Jobs our workers hold that were cancelled or taken away on another replica: tell them.
        for runner, held in list(self._remote_held.items()):
            for job_id in held() - {j for j, r in doc.running.items() if r.runner == runner}:
                job = await self.store.load(job_id)
                if job is None or job.done or job.runner != runner:
                    callback = self._remote.get(runner)
                    if callback is not None:
                        callback(
                            job_id, "cancelled" if job is not None and job.cancel_requested else "lease_lost"
                        )
        await self._expire_reported(doc, now)
        self.stats.queue_depth(len(doc.entries), len(doc.running))

    async def _expire_reported(self, doc: QueueDoc, now: float) -> None:
        """At each due check: fail a reported job whose worker went silent, push the check of one
        that reported since to its last report + reported_idle, forget the ones that ended."""
        idle = self.config.reported_idle
        ended: list[str] = []
        for job_id, due in list(doc.reported.items()):
            if now <= due:
                continue
            job = await self.store.load(job_id)
            if job is not None and not job.done and job.external:
                if now - job.reported_at <= idle:
                    await self._watch_reported(job_id, job.reported_at + idle)
                    continue
                await self.finish(
                    job_id,
                    job.runner,
                    error=JobError(
                        int(Code.DEADLINE_EXCEEDED),
                        f"the reporting worker sent nothing for {idle:g} s",
                        "WORKER_SILENT",
                    ),
                )
            ended.append(job_id)
        if ended:
            await self._forget_reported(ended)
