"""Run an external program for an analyzer: input fed exactly once, a deadline, a clean kill.

Every subprocess analyzer goes through `run_child`, which

- writes the whole input on a feeder thread and then closes stdin, so a child that
  reads slowly still gets every byte (`Popen.communicate(input, timeout)` retried
  with `input=None` stops writing after the first timeout: a PNG over the 64 KiB
  pipe buffer then never reaches the child, which waits for the rest for ever);
- drains stdout and stderr on reader threads (bounded), so a chatty child never
  blocks on a full pipe;
- starts the child in its own session and, on cancel, timeout or any error, kills
  the whole process group (helpers the program spawned included) and reaps it.

A timeout is DEADLINE_EXCEEDED (reason ANALYZER_TIMEOUT), a non-zero exit is
INTERNAL with the program's reason (`failure_reason`) and the first line of its
stderr, a cancel is `Cancelled`. Never a hang.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO

from ...platform.errors import Code, HubError
from .base import Cancelled, CancelToken

#: How often the caller's thread looks at the cancel token and the deadline.
POLL = 0.05
#: Output kept per stream; more is read and dropped (a runaway child cannot fill memory).
MAX_OUTPUT = 64 * 1024 * 1024
#: How long the reader threads may take to see end-of-file once the child is gone.
JOIN_GRACE = 5.0


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):
        pass  # the child exited without reading everything: its exit status says why
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _drain(pipe: IO[bytes], sink: list[bytes]) -> None:
    kept = 0
    with contextlib.suppress(OSError, ValueError):
        for chunk in iter(lambda: pipe.read1(65536), b""):  # type: ignore[attr-defined]
            if kept < MAX_OUTPUT:
                sink.append(chunk)
                kept += len(chunk)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def _wait(proc: subprocess.Popen[bytes], cancel: CancelToken, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(timeout=POLL)
            return
        except subprocess.TimeoutExpired:
            pass
        if cancel.cancelled:
            raise Cancelled(cancel.reason)
        if time.monotonic() > deadline:
            raise HubError(
                Code.DEADLINE_EXCEEDED,
                f"{name} did not finish within {timeout:g}s and was stopped",
                reason="ANALYZER_TIMEOUT",
                metadata={"program": name},
            )


def run_child(
    argv: Sequence[str],
    data: bytes,
    cancel: CancelToken,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    failure_reason: str = "ANALYZER_FAILED",
) -> bytes:
    """Run `argv` with `data` on stdin; its stdout, or an error as described in the module doc."""
    name = os.path.basename(argv[0])
    cancel.check()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    threads = [
        threading.Thread(target=_feed, args=(proc.stdin, data), name=f"{name}-stdin", daemon=True),
        threading.Thread(target=_drain, args=(proc.stdout, out), name=f"{name}-stdout", daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err), name=f"{name}-stderr", daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        _wait(proc, cancel, timeout, name)
    finally:
        _kill_group(proc)  # also after a normal exit: helpers it left behind must not outlive the job
        for t in threads:
            t.join(JOIN_GRACE)
        for pipe in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
    if proc.returncode != 0:
        detail = b"".join(err).decode(errors="replace").strip().splitlines()
        first = detail[0][:200] if detail else f"exit status {proc.returncode}"
        raise HubError(
            Code.INTERNAL,
            f"{name} failed: {first}",
            reason=failure_reason,
            metadata={"program": name, "exit_status": str(proc.returncode)},
        )
    return b"".join(out)
