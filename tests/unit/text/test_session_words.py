"""Issue 19: a Session fixes a word as soon as it is complete, never the word being typed."""

from __future__ import annotations

import random

from realtime.server.text.documents import Change
from realtime.server.text.documents import caret_of as _caret
from realtime.server.text.documents import word_at as _word_at
from realtime.server.text.fixer import Operation
from realtime.server.text.session import HOLD_RELEASE, RECENT_MESSAGES, Result, Superseded

from .test_session import Harness


async def _type(h: Harness, doc: str, text: str, start_version: int = 1, at: int | None = None) -> int:
    """Type `text` key by key (ranged one-character changes) at `at` (default: the end)."""
    version = start_version
    pos = at
    for ch in text:
        offset = pos if pos is not None else len(h.session._docs[doc].text)
        h.session.edit(f"k{version}", doc, version, changes=[Change(offset, 0, ch)])
        await h.settle()
        version += 1
        if pos is not None:
            pos += 1
    return version


def _results(h: Harness) -> list[tuple[int, str]]:
    return [(e.version, e.fix.text) for e in h.drained() if isinstance(e, Result)]


async def test_a_space_fixes_the_word_at_once_without_the_debounce() -> None:
    h = Harness()
    h.session.open("o", "doc", debounce=10.0)
    await h.next()
    await _type(h, "doc", "akuo")
    assert h.session.stats.computations == 0 and _results(h) == []  # mid-word: nothing computes
    await _type(h, "doc", " ", start_version=5)
    assert _results(h) == [(5, "שלום ")]  # no clock advance: the word end computed it
    await _type(h, "doc", "nv?", start_version=6)
    assert _results(h) == [(8, "שלום מה?")]  # '?' ends a word too
    assert h.session.stats.computations == 2


async def test_a_word_that_cannot_change_waits_for_the_debounce() -> None:
    h = Harness()
    h.session.open("o", "doc", debounce=10.0)
    h.session.open("o2", "clean", debounce=10.0, operations=[Operation.CLEAN])
    await h.next(), await h.next()
    await _type(h, "doc", "hello world ")  # English typed right: nothing to fix at the word ends
    await _type(h, "clean", "akuo ")  # no layout fix on this document
    assert h.session.stats.computations == 0 and _results(h) == []
    h.clock.advance(10.0)
    await h.settle()
    assert sorted(_results(h)) == [(5, "akuo "), (12, "hello world ")]


async def test_keys_that_are_letters_on_the_other_layout_do_not_end_a_word() -> None:
    h = Harness()
    h.session.open("o", "doc", debounce=10.0)
    await h.next()
    # ',' is ת on the Hebrew layout: 'b,' may be the start of 'נתראה', so it does not end a word.
    await _type(h, "doc", "b,rtv")
    assert h.session.stats.computations == 0
    await _type(h, "doc", " ", start_version=6)
    assert _results(h) == [(6, "נתראה ")]


async def test_a_paused_half_word_does_not_flip() -> None:
    h = Harness()
    h.session.open("o", "doc")
    await h.next()
    await _type(h, "doc", "akuo aku")
    assert _results(h) == [(5, "שלום ")]
    h.clock.advance(0.5)  # the debounce: the rest is computed, the word at the caret is held
    await h.settle()
    assert _results(h) == [(8, "שלום aku")]  # not 'שלום שלו'
    await _type(h, "doc", "o ", start_version=9)  # typing resumed: the held word was never released
    assert _results(h) == [(10, "שלום שלום ")]
    h.clock.advance(HOLD_RELEASE * 5)
    await h.settle()
    assert _results(h) == [] and h.session.stats.computations == 3


async def test_a_held_word_is_fixed_once_typing_has_stopped() -> None:
    h = Harness()
    h.session.open("o", "doc")
    await h.next()
    await _type(h, "doc", "akuo akunl")
    h.clock.advance(0.5)
    await h.settle()
    assert _results(h) == [(5, "שלום "), (10, "שלום akunl")]
    h.clock.advance(HOLD_RELEASE - 0.01)
    await h.settle()
    assert _results(h) == []
    h.clock.advance(0.01)  # no keystroke for HOLD_RELEASE after the held result: the word is done
    await h.settle()
    assert _results(h) == [(10, "שלום שלומך")]
    # A held word that cannot change costs no extra computation.
    await _type(h, "doc", " hello", start_version=11)
    h.clock.advance(0.5 + HOLD_RELEASE * 2)
    await h.settle()
    assert _results(h) == [(11, "שלום שלומך "), (16, "שלום שלומך hello")]
    assert h.clock.pending() == 0


async def test_flush_fixes_the_held_word_of_the_same_version() -> None:
    h = Harness()
    h.session.open("o", "doc")
    await h.next()
    await _type(h, "doc", "akunl")
    h.clock.advance(0.5)
    await h.settle()
    assert _results(h) == [(5, "akunl")]
    h.session.flush("f", "doc")
    done = await h.next()
    assert isinstance(done, Result) and (done.command_id, done.version, done.fix.text) == ("f", 5, "שלומך")
    h.session.flush("f2", "doc")  # nothing held any more: the answer is repeated, not recomputed
    again = await h.next()
    assert isinstance(again, Result) and again.fix == done.fix
    assert h.session.stats.computations == 2


