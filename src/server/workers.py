"""`realtime-server --workers N`: N hub processes on the same ports under one supervisor.

Each worker is a full hub (`python -m realtime.server` with the same flags) that binds the
gRPC and HTTP ports with SO_REUSEPORT, so the kernel spreads connections across them.
Workers share every piece of state through the broker (Redis), exactly like replicas.

The supervisor (this module, the parent process) does three things:
- restarts a worker that exits unexpectedly, after a backoff that doubles per crash
  (0.5 s up to 10 s); when a worker crashes `CRASH_LOOP` times within `CRASH_WINDOW`
  seconds, or fails at startup, it stops the others and exits non-zero;
- forwards SIGTERM/SIGINT to every worker, which drains gracefully (streams are told
  to go away); it exits 0 when all workers exit 0, 1 otherwise;
- gives the workers one `/metrics`: Prometheus multiprocess mode. Every worker writes
  its metric values to files in a private directory (PROMETHEUS_MULTIPROC_DIR) and
  whichever worker answers `/metrics` sums them. Chosen over scraping per-worker ports
  because it needs no extra ports, no fan-out request per scrape, and a restarted
  worker's counters stay in the totals (counters never go backwards).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import Settings

log = logging.getLogger("realtime.workers")

WORKER_ENV = "REALTIME_WORKER_INDEX"  # set by the supervisor in each worker's environment
CRASH_LOOP = 5
CRASH_WINDOW = 60.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
POLL = 0.1
EXIT_STARTUP = 2  # what a hub that cannot start exits with (see __main__)


def worker_index() -> int | None:
    """This process's worker number when a supervisor started it, else None."""
    raw = os.environ.get(WORKER_ENV)
    return int(raw) if raw is not None and raw.isdigit() else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # A worker whose supervisor is killed (SIGKILL) gets SIGTERM instead of serving on alone.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None


class Supervisor:
    def __init__(self, settings: Settings, argv: Sequence[str]) -> None:
        self.settings = settings
        self.argv = list(argv)
        self.slots = [_Slot(i) for i in range(settings.workers)]
        self.stopping = False
        self.failed: str | None = None
        self.metrics_dir = tempfile.mkdtemp(prefix="realtime-metrics-")

    def _spawn(self, slot: _Slot) -> None:
        env = {**os.environ, WORKER_ENV: str(slot.index), "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "realtime.server", *self.argv],
            env=env,
            preexec_fn=_die_with_parent,
        )
        slot.started = time.monotonic()
        slot.restart_at = None
        log.info("worker %d started (pid %d)", slot.index, slot.proc.pid)

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.stopping:
            log.info("supervisor: %s, draining %d workers", signal.Signals(signum).name, len(self.slots))
        self.stopping = True
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM)

    def _reap(self, slot: _Slot, code: int) -> None:
        """A worker exited while the supervisor was not stopping: restart it or give up."""
        from prometheus_client import multiprocess

        assert slot.proc is not None
        multiprocess.mark_process_dead(slot.proc.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        now = time.monotonic()
        slot.proc = None
        if code == EXIT_STARTUP and not slot.crashes:
            self.failed = f"worker {slot.index} could not start (exit {code}); see its log above"
            return
        slot.crashes = [t for t in slot.crashes if now - t < CRASH_WINDOW] + [now]
        if len(slot.crashes) >= CRASH_LOOP:
            self.failed = f"worker {slot.index} crashed {len(slot.crashes)} times in {CRASH_WINDOW:g}s"
            return
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (len(slot.crashes) - 1))
        slot.restart_at = now + delay
        log.warning("worker %d exited with %d; restarting in %.1fs", slot.index, code, delay)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            for slot in self.slots:
                self._spawn(slot)
            return self._loop()
        finally:
            for slot in self.slots:  # only after a failure: a drain waited for every worker
                if slot.proc is not None and slot.proc.poll() is None:
                    slot.proc.kill()
                    slot.proc.wait()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _loop(self) -> int:
        codes: dict[int, int] = {}
        while True:
            now = time.monotonic()
            for slot in self.slots:
                if slot.proc is not None:
                    code = slot.proc.poll()
                    if code is None:
                        continue
                    if self.stopping:
                        codes[slot.index] = code
                        slot.proc = None
                    else:
                        self._reap(slot, code)
                elif slot.restart_at is not None and not self.stopping and now >= slot.restart_at:
                    self._spawn(slot)
            if self.failed is not None:
                log.error("supervisor: %s; stopping the other workers", self.failed)
                self._on_signal(signal.SIGTERM, None)
                self._drain_rest()
                return 1
            if self.stopping and all(slot.proc is None for slot in self.slots):
                bad = {i: c for i, c in codes.items() if c != 0}
                if bad:
                    log.error("supervisor: workers exited with %s", bad)
                    return 1
                log.info("supervisor: all workers drained")
                return 0
            time.sleep(POLL)

    def _drain_rest(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_grace + 10
        for slot in self.slots:
            if slot.proc is not None:
                try:
                    slot.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    slot.proc.kill()
                    slot.proc.wait()
                slot.proc = None


def supervise(settings: Settings, argv: Sequence[str]) -> int:
    """Run `settings.workers` workers until SIGTERM/SIGINT; the process exit code."""
    for name, listen in (("--grpc-listen", settings.grpc_listen), ("--http-listen", settings.http_listen)):
        if listen.rpartition(":")[2] == "0":
            log.error("cannot start: --workers %d needs a fixed port for %s, not 0", settings.workers, name)
            return EXIT_STARTUP
    log.info("supervisor: starting %d workers", settings.workers)
    return Supervisor(settings, argv).run()
