"""The analyzer interface: what an application implements to add its own analysis.

An analyzer has a name, the content types it accepts, a fixed phase plan and a
synchronous `run(input, progress, cancel)` that the hub calls in a worker
thread (never on the event loop). `run` reports through `progress` and checks
`cancel` between steps; it returns an `AnalyzerResult` or raises `HubError`
(e.g. `invalid_argument` for unreadable input).

    class Shout(Analyzer):
        name = "text.shout"
        input_types = ("text/plain",)
        phases = plan_from_ends([("shout", 100)])

        def run(self, data, progress, cancel):
            progress.phase("shout")
            return AnalyzerResult({"text": data.text.upper()})

Register it with the `realtime.analyzers` entry point group or the
`REALTIME_ANALYSIS_ANALYZERS=module:factory` setting (see registry.py).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...platform.errors import invalid_argument
from ..model import PhaseSpec
from ..retry import DEFAULT_RETRY, RetryPolicy

TEXT_TYPES = ("text/plain",)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff")


class Cancelled(Exception):
    """Raised by `CancelToken.check()` once the job was cancelled (or timed out)."""


class CancelToken:
    """Set from the event loop, checked by the analyzer between steps (thread-safe)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = self.reason or reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; True as soon as cancelled."""
        return self._event.wait(timeout)


class Progress(Protocol):
    """How `run` reports (thread-safe; calls return at once)."""

    def phase(self, name: str, fraction: float = 0.0) -> None:
        """Enter phase `name` (phases only move forward) at `fraction` of it."""

    def update(self, fraction: float) -> None:
        """Progress within the current phase, 0.0-1.0 (percent never goes backwards)."""

    def partial(self, data: Mapping[str, Any]) -> None:
        """Deliver a piece of the result now (JSON-compatible)."""

    def unavailable(self, name: str, reason: str) -> None:
        """Mark phase `name` as skipped because something it needs is not installed."""


@dataclass(frozen=True)
class AnalysisInput:
    """What a job analyses."""

    data: bytes = b""
    text: str | None = None
    content_type: str = ""
    filename: str = ""

    @property
    def size(self) -> int:
        return len(self.data) if self.text is None else len(self.text.encode())


@dataclass
class AnalyzerResult:
    """Findings (JSON-compatible) and optional binary artifacts (name, content type, bytes)."""

    data: dict[str, Any]
    artifacts: list[tuple[str, str, bytes]] = field(default_factory=list)


class Analyzer(ABC):
    """Subclass and set `name`, `input_types`, `phases`; implement `run`."""

    name: str = ""
    input_types: tuple[str, ...] = ()
    phases: tuple[PhaseSpec, ...] = ()
    #: Option names `run` understands; others are INVALID_ARGUMENT at submit.
    options: frozenset[str] = frozenset()
    #: How failed runs are retried (attempts, backoff, which errors); see retry.py.
    retry: RetryPolicy = DEFAULT_RETRY

    def validate(self, data: AnalysisInput, options: Mapping[str, Any]) -> None:
        """Cheap checks at submit time (content type, options); raise `invalid_argument`."""
        check_input_type(self, data)
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise invalid_argument(
                f"unknown option(s) for {self.name}: {', '.join(unknown)}",
                [(f"options.{k}", f"allowed: {', '.join(sorted(self.options)) or 'none'}") for k in unknown],
            )

    @abstractmethod
    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        """Do the work (called in a worker thread)."""


def check_input_type(analyzer: Analyzer, data: AnalysisInput) -> None:
    content_type = data.content_type or ("text/plain" if data.text is not None else "")
    if content_type not in analyzer.input_types:
        raise invalid_argument(
            f"{analyzer.name} does not accept {content_type or 'input without a content type'}",
            [("input.content_type", f"accepted: {', '.join(analyzer.input_types)}")],
            reason="UNSUPPORTED_CONTENT_TYPE",
        )
    if content_type in TEXT_TYPES and data.text is None:
        raise invalid_argument(f"{analyzer.name} needs text input", [("input.text", "set text, not data")])
    if content_type not in TEXT_TYPES and not data.data:
        raise invalid_argument(f"{analyzer.name} needs binary input", [("input.data", "empty")])


def option(options: Mapping[str, Any], name: str, default: Any, kind: type, lo: float, hi: float) -> Any:
    """A numeric option with a default and a range, or INVALID_ARGUMENT."""
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_argument(f"option {name} must be a number", [(f"options.{name}", repr(value))])
    if not lo <= value <= hi:
        raise invalid_argument(
            f"option {name} must be within {lo:g}..{hi:g}", [(f"options.{name}", f"got {value}")]
        )
    return kind(value)
