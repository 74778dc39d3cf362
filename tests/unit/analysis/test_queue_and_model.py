"""Queue order (priority, FIFO, aging), limits, and the phase/progress rules, as pure functions."""

from __future__ import annotations

import pytest

from realtime.server.analysis.model import (
    Job,
    JobState,
    PhaseState,
    Priority,
    advance,
    finish_phases,
    new_phases,
    plan_from_ends,
)
from realtime.server.analysis.queue import Entry, Running, estimated_wait, ordered, pick, positions
from realtime.server.platform.errors import HubError


def entry(job: str, priority: Priority, at: float, seq: int, owner: str = "u", analyzer: str = "a") -> Entry:
    return Entry(job, owner, analyzer, int(priority), at, seq)


def run(job: str, owner: str = "u") -> Running:
    return Running(job, owner, "a", "r", 0.0, 3, 0.0, 0)


def test_priority_then_fifo() -> None:
    q = [
        entry("low", Priority.LOW, 0, 1),
        entry("n1", Priority.NORMAL, 0, 2),
        entry("urgent", Priority.URGENT, 0, 3),
        entry("n2", Priority.NORMAL, 0, 4),
        entry("bg", Priority.BACKGROUND, 0, 5),
    ]
    assert [e.job_id for e in ordered(q, now=0, aging=0)] == ["urgent", "n1", "n2", "low", "bg"]
    assert positions(q, 0, 0)["n2"] == 3


def test_aging_lets_an_old_low_job_overtake_new_urgent_ones() -> None:
    old_low = entry("old-low", Priority.LOW, 0, 1)
    fresh = [entry(f"u{i}", Priority.URGENT, 100, 10 + i) for i in range(3)]
    # Without aging the low job waits behind every urgent one.
    assert ordered([old_low, *fresh], now=100, aging=0)[-1].job_id == "old-low"
    # After 3 levels x 10 s of waiting it ranks as urgent, and being older it goes first.
    assert ordered([old_low, *fresh], now=100, aging=10)[0].job_id == "old-low"
    # Only part-way aged: still behind urgent work.
    assert ordered([entry("l", Priority.LOW, 95, 1), *fresh], now=100, aging=10)[0].job_id == "u0"


def test_global_and_per_user_limits() -> None:
    q = [entry("a1", Priority.URGENT, 0, 1, owner="alice"), entry("b1", Priority.LOW, 0, 2, owner="bob")]
    args = {"now": 0.0, "aging": 0.0, "analyzers": None}
    assert pick(q, [run("x", "alice")], global_limit=2, per_user_limit=1, **args).job_id == "b1"  # type: ignore[union-attr]
    assert pick(q, [run("x"), run("y")], global_limit=2, per_user_limit=0, **args) is None
    assert pick(q, [], global_limit=2, per_user_limit=1, **args).job_id == "a1"  # type: ignore[union-attr]
    assert pick(q, [], global_limit=2, per_user_limit=1, now=0, aging=0, analyzers={"other"}) is None


def test_estimated_wait() -> None:
    assert estimated_wait(1, running=0, concurrency=5, mean_run=2.0) == 0.0
    assert estimated_wait(5, running=0, concurrency=5, mean_run=2.0) == 0.0
    assert estimated_wait(1, running=5, concurrency=5, mean_run=2.0) == 2.0
    assert estimated_wait(11, running=0, concurrency=5, mean_run=2.0) == 4.0


def job_with(plan: list[tuple[str, int]]) -> Job:
    return Job("j", "u", "a", 3, int(JobState.RUNNING), new_phases(plan_from_ends(plan)), 0.0)


def test_progress_is_monotonic_and_phases_move_forward() -> None:
    job = job_with([("a", 30), ("b", 50), ("c", 80), ("d", 100)])
    kinds = [c.kind for c in advance(job, "a", 0.5)]
    assert kinds == ["phase_started"] and job.percent == 15
    assert [c.kind for c in advance(job, "a", 0.2)] == []  # lower fraction: percent stays
    assert job.percent == 15
    changes = advance(job, "c", 0.0)  # skipping b finishes a (running) and b (pending)
    assert [(c.kind, c.phase) for c in changes] == [("phase_finished", "a"), ("phase_started", "c")]
    assert job.percent == 50
    assert [p["state"] for p in job.phases] == [
        PhaseState.DONE,
        PhaseState.DONE,
        PhaseState.RUNNING,
        PhaseState.PENDING,
    ]
    with pytest.raises(HubError) as back:
        advance(job, "b", 1.0)
    assert back.value.reason == "INVALID_ARGUMENT"
    with pytest.raises(HubError):
        advance(job, "nope", 0.0)
    assert [c.kind for c in finish_phases(job)] == ["phase_finished"]
    assert job.percent == 100


@pytest.mark.parametrize(
    "plan", [[], [("a", 50)], [("a", 60), ("b", 40), ("c", 100)], [("a", 50), ("a", 100)], [("", 100)]]
)
def test_bad_phase_plans(plan: list[tuple[str, int]]) -> None:
    with pytest.raises(HubError):
        plan_from_ends(plan)
