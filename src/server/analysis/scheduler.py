"""The scheduler: submit, run, watch, cancel and recover analysis jobs.

One `Scheduler` per hub process. State lives in a `JobStore` (in process, or in
Redis through the broker), so with Redis any replica may run any job:

- `submit` validates, stores the job and appends it to the queue (bounded:
  RESOURCE_EXHAUSTED with a retry delay when full).
- Runners take jobs with `claim`: the built-in analyzers are one local runner
  (analyzers run in a thread pool, off the event loop); remote workers (the
  `Work` stream) are others. `claim` applies the queue's order (priority, FIFO,
  aging) and the global and per-user concurrency limits.
- A running job holds a lease (a key with a TTL) renewed by its runner's
  heartbeat. A maintenance loop re-queues jobs whose lease expired (their
  replica or worker died): at-least-once, so analyzers must be idempotent.
- Every change is published on the job's channel `analysis:{id}`; watchers
  listen there. Completion is also published on `user:{owner}`.

Time comes from an injectable clock; tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..platform import tracing
from ..platform.auth import Principal
from ..platform.errors import (
    Code,
    HubError,
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    permission_denied,
    resource_exhausted,
)
from ..platform.streams import quiet
from .analyzers.base import AnalysisInput, Analyzer, AnalyzerResult, Cancelled, CancelToken
from .analyzers.registry import Registry
from .backend import Backend, ListenerOverflow
from .model import (
    START_TARGETS,
    Change,
    Job,
    JobError,
    JobState,
    PhaseSpec,
    Priority,
    advance,
    cancelled_error,
    fingerprint,
    finish_phases,
    mark_unavailable,
    new_phases,
    plan_from_ends,
)
from .queue import Entry, Running, estimated_wait, pick, positions
from .store import UNCHANGED, JobStore, QueueDoc

log = logging.getLogger("realtime.analysis")

WORKER_ROLE = "worker"
#: Plan of jobs for analyzers only remote workers know.
REMOTE_PLAN = plan_from_ends([("run", 100)])
#: Queued jobs told about their new position after each start (the rest learn on their next event).
POSITION_UPDATES = 20
MAX_REQUEST_ID = 128


@dataclass(frozen=True)
class SchedulerConfig:
    concurrency: int = 5
    per_user_concurrency: int = 3
    queue_limit: int = 1000
    aging: float = 10.0
    job_timeout: float = 120.0
    lease_ttl: float = 10.0
    retention: float = 24 * 3600.0
    poll_interval: float = 0.25
    max_input_bytes: int = 16 * 1024 * 1024
    max_wait: float = 60.0
    # A ReportProgress job whose worker sends nothing for this long fails (DEADLINE_EXCEEDED,
    # reason WORKER_SILENT) instead of showing RUNNING forever: the seed's 30 min of inactivity.
    reported_idle: float = 1800.0


class Stats(Protocol):
    """Where the scheduler reports figures (the service binds Prometheus metrics)."""

    def started(self, priority: Priority, waited: float, target_met: bool | None) -> None: ...

    def finished(self, analyzer: str, state: JobState, seconds: float) -> None: ...

    def queue_depth(self, depth: int, running: int) -> None: ...


class NoStats:
    def started(self, priority: Priority, waited: float, target_met: bool | None) -> None:
        pass

    def finished(self, analyzer: str, state: JobState, seconds: float) -> None:
        pass

    def queue_depth(self, depth: int, running: int) -> None:
        pass


@dataclass
class Event:
    """One change as a watcher sees it (`kind` is a WatchEventKind name in lower case)."""

    kind: str
    job: Job
    phase: str = ""
    partial: dict[str, Any] | None = None
    position: int = 0
    estimated_start: float = 0.0


@dataclass
class _LocalRun:
    token: CancelToken
    attempt: int
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class Scheduler:
    def __init__(
        self,
        backend: Backend,
        registry: Registry,
        config: SchedulerConfig = SchedulerConfig(),
        *,
        clock: Callable[[], float] = time.time,
        replica: str = "",
        stats: Stats | None = None,
        executor: Executor | None = None,
        run_local: bool = True,
    ) -> None:
        self.backend = backend
        self.store = JobStore(backend, config.retention)
        self.registry = registry
        self.config = config
        self.clock = clock
        self.replica = replica or uuid.uuid4().hex[:12]
        self.stats: Stats = stats or NoStats()
        self._executor = executor or ThreadPoolExecutor(
            max_workers=max(1, config.concurrency), thread_name_prefix="analysis"
        )
        self._own_executor = executor is None
        self._dispatch_enabled = run_local
        self._local: dict[str, _LocalRun] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._mean_run = 1.0
        # Remote runners on this replica: runner id -> callback(job_id, reason) to revoke a job.
        self._remote: dict[str, Callable[[str, str], None]] = {}
        self._remote_seen: dict[str, float] = {}
        self._remote_analyzers: dict[str, set[str]] = {}
        self._remote_held: dict[str, Callable[[], set[str]]] = {}

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if self._dispatch_enabled:
            self._spawn(self._dispatch_loop(), "analysis-dispatch")
        self._spawn(self._maintenance_loop(), "analysis-maintenance")

    async def stop(self) -> None:
        """Stop taking jobs; jobs running here go back to the queue (another replica or restart runs them)."""
        self._stopping = True
        self.wake()
        for job_id, run in list(self._local.items()):
            run.token.cancel("shutdown")
            with contextlib.suppress(HubError, OSError):
                await self._requeue(job_id, "shutdown", expect_runner=self.replica)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_executor and isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("analysis task %s crashed", task.get_name(), exc_info=task.exception())

    def wake(self) -> None:
        """Tell every runner waiting in `work_available` that the queue or the limits changed."""
        old, self._wake = self._wake, asyncio.Event()
        old.set()

    async def work_available(self, timeout: float) -> None:
        """Wait until `wake()` or `timeout` seconds (runners re-check the shared queue then)."""
        event = self._wake
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()

    # -- submit -------------------------------------------------------------------------
    def analyzer_for(self, name: str) -> Analyzer | None:
        return self.registry.find(name)

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
        fp = fingerprint(analyzer_name, data.data, data.text, options, priority)
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
        )
        if request_id:
            binding = await self.store.claim_request_id(owner, request_id, job.id, fp)
            if binding["job"] != job.id:
                if binding["fp"] != fp:
                    raise already_exists(
                        "request_id was already used for a different request",
                        reason="REQUEST_ID_REUSED",
                    )
                existing = await self.store.load(binding["job"])
                if existing is not None:
                    return existing
                await self.store.bind_request_id(owner, request_id, job.id, fp)  # its job expired
        await self.store.create(job, raw)
        try:
            await self._enqueue(job)
        except HubError:
            await self.store.delete(job)
            raise
        self.wake()
        return job

    async def _enqueue(self, job: Job) -> None:
        limit = self.config.queue_limit

        def add(doc: QueueDoc) -> None:
            if len(doc.entries) >= limit:
                wait = estimated_wait(
                    len(doc.entries) - limit + 1, len(doc.running), self.config.concurrency, self._mean_run
                )
                raise resource_exhausted(
                    f"the analysis queue is full ({limit} jobs waiting); retry later",
                    reason="QUEUE_FULL",
                    retry_after=max(1.0, wait),
                )
            doc.seq += 1
            doc.entries.append(Entry(job.id, job.owner, job.analyzer, job.priority, job.enqueued, doc.seq))

        await self.store.update_queue(add)

    # -- reading --------------------------------------------------------------------------
    async def get(self, job_id: str, who: Principal) -> Job:
        job = await self.store.load(job_id)
        if job is None:
            raise not_found(f"no analysis job {job_id}")
        _check_access(job, who)
        return job

    async def queue_info(self, job: Job) -> tuple[int, float]:
        """(position, estimated start time) of a queued job; (0, 0) otherwise."""
        if job.job_state != JobState.QUEUED:
            return 0, 0.0
        doc = await self.store.queue()
        now = self.clock()
        pos = positions(doc.entries, now, self.config.aging).get(job.id, 0)
        if pos == 0:
            return 0, 0.0
        return pos, now + estimated_wait(pos, len(doc.running), self.config.concurrency, self._mean_run)

    async def list_jobs(
        self,
        who: Principal,
        *,
        done: bool | None = None,
        analyzer: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Job], int]:
        """The caller's jobs (admins: all), newest first; returns (page, next offset or 0)."""
        ids = await self.store.index(None if who.is_admin else who.subject)
        found: list[Job] = []
        skipped = 0
        for job_id in reversed(ids):
            job = await self.store.load(job_id)
            if job is None or (done is not None and job.done != done):
                continue
            if analyzer and job.analyzer != analyzer:
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(found) == limit:
                return found, offset + limit
            found.append(job)
        return found, 0

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

    # -- watching ---------------------------------------------------------------------------
    async def watch(self, job_id: str, who: Principal) -> AsyncGenerator[Event, None]:
        """A snapshot first, then every change until done. Resyncs (new snapshot) if it falls behind."""
        last_version = -1
        first = True
        while True:
            async with self.backend.listen("analysis:" + job_id) as listener:
                job = await self.get(job_id, who)
                if job.version > last_version or first:
                    pos, eta = await self.queue_info(job)
                    yield Event("snapshot", job, job.phase, position=pos, estimated_start=eta)
                    last_version = job.version
                    first = False
                if job.done:
                    return
                current = job
                try:
                    while True:
                        raw = json.loads(await listener.get())
                        if raw["kind"] == "queue_position":
                            if current.job_state == JobState.QUEUED:
                                yield Event(
                                    "queue_position",
                                    current,
                                    position=raw["position"],
                                    estimated_start=raw["eta"],
                                )
                            continue
                        if raw["kind"] == "deleted":
                            return
                        job = Job.from_json(raw["job"].encode())
                        if job.version < last_version:
                            continue
                        last_version = job.version
                        current = job
                        yield Event(raw["kind"], job, raw.get("phase", ""), raw.get("partial"))
                        if raw["kind"] == "done":
                            return
                except ListenerOverflow:
                    continue  # fell behind: listen again and start from a fresh snapshot

    async def wait(self, job_id: str, who: Principal, timeout: float | None) -> Job:
        timeout = self.config.max_wait if timeout is None else min(max(timeout, 0.0), self.config.max_wait)
        job = await self.get(job_id, who)
        if job.done or timeout == 0:
            return job
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                async for event in self.watch(job_id, who):
                    job = event.job
                    if job.done:
                        break
        return await self.get(job_id, who)

    # -- events -------------------------------------------------------------------------------
    async def _emit(
        self, job: Job, changes: Sequence[Change], partials: Sequence[dict[str, Any]] = ()
    ) -> None:
        channel = "analysis:" + job.id
        snapshot = job.to_json().decode()
        meta = {"p": "analysis", "ct": "application/json"}
        for change in changes:
            body: dict[str, Any] = {"kind": change.kind, "phase": change.phase, "job": snapshot}
            await self.backend.publish(
                channel, json.dumps(body).encode(), history=50, meta={**meta, "t": change.kind}
            )
        for partial in partials:
            body = {"kind": "partial_result", "phase": partial["phase"], "job": snapshot, "partial": partial}
            await self.backend.publish(
                channel, json.dumps(body).encode(), history=50, meta={**meta, "t": "partial_result"}
            )
        if job.done and any(c.kind == "done" for c in changes):
            state = JobState(job.state).name
            note = {
                "type": "analysis.done",
                "name": job.name,
                "analyzer": job.analyzer,
                "state": state,
                **({"error": job.error.message} if job.error else {}),
            }
            level = {"SUCCEEDED": "success", "FAILED": "error"}.get(state, "info")
            await self.backend.publish(
                "user:" + job.owner,
                json.dumps(note).encode(),
                history=100,
                meta={
                    **meta,
                    "t": f"{job.analyzer} {state.lower()}",
                    "b": job.error.message if job.error else f"{job.name} finished",
                    "l": level,
                },
            )

    async def _publish_positions(self, doc: QueueDoc) -> None:
        now = self.clock()
        order = positions(doc.entries, now, self.config.aging)
        running = len(doc.running)
        self.stats.queue_depth(len(doc.entries), running)
        for job_id, pos in sorted(order.items(), key=lambda kv: kv[1])[:POSITION_UPDATES]:
            eta = now + estimated_wait(pos, running, self.config.concurrency, self._mean_run)
            body = {"kind": "queue_position", "position": pos, "eta": eta}
            await self.backend.publish("analysis:" + job_id, json.dumps(body).encode())

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
            doc.entries.append(Entry(job_id, r.owner, r.analyzer, r.priority, r.enqueued, r.seq))
            return r

        r = await self.store.update_queue(back)
        if r is UNCHANGED:
            return False
        await self.store.release_lease(job_id, r.runner)

        def reset(job: Job) -> Any:
            if job.job_state != JobState.RUNNING:
                return UNCHANGED
            job.state = int(JobState.QUEUED)
            job.runner = ""
            job.phase = ""
            job.partials = []
            for p in job.phases:
                p["state"] = 1
            return True

        job, ok = await self.store.update(job_id, reset)
        if job is not None and ok:
            log.warning("analysis job %s re-queued (%s)", job_id, reason)
            await self._emit(job, [Change("requeued")])
        elif job is not None and job.done:
            await self._release_running(job_id, None)
            await self.store.update_queue(lambda doc: doc.remove(job_id) or UNCHANGED)
        self.wake()
        return True

    def _revoke(self, job_id: str, runner: str, reason: str) -> None:
        run = self._local.get(job_id)
        if run is not None and runner == self.replica:
            run.token.cancel(reason)
            run.stopped.set()
        callback = self._remote.get(runner)
        if callback is not None:
            callback(job_id, reason)

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
            await self.store.save_artifacts(job_id, result.artifacts)

        def end(job: Job) -> Any:
            if job.job_state != JobState.RUNNING or job.runner != runner:
                return UNCHANGED
            changes = []
            if error is None and result is not None:
                changes = finish_phases(job)
                job.state = int(JobState.SUCCEEDED)
                job.result = result.data
                job.artifacts = [
                    {"name": n, "content_type": ct, "size": len(d)} for n, ct, d in result.artifacts
                ]
            else:
                job.state = int(
                    JobState.CANCELLED
                    if error is not None and error.code == Code.CANCELLED
                    else JobState.FAILED
                )
                job.error = error or JobError(int(Code.INTERNAL), "the analyzer failed", "INTERNAL")
            job.finished = now
            return [*changes, Change("done")]

        job, changes = await self.store.update(job_id, end)
        await self._release_running(job_id, runner)
        if job is None or changes is None:
            return None
        await self._emit(job, changes)
        elapsed = max(0.0, now - job.started)
        self.stats.finished(job.analyzer, job.job_state, elapsed)
        if job.job_state == JobState.SUCCEEDED:
            self._mean_run = 0.8 * self._mean_run + 0.2 * elapsed
        return job

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
                    run = _LocalRun(CancelToken(), job.attempt)
                    stale = self._local.get(job.id)
                    if stale is not None:
                        # Our earlier attempt lost its lease (a stalled loop) and the job came back
                        # to us: the new attempt supersedes it, and the lease it renews is the new one's.
                        stale.token.cancel("lease_lost")
                        stale.stopped.set()
                    self._local[job.id] = run
                    self._spawn(self._run_local(job, run), f"analysis-job-{job.id}")
            except Exception:  # the store is unreachable (Redis down): keep the runner alive, retry
                log.exception("analysis dispatch failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_poll):
                    await event.wait()

    async def job_input(self, job: Job) -> AnalysisInput:
        """The stored input of `job` as its analyzer (local or remote) receives it."""
        raw = await self.store.input(job.id)
        text = raw.decode("utf-8", errors="replace") if job.content_type == "text/plain" else None
        return AnalysisInput(
            data=b"" if text is not None else raw,
            text=text,
            content_type=job.content_type,
            filename=job.filename,
        )

    async def _run_local(self, job: Job, run: _LocalRun) -> None:
        with tracing.background_span("analysis.run", job.traceparent, **{"realtime.job": job.id}):
            await self._run_local_traced(job, run)

    async def _run_local_traced(self, job: Job, run: _LocalRun) -> None:
        loop = asyncio.get_running_loop()
        try:
            analyzer = self.registry.get(job.analyzer)
            data = await self.job_input(job)
            reports: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
            reporter = _ThreadProgress(loop, reports, analyzer.phases)
            work: asyncio.Future[AnalyzerResult] = loop.run_in_executor(
                self._executor, analyzer.run, data, job.options, reporter, run.token
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
            if run.stopped.is_set():
                return
            await self.finish(job.id, self.replica, result=result)
        except HubError as err:
            log.warning("analysis job %s could not finish here: %s", job.id, err)
        finally:
            if self._local.get(job.id) is run:  # not a newer attempt of the same job
                del self._local[job.id]
            self.wake()

    async def _pump(self, job_id: str, reports: asyncio.Queue[tuple[str, Any]], run: _LocalRun) -> None:
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

    @property
    def idle_poll(self) -> float:
        """How often an idle runner re-checks the queue (other replicas' submits do not wake us)."""
        return self.config.poll_interval if self.backend.shared else 1.0

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
        if request_id:
            binding = await self.store.claim_request_id(who.subject, request_id, job.id, fp)
            if binding["job"] != job.id:
                if binding["fp"] != fp:
                    raise already_exists(
                        "request_id was already used for a different job", reason="REQUEST_ID_REUSED"
                    )
                existing = await self.store.load(binding["job"])
                if existing is not None:
                    return existing
        await self.store.create(job, b"")
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

    # -- maintenance ----------------------------------------------------------------------------
    async def _maintenance_loop(self) -> None:
        interval = max(0.05, self.config.lease_ttl / 3)
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


def _check_access(job: Job, who: Principal) -> None:
    if job.owner != who.subject and not who.is_admin and job.runner != "external:" + who.subject:
        raise permission_denied("this analysis job belongs to another user")


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


def job_summary(job: Job) -> dict[str, Any]:
    """A JSON-friendly view (CLI, logs)."""
    data = asdict(job)
    data["state"] = JobState(job.state).name
    return data
