"""Jobs as plain data: states, priorities, the phase plan and how progress moves through it.

A job is stored as JSON (in process or in Redis through the broker), so
everything here converts to and from plain dicts. No grpc, no generated code.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..platform.errors import Code, invalid_argument


class Priority(enum.IntEnum):
    """Lower value starts first. Values match realtime.v1.Priority."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4
    BACKGROUND = 5


#: Seconds within which a job of each priority should start (the seed's targets).
START_TARGETS: dict[Priority, float] = {Priority.URGENT: 2.0, Priority.HIGH: 5.0, Priority.NORMAL: 10.0}


class JobState(enum.IntEnum):
    """Values match realtime.v1.JobState."""

    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    CANCELLED = 5

    @property
    def done(self) -> bool:
        return self >= JobState.SUCCEEDED


class PhaseState(enum.IntEnum):
    """Values match realtime.v1.PhaseState."""

    PENDING = 1
    RUNNING = 2
    DONE = 3
    UNAVAILABLE = 4


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One step of an analyzer's fixed plan and the percent range it covers."""

    name: str
    start: int
    end: int


def plan_from_ends(names_and_ends: list[tuple[str, int]]) -> tuple[PhaseSpec, ...]:
    """A plan from (name, end percent) pairs: each phase starts where the previous ended."""
    phases: list[PhaseSpec] = []
    start = 0
    seen: set[str] = set()
    for index, (name, end) in enumerate(names_and_ends):
        if not name or name in seen:
            raise invalid_argument("phase names must be non-empty and unique", [(f"phases[{index}]", name)])
        if not start <= end <= 100:
            raise invalid_argument(
                "phase end percents must increase and stay within 0..100",
                [(f"phases[{index}].end_percent", f"got {end} after {start}")],
            )
        seen.add(name)
        phases.append(PhaseSpec(name, start, end))
        start = end
    if not phases:
        raise invalid_argument("a phase plan needs at least one phase", [("phases", "empty")])
    if phases[-1].end != 100:
        raise invalid_argument("the last phase must end at 100", [("phases", f"ends at {phases[-1].end}")])
    return tuple(phases)


@dataclass
class JobError:
    """Why a job failed (a google.rpc.Code value, a stable reason, a message)."""

    code: int
    message: str
    reason: str = ""


@dataclass
class Job:
    """One analysis job. `version` grows with every stored change (watchers drop stale ones)."""

    id: str
    owner: str
    analyzer: str
    priority: int
    state: int
    phases: list[dict[str, Any]]
    created: float
    content_type: str = ""
    filename: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    fingerprint: str = ""
    external: bool = False
    phase: str = ""
    percent: int = 0
    started: float = 0.0
    finished: float = 0.0
    enqueued: float = 0.0
    attempt: int = 0
    runner: str = ""
    partials: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: JobError | None = None
    cancel_requested: bool = False
    input_size: int = 0
    reported_at: float = 0.0  # external (ReportProgress) jobs: the worker's last report
    traceparent: str = ""  # the submitting call's W3C trace context: the run continues that trace
    max_attempts: int = 0  # runs allowed in all (the analyzer's retry policy; 0: stored before retries)
    next_retry: float = 0.0  # while waiting for a retry: when it may start
    last_error: JobError | None = None  # the last failed attempt's error
    version: int = 0

    @property
    def name(self) -> str:
        return operation_name(self.id)

    @property
    def job_state(self) -> JobState:
        return JobState(self.state)

    @property
    def done(self) -> bool:
        return self.job_state.done

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Job:
        data = json.loads(raw)
        error = data.pop("error", None)
        last_error = data.pop("last_error", None)
        job = cls(**data)
        job.error = JobError(**error) if error else None
        job.last_error = JobError(**last_error) if last_error else None
        return job


OPERATION_PREFIX = "operations/"


def operation_name(job_id: str) -> str:
    return OPERATION_PREFIX + job_id


def job_id_from_name(name: str) -> str:
    """'operations/abc' (or a bare id) -> 'abc'; INVALID_ARGUMENT when malformed."""
    job_id = name[len(OPERATION_PREFIX) :] if name.startswith(OPERATION_PREFIX) else name
    if not job_id or len(job_id) > 64 or not all(c.isalnum() or c in "-_" for c in job_id):
        raise invalid_argument("malformed operation name", [("name", "expected operations/<id>")])
    return job_id


def new_phases(plan: tuple[PhaseSpec, ...]) -> list[dict[str, Any]]:
    return [{"name": p.name, "start": p.start, "end": p.end, "state": int(PhaseState.PENDING)} for p in plan]


def fingerprint(analyzer: str, data: bytes, text: str | None, options: dict[str, Any], priority: int) -> str:
    """What makes two submits "the same payload" for request_id reuse."""
    h = hashlib.sha256()
    for part in (analyzer, json.dumps(options, sort_keys=True), str(priority), text or ""):
        h.update(part.encode())
        h.update(b"\0")
    h.update(data)
    return h.hexdigest()


# -- progress -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One watcher-visible change: a WatchEventKind name (lower case) and the phase concerned."""

    kind: str
    phase: str = ""


def advance(job: Job, phase: str, fraction: float) -> list[Change]:
    """Move `job` to `phase` at `fraction` (0..1) of it. Phases only move forward; percent never drops.

    Earlier phases still running or pending are finished on the way. Returns the changes.
    """
    names = [p["name"] for p in job.phases]
    if phase not in names:
        raise invalid_argument(
            f"phase {phase!r} is not in the plan", [("phase", f"plan: {', '.join(names)}")]
        )
    target = names.index(phase)
    current = names.index(job.phase) if job.phase in names else -1
    if target < current:
        raise invalid_argument(
            f"phase {phase!r} is before the current phase {job.phase!r}",
            [("phase", "phases only move forward")],
        )
    changes: list[Change] = []
    if target > current:
        for p in job.phases[max(current, 0) : target]:
            if p["state"] in (PhaseState.RUNNING, PhaseState.PENDING):
                was_running = p["state"] == PhaseState.RUNNING
                p["state"] = int(PhaseState.DONE)
                if was_running:
                    changes.append(Change("phase_finished", p["name"]))
        spec = job.phases[target]
        if spec["state"] != PhaseState.UNAVAILABLE:
            spec["state"] = int(PhaseState.RUNNING)
        job.phase = phase
        job.percent = max(job.percent, int(spec["start"]))
        changes.append(Change("phase_started", phase))
    spec = job.phases[target]
    fraction = min(max(fraction, 0.0), 1.0)
    percent = int(spec["start"] + fraction * (spec["end"] - spec["start"]))
    if percent > job.percent:
        job.percent = percent
        if not changes:
            changes.append(Change("progress", phase))
    return changes


def mark_unavailable(job: Job, phase: str) -> None:
    for p in job.phases:
        if p["name"] == phase:
            p["state"] = int(PhaseState.UNAVAILABLE)


def finish_phases(job: Job) -> list[Change]:
    """On success: close every phase still open and reach 100 %."""
    changes = []
    for p in job.phases:
        if p["state"] == PhaseState.RUNNING:
            changes.append(Change("phase_finished", p["name"]))
        if p["state"] in (PhaseState.RUNNING, PhaseState.PENDING):
            p["state"] = int(PhaseState.DONE)
    job.percent = 100
    return changes


def cancelled_error() -> JobError:
    return JobError(int(Code.CANCELLED), "the job was cancelled", "CANCELLED")
