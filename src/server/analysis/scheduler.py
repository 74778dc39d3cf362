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
from concurrent.futures import ThreadPoolExecutor

from ..platform.errors import HubError
from .analyzers.imaging import BUDGET
from .jobs import WORKER_ROLE, Event, NoStats, SchedulerConfig, Stats, log
from .maintenance import Maintenance

__all__ = ["WORKER_ROLE", "Event", "NoStats", "Scheduler", "SchedulerConfig", "Stats"]


class Scheduler(Maintenance):
    """One per hub process (see the module doc for the layers it is made of)."""

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        BUDGET.configure(self.config.decode_pixels)
        if self._dispatch_enabled:
            self._spawn(self._dispatch_loop(), "analysis-dispatch")
        self._spawn(self._maintenance_loop(), "analysis-maintenance")

    async def stop(self) -> None:
        """Stop taking jobs; jobs running here go back to the queue (another replica or restart runs them)."""
        self._stopping = True
        self.wake()
        if not self.backend.durable:
            await self._say_what_is_lost()
        for job_id, run in list(self._local.items()):
            run.token.cancel("shutdown")
            with contextlib.suppress(HubError, OSError):
                await self._requeue(job_id, "shutdown", expect_runner=self.replica)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._own_executor and isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _say_what_is_lost(self) -> None:
        """On an engine that forgets on restart, the log must not promise that jobs come back."""
        with contextlib.suppress(HubError, OSError):
            doc = await self.store.queue()
            if doc.entries or self._local:
                log.warning(
                    "analysis: stopping on the %s engine, which keeps nothing across restarts: "
                    "%d queued job(s) and %d running here are lost when this process exits",
                    self.backend.engine,
                    len(doc.entries),
                    len(self._local),
                )
