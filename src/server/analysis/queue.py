"""The queue's ordering rules: priorities, FIFO within one, aging, and the limits on who may start.

Pure functions over plain data, so the same rules serve the in-process store
and the shared (Redis) one, and tests drive them with any clock value.

Aging: a queued job gains one priority level per `aging` seconds of waiting,
up to URGENT, so a stream of urgent work never starves a low job forever. Among
equal effective ranks the job submitted first starts first (FIFO).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .model import Priority


@dataclass(slots=True)
class Entry:
    """A queued job as the queue sees it."""

    job_id: str
    owner: str
    analyzer: str
    priority: int
    enqueued: float
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Running:
    """A started job: who runs it (a replica or a worker id) and for whom."""

    job_id: str
    owner: str
    analyzer: str
    runner: str
    started: float
    priority: int
    enqueued: float
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def effective_rank(entry: Entry, now: float, aging: float) -> float:
    if aging <= 0:
        return float(entry.priority)
    return max(float(Priority.URGENT), entry.priority - max(0.0, now - entry.enqueued) / aging)


def ordered(entries: Iterable[Entry], now: float, aging: float) -> list[Entry]:
    """The queue in start order."""
    return sorted(entries, key=lambda e: (effective_rank(e, now, aging), e.seq))


def pick(
    entries: Iterable[Entry],
    running: Iterable[Running],
    *,
    now: float,
    aging: float,
    global_limit: int,
    per_user_limit: int,
    analyzers: Collection[str] | None,
) -> Entry | None:
    """The next job to start, or None when the limits allow none (or nothing fits `analyzers`).

    A user at their limit is skipped, not blocking others behind them.
    """
    running = list(running)
    if global_limit > 0 and len(running) >= global_limit:
        return None
    by_user = Counter(r.owner for r in running)
    for entry in ordered(entries, now, aging):
        if analyzers is not None and entry.analyzer not in analyzers:
            continue
        if per_user_limit > 0 and by_user[entry.owner] >= per_user_limit:
            continue
        return entry
    return None


def positions(entries: Iterable[Entry], now: float, aging: float) -> dict[str, int]:
    """1-based start position of each queued job."""
    return {e.job_id: i + 1 for i, e in enumerate(ordered(entries, now, aging))}


def estimated_wait(position: int, running: int, concurrency: int, mean_run: float) -> float:
    """Seconds until the job at `position` starts, if runs take `mean_run` seconds on average."""
    concurrency = max(1, concurrency)
    ahead = position - 1 + running
    return (ahead // concurrency) * mean_run
