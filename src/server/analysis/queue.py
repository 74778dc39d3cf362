"""The queue's ordering rules: priorities, fairness between users, aging, and who may start.

Pure functions over plain data, so the same rules serve the in-process store
and the shared (Redis) one, and tests drive them with any clock value.

Aging: a queued job gains one priority level per `aging` seconds of waiting,
up to URGENT, so a stream of urgent work never starves a low job forever.

`pick` chooses the next job to start:

1. the best priority level (after aging) among the jobs the runner can run;
2. within it, the user with the fewest jobs running goes first (max-min fair
   share: two users with full queues alternate, one user's flood does not
   delay another's first job);
3. among equals, the job submitted first (FIFO).

The per-user concurrency limit is work-conserving: a user at the limit is
skipped while another user's job can start, but when nobody else waits the
user's next job takes the free slot. (Without this, one user's 20 queued jobs
ran 3 at a time with 2 of 5 slots idle, and that user's urgent job waited
behind their own low ones.)
"""

from __future__ import annotations

import math
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
    size: int = 0  # input bytes (counts against the owner's queued-bytes limit)
    not_before: float = 0.0  # a retry waits until then (0: runnable now)

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
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def entry(self, not_before: float = 0.0) -> Entry:
        """The queue entry that puts this job back (same place in line, same size)."""
        return Entry(
            self.job_id,
            self.owner,
            self.analyzer,
            self.priority,
            self.enqueued,
            self.seq,
            self.size,
            not_before,
        )


def effective_rank(entry: Entry, now: float, aging: float) -> float:
    if aging <= 0:
        return float(entry.priority)
    return max(float(Priority.URGENT), entry.priority - max(0.0, now - entry.enqueued) / aging)


def level(entry: Entry, now: float, aging: float) -> int:
    """The priority level a job competes at after aging (a partly aged job stays at its level)."""
    return math.ceil(effective_rank(entry, now, aging) - 1e-9)


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
    """The next job to start (see the module doc), or None when no slot is free or nothing fits."""
    running = list(running)
    if global_limit > 0 and len(running) >= global_limit:
        return None
    by_user = Counter(r.owner for r in running)
    candidates = [
        e for e in entries if (analyzers is None or e.analyzer in analyzers) and e.not_before <= now
    ]
    within = [e for e in candidates if per_user_limit <= 0 or by_user[e.owner] < per_user_limit]
    pool = within or candidates  # nobody else can start: the limit must not leave the slot idle
    if not pool:
        return None
    return min(
        pool, key=lambda e: (level(e, now, aging), by_user[e.owner], effective_rank(e, now, aging), e.seq)
    )


def queued_by(entries: Iterable[Entry], owner: str) -> tuple[int, int]:
    """(jobs, input bytes) `owner` has waiting in the queue."""
    jobs = size = 0
    for e in entries:
        if e.owner == owner:
            jobs += 1
            size += e.size
    return jobs, size


def positions(entries: Iterable[Entry], now: float, aging: float) -> dict[str, int]:
    """1-based start position of each queued job."""
    return {e.job_id: i + 1 for i, e in enumerate(ordered(entries, now, aging))}


def estimated_wait(position: int, running: int, concurrency: int, mean_run: float) -> float:
    """Seconds until the job at `position` starts, if runs take `mean_run` seconds on average."""
    concurrency = max(1, concurrency)
    ahead = position - 1 + running
    return (ahead // concurrency) * mean_run
