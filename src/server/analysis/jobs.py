"""The scheduler's base layer: its state, reading jobs, watching them, and publishing changes.

The scheduler is built in layers, one module each, every layer a subclass of the one below:

    jobs.JobsCore            state, get/list/queue position, watch/wait, events  (this module)
    submit.Submitter         validation, idempotent submit, queue admission
    dispatch.Dispatcher      claim, progress, finish, re-queue, cancel: the job's state machine
    local_runner.LocalRunner the built-in analyzers in a thread pool on this replica
    remote_runner.RemoteRunners  `Work` stream workers and `ReportProgress` jobs
    maintenance.Maintenance  leases, orphaned jobs, silent workers, restarts
    scheduler.Scheduler      start/stop: the class the service uses

Nothing here imports grpc; time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..platform.auth import Principal
from ..platform.errors import (
    not_found,
    permission_denied,
)
from .analyzers.base import AnalysisInput, CancelToken
from .analyzers.registry import Registry
from .backend import Backend, ListenerOverflow
from .model import (
    Change,
    Job,
    JobState,
    Priority,
)
from .queue import estimated_wait, positions
from .retry import DEFAULT_RETRY, RetryPolicy
from .store import JobStore, QueueDoc

log = logging.getLogger("realtime.analysis")

WORKER_ROLE = "worker"
#: Queued jobs told about their new position after each start (the rest learn on their next event).
POSITION_UPDATES = 20


@dataclass(frozen=True)
class SchedulerConfig:
    concurrency: int = 5
    per_user_concurrency: int = 3
    queue_limit: int = 1000
    user_queue_limit: int = 100
    user_queue_bytes: int = 256 * 1024 * 1024
    # Jobs one user keeps (queued, running and finished, the newest): older finished ones are
    # deleted before their retention ends. At most 5000 (what ListOperations can list). 0: no limit.
    user_jobs: int = 5000
    decode_pixels: int = 40_000_000
    aging: float = 10.0
    job_timeout: float = 120.0
    lease_ttl: float = 10.0
    retention: float = 24 * 3600.0
    poll_interval: float = 0.25
    max_input_bytes: int = 256 * 1024 * 1024  # inline inputs stop at the message limit; uploads go to this
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
class LocalRun:
    token: CancelToken
    attempt: int
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class JobsCore:
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
        self._local: dict[str, LocalRun] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._mean_run = 1.0
        self.random = random.Random()  # retry jitter (tests seed it)
        # Remote runners on this replica: runner id -> callback(job_id, reason) to revoke a job.
        self._remote: dict[str, Callable[[str, str], None]] = {}
        self._remote_seen: dict[str, float] = {}
        self._remote_analyzers: dict[str, set[str]] = {}
        self._remote_held: dict[str, Callable[[], set[str]]] = {}

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

    @property
    def idle_poll(self) -> float:
        """How often an idle runner re-checks the queue (other replicas' submits do not wake us)."""
        return self.config.poll_interval if self.backend.shared else 1.0

    def policy(self, analyzer: str) -> RetryPolicy:
        """The retry policy of `analyzer` (the default for analyzers only remote workers know)."""
        found = self.registry.find(analyzer)
        return found.retry if found is not None else DEFAULT_RETRY

    def attempts_of(self, job: Job) -> int:
        """How many runs `job` may have in all."""
        return job.max_attempts or self.policy(job.analyzer).attempts

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
        state: JobState | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Job], int]:
        """The caller's jobs (admins: all), newest first; returns (page, next offset or 0).
        `state=FAILED` is the dead-letter view: jobs out of attempts, with their last error."""
        ids = await self.store.index(None if who.is_admin else who.subject)
        found: list[Job] = []
        skipped = 0
        for job_id in reversed(ids):
            job = await self.store.load(job_id)
            if job is None or (done is not None and job.done != done):
                continue
            if (analyzer and job.analyzer != analyzer) or (state is not None and job.state != state):
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(found) == limit:
                return found, offset + limit
            found.append(job)
        return found, 0

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


def _check_access(job: Job, who: Principal) -> None:
    if job.owner != who.subject and not who.is_admin and job.runner != "external:" + who.subject:
        raise permission_denied("this analysis job belongs to another user")
