"""Logging setup: text for people, JSON (one object per line) for machines.

Call logs carry user, method, status, duration and message counts; never
tokens or message bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = [f"{k}={v}" for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")]
        return f"{base} {' '.join(extra)}" if extra else base


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    call_log.configure(fmt, sys.stderr)


class CallLog:
    """The one-line-per-call log, on a fast path.

    A `logging` record costs more than a small gRPC call itself, so once
    `setup_logging` has configured the process, call lines are formatted
    directly (same shape as the formatters above) and written in batches: at most
    FLUSH_INTERVAL after the first queued line, or at once past FLUSH_BYTES, and at
    the hub's stop. A write per event-loop turn cost a system call for almost every
    small unary call under load (the largest part of the hub's per-call overhead
    left, profiled in issue 18); 50 ms late is nothing for a log line. Before
    `setup_logging` (library use, tests) they go through `logging`.
    """

    FLUSH_INTERVAL = 0.05
    FLUSH_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._logger = logging.getLogger("realtime.calls")
        self._fmt: str | None = None
        self._stream: Any = None
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._second = -1
        self._stamp = ""

    def configure(self, fmt: str, stream: Any) -> None:
        self._fmt, self._stream = fmt, stream

    def finished(
        self,
        user: str,
        method: str,
        code: str,
        duration_ms: float,
        msgs_in: int,
        msgs_out: int,
        trace_id: str = "",
    ) -> None:
        if self._fmt == "text" and self._logger.isEnabledFor(logging.INFO):
            # The line `emit` would write, formatted without the dict (one per call).
            trace = f" trace_id={trace_id}" if trace_id else ""
            self._append(
                f"{self._time(time.time(), iso=False)} INFO {self._logger.name}: call finished user={user} "
                f"method={method} code={code} duration_ms={duration_ms} msgs_in={msgs_in} "
                f"msgs_out={msgs_out}{trace}"
            )
            return
        fields = {
            "user": user,
            "method": method,
            "code": code,
            "duration_ms": duration_ms,
            "msgs_in": msgs_in,
            "msgs_out": msgs_out,
        }
        if trace_id:  # the caller's W3C trace (traceparent), to find this call in a trace
            fields["trace_id"] = trace_id
        self.emit(self._logger, "call finished", fields)

    def emit(self, logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
        """One INFO line for `logger` on the fast path (the gateway's call lines use it too)."""
        if not logger.isEnabledFor(logging.INFO):
            return
        if self._fmt is None:
            logger.info(message, extra=fields)
            return
        now = time.time()
        if self._fmt == "json":
            stamp = self._time(now, iso=True)
            head = {"time": stamp, "level": "info", "logger": logger.name, "message": message}
            line = json.dumps(head | fields, default=str)
        else:
            pairs = " ".join(f"{k}={v}" for k, v in fields.items())
            line = f"{self._time(now, iso=False)} INFO {logger.name}: {message} {pairs}"
        self._append(line)

    def _append(self, line: str) -> None:
        """Queue `line`; the queue is written FLUSH_INTERVAL later, or now when it is large."""
        if not self._pending:
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_INTERVAL, self.flush)
            except RuntimeError:  # no loop: write now
                self._pending.append(line)
                self.flush()
                return
        self._pending.append(line)
        self._pending_bytes += len(line) + 1
        if self._pending_bytes >= self.FLUSH_BYTES:
            self.flush()

    def _time(self, now: float, iso: bool) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M:%S", time.gmtime(now))
        millis = int((now - second) * 1000)
        return f"{self._stamp}.{millis:03d}Z" if iso else f"{self._stamp},{millis:03d}"

    def flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        self._pending_bytes = 0
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must not break calls


call_log = CallLog()
