# ruff: noqa: RUF001
"""Cleaning and the combined fixer: every suggestion anchored in the original text."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.server.platform.errors import HubError
from realtime.server.text.clean import clean_suggestions, clean_text
from realtime.server.text.fixer import MAX_TEXT_CHARS, Operation, TextFixer, check_hints, check_text
from realtime.server.text.layout import LayoutFixer, fix_layout
from realtime.server.text.suggestions import Kind, apply


@pytest.fixture(scope="module")
def fixer() -> TextFixer:
    return TextFixer(LayoutFixer())


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("plain ascii text", "plain ascii text"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("soft\u00adhyphen", "softhyphen"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("tabs\tand\nlines\r\nstay", "tabs\tand\nlines\r\nstay"),
        ("too   many  spaces", "too many spaces"),
        ("    indentation stays", "    indentation stays"),
        ("cafe\u0301", "café"),  # NFC
        ("cafÃ© au lait", "café au lait"),  # mojibake repaired by ftfy
        ("the â€œquotesâ€\x9d", "the “quotes”"),
        ("\u202eevil override\u202c text", "evil override text"),  # overrides reorder text: removed
        ("stray pdf\u202c here", "stray pdf here"),
        ("abc\u200f", "abc"),  # a mark in purely left-to-right text does nothing
        ("שלום\u200f", "שלום"),  # ... nor at the end of the text
        ("ab\u200fcd שלום", "abcd שלום"),  # ... nor inside a word
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),  # ZWJ in emoji sequences stays
        ("x\u200dy", "xy"),
    ],
)
def test_clean_text(dirty: str, clean: str) -> None:
    assert clean_text(dirty) == clean
    assert apply(dirty, clean_suggestions(dirty)) == clean


def test_bidi_marks_and_isolates_that_belong_stay() -> None:
    keep = "שלום 2024\u200f, world"
    assert clean_text(keep) == keep
    isolated = "said \u2067שלום\u2069 today"
    assert clean_text(isolated) == isolated


def test_clean_suggestions_describe_the_change() -> None:
    [s] = clean_suggestions("a\u200bb")
    assert (s.offset, s.length, s.replacement, s.kind) == (1, 1, "", Kind.CLEAN)
    assert "invisible" in s.message
    [s] = clean_suggestions("a    b")
    assert "spaces" in s.message and s.replacement == ""
    [s] = clean_suggestions("cafÃ©")
    assert "encoding" in s.message and s.replacement == "é"


def test_fixer_merges_clean_and_layout_in_original_offsets(fixer: TextFixer) -> None:
    text = "aku\u200bo  nv akunl"
    result = fixer.fix(text)
    assert result.text == "שלום מה שלומך"
    assert apply(text, result.suggestions) == result.text
    kinds = [s.kind for s in result.suggestions]
    assert kinds == [Kind.LAYOUT, Kind.CLEAN, Kind.LAYOUT, Kind.LAYOUT]
    # The zero-width space inside 'aku\u200bo' is absorbed by the layout change that spans it.
    assert result.suggestions[0].offset == 0 and result.suggestions[0].length == 5


def test_operations_are_selectable(fixer: TextFixer) -> None:
    text = "akuo\u200b  world"
    assert fixer.fix(text, {Operation.CLEAN}).text == "akuo world"
    assert fixer.fix(text, {Operation.FIX_LAYOUT}).text == "שלום\u200b  world"


_ALPHABET = st.sampled_from([*list("akuonv tbh,.'/שלוםך\u200b\u200f\u202e\u202c  "), "é", "Ã©", "\x07"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_suggestions_always_rebuild_the_result(text: str) -> None:
    fixer = _SHARED
    result = fixer.fix(text)
    offsets = [(s.offset, s.end) for s in result.suggestions]
    assert offsets == sorted(offsets)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(offsets))
    assert apply(text, result.suggestions) == result.text
    assert result.text == fix_layout(clean_text(text), fixer.layout)


_SHARED = TextFixer(LayoutFixer())


@pytest.mark.parametrize(
    ("text", "field"),
    [("", "must not be empty"), ("x" * (MAX_TEXT_CHARS + 1), "at most"), ("a\ud800b", "surrogate")],
)
def test_bad_text_is_invalid_argument(text: str, field: str) -> None:
    with pytest.raises(HubError) as err:
        check_text(text, "text")
    assert err.value.code.name == "INVALID_ARGUMENT"
    assert err.value.violations[0].field == "text"
    assert field in err.value.violations[0].description or field in err.value.message


def test_hints_are_checked() -> None:
    assert check_hints(["HE", "en-US", "he"], "hints") == ("he", "en")
    with pytest.raises(HubError) as err:
        check_hints(["fr"], "options.language_hints")
    assert err.value.violations[0].field == "options.language_hints[0]"
