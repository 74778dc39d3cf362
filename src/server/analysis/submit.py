"""Submitting a job: validation, idempotency by request id, and admission to the queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from ..platform import tracing
from ..platform.errors import (
    HubError,
    already_exists,
    invalid_argument,
    resource_exhausted,
)
from .analyzers.base import AnalysisInput
from .jobs import JobsCore
from .model import (
    Job,
    JobState,
    Priority,
    fingerprint,
    new_phases,
    plan_from_ends,
)
from .queue import Entry, estimated_wait, queued_by
from .store import INDEX_LIMIT, QueueDoc

#: Plan of jobs for analyzers only remote workers know.
REMOTE_PLAN = plan_from_ends([("run", 100)])
MAX_REQUEST_ID = 128


class Submitter(JobsCore):
    async def known_remote(self, name: str) -> bool:
        return await self.backend.kv_get("analysis:remote:" + name) is not None

    async def submit(
        self,
        owner: str,
        analyzer_name: str,
        data: AnalysisInput,
        options: Mapping[str, Any] | None = None,
        priority: int = 0,
        request_id: str = "",
    ) -> Job:
        options = dict(options or {})
        if not analyzer_name:
            raise invalid_argument("analyzer is required", [("analyzer", "empty")], reason="UNKNOWN_ANALYZER")
        analyzer = self.registry.find(analyzer_name)
        if analyzer is None and not await self.known_remote(analyzer_name):
            self.registry.get(analyzer_name)  # raises UNKNOWN_ANALYZER listing what exists
        if data.size > self.config.max_input_bytes:
            raise invalid_argument(
                f"input is {data.size} bytes; at most {self.config.max_input_bytes} allowed",
                [("input", "too large")],
                reason="INPUT_TOO_LARGE",
            )
        if priority == 0:
            priority = Priority.NORMAL
        if priority not in tuple(Priority):
            raise invalid_argument("unknown priority", [("priority", str(priority))])
        if len(request_id) > MAX_REQUEST_ID:
            raise invalid_argument("request_id is too long", [("request_id", f"at most {MAX_REQUEST_ID}")])
        if analyzer is not None:
            # Header checks are cheap but still off the loop; not on the job pool, which may be full.
            await asyncio.to_thread(analyzer.validate, data, options)
        plan = analyzer.phases if analyzer is not None else REMOTE_PLAN
        raw = data.data if data.text is None else data.text.encode()
        # hashlib releases the GIL: a 256 MiB upload hashes in ~0.3 s, which must not stall the loop.
        fp = await asyncio.to_thread(fingerprint, analyzer_name, data.data, data.text, options, priority)
        now = self.clock()
        job = Job(
            id=uuid.uuid4().hex,
            owner=owner,
            analyzer=analyzer_name,
            priority=int(priority),
            state=int(JobState.QUEUED),
            phases=new_phases(plan),
            created=now,
            enqueued=now,
            content_type=data.content_type or ("text/plain" if data.text is not None else ""),
            filename=data.filename,
            options=options,
            request_id=request_id,
            fingerprint=fp,
            input_size=len(raw),
            traceparent=tracing.current_traceparent(),
            max_attempts=self.policy(analyzer_name).attempts,
        )
        if request_id and (existing := await self.store.bound_job(owner, request_id)) is not None:
            return _same_request(existing, fp)  # a retry: even when the queue is full now
        self._admit(await self.store.queue(), owner, len(raw))  # before storing a refused input
        if self.config.user_jobs > 0:  # room for this one among the jobs the user keeps
            await self.store.trim_owner(owner, min(self.config.user_jobs, INDEX_LIMIT) - 1)
        await self.store.create(job, raw)
        try:
            if request_id:  # bound once the job is stored: a retry in flight finds this job
                existing = await self.store.bind_request_id(owner, request_id, job)
                if existing is not None:
                    await self.store.delete(job)
                    return _same_request(existing, fp)
            await self._enqueue(job)
        except HubError:
            await self.store.delete(job)  # (again: deleting is idempotent) frees its request id
            raise
        self.wake()
        return job

    async def _enqueue(self, job: Job) -> None:
        def add(doc: QueueDoc) -> None:
            self._admit(doc, job.owner, job.input_size)
            doc.seq += 1
            doc.entries.append(
                Entry(job.id, job.owner, job.analyzer, job.priority, job.enqueued, doc.seq, job.input_size)
            )

        await self.store.update_queue(add)

    def _admit(self, doc: QueueDoc, owner: str, size: int) -> None:
        """RESOURCE_EXHAUSTED (with QuotaFailure and RetryInfo) when `owner` may not queue `size`
        more bytes: the owner's own limits first, so one user's flood never fills the shared queue."""
        cfg = self.config
        jobs, queued = queued_by(doc.entries, owner)
        wait = max(1.0, estimated_wait(jobs + 1, len(doc.running), cfg.concurrency, self._mean_run))
        subject = "user:" + owner
        if cfg.user_queue_limit > 0 and jobs >= cfg.user_queue_limit:
            raise resource_exhausted(
                f"you have {jobs} analysis jobs waiting; at most {cfg.user_queue_limit} per user",
                reason="USER_QUEUE_FULL",
                retry_after=wait,
                quota=[(subject, f"queued analysis jobs per user (limit {cfg.user_queue_limit})")],
            )
        if cfg.user_queue_bytes > 0 and queued + size > cfg.user_queue_bytes:
            raise resource_exhausted(
                f"your waiting analysis jobs hold {queued} input bytes; this one adds {size}, "
                f"at most {cfg.user_queue_bytes} per user",
                reason="USER_QUEUE_BYTES",
                retry_after=wait,
                quota=[(subject, f"queued input bytes per user (limit {cfg.user_queue_bytes})")],
            )
        if cfg.queue_limit > 0 and len(doc.entries) >= cfg.queue_limit:
            wait = estimated_wait(
                len(doc.entries) - cfg.queue_limit + 1, len(doc.running), cfg.concurrency, self._mean_run
            )
            raise resource_exhausted(
                f"the analysis queue is full ({cfg.queue_limit} jobs waiting); retry later",
                reason="QUEUE_FULL",
                retry_after=max(1.0, wait),
                quota=[("analysis-queue", f"queued analysis jobs, all users (limit {cfg.queue_limit})")],
            )


def _same_request(existing: Job, fp: str) -> Job:
    """The job an earlier call with the same request_id made; ALREADY_EXISTS for another request."""
    if existing.fingerprint != fp:
        raise already_exists(
            "request_id was already used for a different request", reason="REQUEST_ID_REUSED"
        )
    return existing
