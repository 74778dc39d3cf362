"""The Session engine with a manual clock: debounce, cancellation of stale work, versions, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from realtime.server.platform.errors import HubError
from realtime.server.text.clock import ManualClock
from realtime.server.text.documents import Change, apply_changes
from realtime.server.text.fixer import FixResult, TextFixer
from realtime.server.text.layout import LayoutFixer
from realtime.server.text.session import (
    Closed,
    Configured,
    Event,
    Opened,
    Result,
    Superseded,
    TextSession,
)

FIXER = TextFixer(LayoutFixer())


class Harness:
    def __init__(self, runner: Callable[..., object] | None = None, **kw: object) -> None:
        self.clock = ManualClock()
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        extra = {"runner": runner} if runner is not None else {}
        self.session = TextSession(self.events.put_nowait, FIXER, clock=self.clock, **extra, **kw)  # type: ignore[arg-type]

    async def next(self) -> Event:
        return await asyncio.wait_for(self.events.get(), 5)

    async def settle(self) -> None:
        """Let computation tasks started by timers run to completion."""
        for _ in range(5):
            await asyncio.sleep(0)

    def drained(self) -> list[Event]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out


async def test_burst_of_edits_costs_one_computation_per_word() -> None:
    h = Harness()
    h.session.open("o", "doc")
    assert await h.next() == Opened("o", "doc", 0, 0.5)
    typed = "akuo nv akunl"
    for v in range(1, len(typed) + 1):
        h.session.edit(f"e{v}", "doc", v, text=typed[:v])
        await h.settle()
        h.clock.advance(0.1)  # faster than the debounce: only completed words compute
    # The space after 'akuo' and after 'nv' completed a word: each computed at once.
    events = h.drained()
    results = [e for e in events if isinstance(e, Result)]
    assert [(r.version, r.fix.text) for r in results] == [(5, "שלום "), (8, "שלום מה ")]
    assert Superseded("doc", (1, 2, 3, 4), "debounced") in events
    assert h.session.stats.computations == 2
    h.clock.advance(0.5)
    superseded = await h.next()
    assert superseded == Superseded("doc", tuple(range(9, len(typed))), "debounced")
    result = await h.next()
    # After the pause the word being typed ('akunl', the caret's) is still left alone ...
    assert isinstance(result, Result)
    assert (result.command_id, result.version, result.fix.text) == (
        f"e{len(typed)}",
        len(typed),
        "שלום מה akunl",
    )
    # ... until the user says the text is done.
    h.session.flush("f", "doc")
    done = await h.next()
    assert isinstance(done, Result) and (done.version, done.fix.text) == (len(typed), "שלום מה שלומך")
    assert h.session.stats.computations == 4


async def test_debounce_is_per_document_and_configurable() -> None:
    h = Harness()
    h.session.configure("c", 0.2)
    assert await h.next() == Configured("c", 0.2)
    h.session.open("o1", "fast")
    h.session.open("o2", "slow", debounce=1.0)
    await h.next(), await h.next()
    h.session.edit("a", "fast", 1, text="akuo")
    h.session.edit("b", "slow", 1, text="susu")
    h.clock.advance(0.25)
    first = await h.next()
    assert isinstance(first, Result) and first.document_id == "fast" and first.fix.text == "שלום"
    await h.settle()
    assert h.events.empty()
    h.clock.advance(0.8)
    second = await h.next()
    assert isinstance(second, Result) and second.document_id == "slow" and second.fix.text == "דודו"


async def test_edit_during_a_computation_cancels_it() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def gated(work: Callable[[], FixResult], size: int) -> FixResult:
        started.set()
        await gate.wait()  # the computation is "running" until the test opens the gate
        return work()

    h = Harness(runner=gated)
    h.session.open("o", "doc", debounce=0.5)
    await h.next()
    h.session.edit("e1", "doc", 1, text="akuo")
    h.clock.advance(0.5)
    await asyncio.wait_for(started.wait(), 5)
    h.session.edit("e2", "doc", 2, text="akuo nv")  # version 1 is now stale
    assert await h.next() == Superseded("doc", (1,), "cancelled")
    gate.set()
    await h.settle()
    assert h.events.empty()  # the stale computation stopped and sent nothing
    h.clock.advance(0.5)
    result = await h.next()
    assert isinstance(result, Result) and result.version == 2 and result.fix.text == "שלום מה"
    assert h.session.stats.cancelled_versions == 1


async def test_results_never_go_back_in_version() -> None:
    gate = asyncio.Event()

    async def gated(work: Callable[[], FixResult], size: int) -> FixResult:
        await gate.wait()
        return work()

    h = Harness(runner=gated)
    h.session.open("o", "doc")
    await h.next()
    h.session.edit("e1", "doc", 1, text="akuo")
    h.session.flush("f1", "doc")  # v1 starts now
    await h.settle()
    h.session.edit("e5", "doc", 5, text="susu")  # cancels v1
    h.session.flush("f5", "doc")  # v5 waits for the stale v1 to stop: one computation at a time
    gate.set()
    events = [await h.next(), await h.next()]
    await h.settle()
    events += h.drained()
    results = [e for e in events if isinstance(e, Result)]
    assert [(r.version, r.command_id) for r in results] == [(5, "f5")]
    assert Superseded("doc", (1,), "cancelled") in events


async def test_flush_computes_now_and_repeats_the_last_result() -> None:
    h = Harness()
    h.session.open("o", "doc", debounce=10.0)
    await h.next()
    h.session.edit("e1", "doc", 1, text="akuo")
    h.session.flush("f1", "doc")
    first = await h.next()
    assert isinstance(first, Result) and (first.command_id, first.version) == ("f1", 1)
    h.session.flush("f2", "doc")
    again = await h.next()
    assert isinstance(again, Result) and (again.command_id, again.version, again.fix) == ("f2", 1, first.fix)
    assert h.session.stats.computations == 1


async def test_ranged_edits_and_prefilled_open() -> None:
    h = Harness()
    h.session.open("o", "doc", text="akuo", version=3)
    assert await h.next() == Opened("o", "doc", 3, 0.5)
    result = await h.next()  # a prefilled field is computed at once
    assert isinstance(result, Result) and (result.version, result.fix.text) == (3, "שלום")
    h.session.edit("e", "doc", 4, changes=[Change(4, 0, " nv"), Change(0, 0, "susu ")])
    h.clock.advance(0.5)
    result = await h.next()
    assert isinstance(result, Result) and result.fix.text == "דודו שלום מה"


async def test_drain_computes_pending_documents() -> None:
    h = Harness()
    h.session.open("o1", "a")
    h.session.open("o2", "b")
    h.session.edit("e1", "a", 1, text="akuo")
    h.session.edit("e2", "b", 1, text="susu")
    await h.session.drain(5)
    results = {e.document_id: e.fix.text for e in h.drained() if isinstance(e, Result)}
    assert results == {"a": "שלום", "b": "דודו"}


async def test_close_drops_pending_work() -> None:
    h = Harness()
    h.session.open("o", "doc")
    h.session.edit("e", "doc", 1, text="akuo")
    h.session.close("c", "doc")
    h.clock.advance(1.0)
    await h.settle()
    events = h.drained()
    assert events[-1] == Closed("c", "doc")
    assert not any(isinstance(e, Result) for e in events)
    assert h.clock.pending() == 0


def _fails(call: Callable[[], object], reason: str, field: str | None = None) -> None:
    with pytest.raises(HubError) as err:
        call()
    assert err.value.reason == reason, err.value
    if field is not None:
        assert err.value.violations[0].field.startswith(field)


async def test_bad_commands_are_refused_and_the_session_goes_on() -> None:
    h = Harness(max_documents=2)
    s = h.session
    _fails(lambda: s.edit("x", "nope", 1, text="a"), "DOCUMENT_NOT_OPEN", "edit.document_id")
    _fails(lambda: s.flush("x", "nope"), "DOCUMENT_NOT_OPEN", "flush.document_id")
    _fails(lambda: s.close("x", "nope"), "DOCUMENT_NOT_OPEN", "close.document_id")
    _fails(lambda: s.open("x", ""), "INVALID_ARGUMENT", "open.document_id")
    _fails(lambda: s.open("x", "d", debounce=11), "INVALID_ARGUMENT", "open.debounce")
    _fails(lambda: s.open("x", "d", version=-1), "INVALID_ARGUMENT", "open.version")
    _fails(lambda: s.open("x", "d", hints=["fr"]), "INVALID_ARGUMENT", "open.options.language_hints")
    _fails(lambda: s.open("x", "d", text="a\udc00"), "INVALID_ARGUMENT", "open.text")
    _fails(lambda: s.configure("x", -1), "INVALID_ARGUMENT", "configure.debounce")
    s.open("o", "d", version=5)
    _fails(lambda: s.open("x", "d"), "DOCUMENT_ALREADY_OPEN", "open.document_id")
    _fails(lambda: s.edit("x", "d", 5, text="a"), "VERSION_OUT_OF_ORDER", "edit.version")
    _fails(lambda: s.edit("x", "d", 4, text="a"), "VERSION_OUT_OF_ORDER", "edit.version")
    _fails(lambda: s.edit("x", "d", 6), "INVALID_ARGUMENT", "edit.content")
    _fails(lambda: s.edit("x", "d", 6, changes=[Change(1, 0, "a")]), "INVALID_ARGUMENT", "edit.changes[0]")
    _fails(lambda: s.edit("x", "d", 6, text="x" * 100_001), "INVALID_ARGUMENT", "edit.text")
    s.open("o2", "e")
    _fails(lambda: s.open("x", "f"), "QUOTA_EXCEEDED")
    s.close("c", "e")
    _fails(lambda: s.edit("x", "e", 1, text="a"), "DOCUMENT_NOT_OPEN")  # closed
    s.edit("ok", "d", 6, text="akuo")  # the refused commands changed nothing
    s.flush("f", "d")
    events = [await h.next() for _ in range(4)]
    assert isinstance(events[-1], Result) and (events[-1].version, events[-1].fix.text) == (6, "שלום")


def test_apply_changes() -> None:
    assert apply_changes("hello", [Change(5, 0, " world"), Change(0, 1, "J")]) == "Jello world"
    assert apply_changes("שלום", [Change(1, 2, "")]) == "שם"  # code points, not bytes
    with pytest.raises(HubError):
        apply_changes("abc", [Change(2, 2, "x")])
    with pytest.raises(HubError):
        apply_changes("abc", [Change(-1, 0, "x")])
    with pytest.raises(HubError):
        apply_changes("abc", [])
    with pytest.raises(HubError):
        apply_changes("abc", [Change(0, 0, "")] * 1001)