async def test_editing_inside_a_word_holds_the_whole_word() -> None:
    h = Harness()
    h.session.open("o", "doc", text="akuo nvakunl", version=1)
    await h.next(), await h.next()
    version = await _type(h, "doc", " ", start_version=2, at=7)  # split 'nvakunl' -> 'nv akunl'
    assert _results(h) == [(2, "שלום מה שלומך")]  # caret before 'akunl': it is not being typed
    h.session.edit("x", "doc", version, changes=[Change(10, 0, "x")])  # 'akxunl': a keystroke inside
    h.clock.advance(0.5)
    await h.settle()
    assert _results(h) == [(version, "שלום מה akxunl")]


async def test_a_paste_is_not_a_word_being_typed() -> None:
    h = Harness()
    h.session.open("o", "doc")
    await h.next()
    h.session.edit("p", "doc", 1, text="akuo nv akunl")
    h.clock.advance(0.5)
    await h.settle()
    assert _results(h) == [(1, "שלום מה שלומך")]


async def test_closed_documents_are_the_context_of_later_short_texts() -> None:
    h = Harness()
    h.session.open("o", "nocontext", text="nv?")
    await h.next()
    assert (await h.next()).fix.text == "nv?"  # type: ignore[union-attr]
    h.session.open("o1", "m1", text="ha kl rdg?")  # a message typed on the wrong layout, then sent
    await h.next(), await h.next()
    h.session.close("c1", "m1")
    await h.next()
    h.session.open("o2", "m2", text="nv?")
    await h.next()
    result = await h.next()
    assert isinstance(result, Result) and result.fix.text == "מה?"
    assert result.fix.reason == "context"


async def test_a_keystroke_in_a_huge_word_scans_a_bounded_stretch() -> None:
    h = Harness()
    blob = "x" * 99_000  # a pasted blob: no word ends anywhere
    h.session.open("o", "doc", text=blob, version=1)
    await h.next(), await h.next()
    await _type(h, "doc", "akuo ", start_version=2)  # typed straight after the blob, no space
    assert _word_at(blob + "akuo", len(blob) + 4) is None
    assert h.session._docs["doc"].hold is None and h.session.stats.computations == 1
    h.clock.advance(0.5)
    await h.settle()
    [(version, text)] = _results(h)
    assert version == 6 and text == blob + "akuo "  # not a word anyone types: left as it is


async def test_close_stops_the_release_timer() -> None:
    h = Harness()
    h.session.open("o", "doc")
    await h.next()
    await _type(h, "doc", "akunl")
    h.clock.advance(0.5)
    await h.settle()
    assert _results(h) == [(5, "akunl")] and h.clock.pending() == 1  # the release is armed
    h.session.close("c", "doc")
    assert h.clock.pending() == 0


async def test_recent_messages_are_bounded() -> None:
    h = Harness(max_documents=2)
    for i in range(20):
        h.session.open(f"o{i}", f"d{i}", text=f"akuo {i}")
        await h.settle()
        h.session.close(f"c{i}", f"d{i}")
    assert len(h.session._recent) == RECENT_MESSAGES
    assert h.session.documents == 0


async def test_twenty_fast_word_ends_cancel_stale_work_and_answer_the_last() -> None:
    h = Harness()
    h.session.open("o", "doc", debounce=10.0)
    await h.next()
    # No settle between keystrokes: each word end cancels the computation of the previous one.
    text = "akuo " * 20
    for v, ch in enumerate(text, start=1):
        h.session.edit(f"k{v}", "doc", v, changes=[Change(v - 1, 0, ch)])
    await h.settle()
    events = h.drained()
    results = [e for e in events if isinstance(e, Result)]
    assert results[-1].version == len(text) and results[-1].fix.text == "שלום " * 20
    versions = [e.version for e in results]
    assert versions == sorted(versions)
    assert any(isinstance(e, Superseded) and e.reason == "cancelled" for e in events) or len(results) == 20


def test_caret_and_word_at() -> None:
    seed = 19
    print("seed", seed)
    rng = random.Random(seed)
    for _ in range(200):
        old = "".join(rng.choice("ab ") for _ in range(rng.randint(0, 30)))
        at = rng.randint(0, len(old))
        cut = rng.randint(0, len(old) - at)
        ins = "".join(rng.choice("ab ") for _ in range(rng.randint(0, 3)))
        new = old[:at] + ins + old[at + cut :]
        caret, inserted = _caret(old, new)
        # The diff may place an ambiguous edit elsewhere, but it always explains new from old.
        assert 0 <= caret <= len(new) and 0 <= inserted <= len(ins) + cut
        assert new[: caret - inserted] == old[: caret - inserted]
        assert new[caret:] == old[len(old) - (len(new) - caret) :]
    big = "x" * 100_000
    assert _caret(big, big + "y") == (100_001, 1)
    assert _caret(big, big[:500] + "y" + big[500:]) == (501, 1)
    marked = big[:500] + "q" + big[500:]
    assert _caret(marked, big) == (500, 0)  # a backspace inserts nothing
    assert _word_at("akuo aku", 8) == (5, 8)
    assert _word_at("akuo ", 5) is None
    assert _word_at("nv akunl", 3) is None
    assert _word_at("akxunl", 3) == (0, 6)
