"""Big FixTextBatch requests fixed in worker processes, so they use more than one core.

Profiling batches of 100 texts through the hub showed the event loop idle most of the time:
the fixing ran in a thread, and the GIL kept it and the loop on one core. Worker processes
fix AND encode (wire.py), so the loop only parses the request and joins bytes.

- Started lazily, in the background, on the first big batch; until they are ready (and
  whenever they are not: a crashed worker, shutdown), the caller falls back to its thread
  pool, so a batch is never slower than before and never fails because of the pool.
- `spawn`, not fork: forking a process that runs gRPC's threads is unsafe.
- Each worker loads its own lexicon once (about a second) in the pool's initializer.

Plain Python; `service.py` decides which batches come here.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import wire
from .fixer import Operation, TextFixer

log = logging.getLogger("realtime.text")

Plan = tuple[str, frozenset[Operation]]

_fixer: TextFixer | None = None  # one per worker process


def _init_worker() -> None:
    global _fixer
    _fixer = TextFixer()


def fix_and_encode(
    fixer: TextFixer, plans: Sequence[Plan], hints: Collection[str], context: Sequence[str] = ()
) -> list[bytes]:
    """Each text fixed and serialized as a realtime.v1.TextFix (any runner: loop, thread, worker)."""
    return [wire.text_fix(fixer.fix(text, ops, hints, context=context)) for text, ops in plans]


def _fix_in_worker(plans: Sequence[Plan], hints: Collection[str], context: Sequence[str]) -> list[bytes]:
    assert _fixer is not None, "the pool's initializer builds the fixer"
    return fix_and_encode(_fixer, plans, hints, context)


def _ready() -> bool:
    return _fixer is not None


class ProcessBatches:
    def __init__(self, workers: int, start_timeout: float = 60.0) -> None:
        self.workers = workers
        self._start_timeout = start_timeout
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def ready(self) -> bool:
        return self._ready and not self._closed

    def warm(self) -> None:
        """Start the workers in the background (idempotent; no-op once closed or running)."""
        if self._closed or self.workers <= 0 or self._pool is not None or self._starting is not None:
            return
        self._starting = asyncio.get_running_loop().create_task(self._start(), name="text-batch-workers")

    async def _start(self) -> None:
        pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
        )
        self._pool = pool
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._start_timeout):
                ok = await asyncio.gather(*(loop.run_in_executor(pool, _ready) for _ in range(self.workers)))
            self._ready = all(ok) and not self._closed
            log.info("text batch workers ready", extra={"workers": self.workers})
        except (BrokenProcessPool, OSError, TimeoutError, RuntimeError) as exc:
            log.warning("text batch workers did not start (%s); batches stay on threads", exc)
            self._discard()
        finally:
            self._starting = None

    async def fix(
        self, plans: Sequence[Plan], hints: Collection[str], context: Sequence[str] = ()
    ) -> list[bytes] | None:
        """Encoded TextFix per plan, or None when the workers cannot take it yet (use a thread);
        the first call starts them."""
        pool = self._pool
        if not self.ready or pool is None:
            self.warm()
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, _fix_in_worker, plans, hints, context
            )
        except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: submit after shutdown
            if not self._closed:
                log.warning("a text batch worker died (%s); restarting the workers", exc)
                self._discard()
                self.warm()
            return None

    def _discard(self) -> None:
        self._ready = False
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stop the workers and wait for them to exit (bounded)."""
        self._closed = True
        self._ready = False
        if self._starting is not None:
            self._starting.cancel()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            await asyncio.to_thread(proc.join, 5.0)
            if proc.is_alive():
                proc.kill()
                await asyncio.to_thread(proc.join, 5.0)
