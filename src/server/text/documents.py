"""Applying edits to a document's text (full replacement or ranged changes, code-point offsets),
and where an edit leaves the caret and the word being typed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..platform.errors import invalid_argument
from .fixer import MAX_TEXT_CHARS, check_text

MAX_CHANGES = 1_000  # ranged replacements per edit
MAX_WORD = 64  # code points: longer runs are not words being typed
# Characters that end a word: whitespace and punctuation that is not a letter on the other layout
# (',' '.' ';' '/' and the apostrophe are Hebrew letters or punctuation keys carrying letters, so
# they may be inside a word typed on the wrong layout; the space after them ends it).
WORD_END = frozenset(' \t\n\r!?:"()[]{}…\u00a0')


@dataclass(frozen=True, slots=True)
class Change:
    """Replace `length` code points at `offset` with `text`."""

    offset: int
    length: int
    text: str


def apply_changes(text: str, changes: Sequence[Change], field: str = "edit.changes") -> str:
    """`text` after the changes, applied in order; INVALID_ARGUMENT if any range is outside the text.

    The edit is all-or-nothing: the caller keeps the old text when this raises.
    """
    if not changes:
        raise invalid_argument("edit has no changes", [(field, "give at least one change, or the full text")])
    if len(changes) > MAX_CHANGES:
        raise invalid_argument("too many changes in one edit", [(field, f"at most {MAX_CHANGES}")])
    for i, change in enumerate(changes):
        where = f"{field}[{i}]"
        if change.offset < 0 or change.length < 0:
            raise invalid_argument("negative offset or length", [(where, "offset and length must be >= 0")])
        if change.offset + change.length > len(text):
            raise invalid_argument(
                "change range is outside the document",
                [(where, f"offset {change.offset} + length {change.length} > document length {len(text)}")],
            )
        check_text(change.text, f"{where}.text", allow_empty=True)
        text = text[: change.offset] + change.text + text[change.offset + change.length :]
        if len(text) > MAX_TEXT_CHARS:
            raise invalid_argument(
                "document would be too long",
                [(where, f"documents hold at most {MAX_TEXT_CHARS} code points")],
            )
    return text


def caret_of(old: str, new: str) -> tuple[int, int]:
    """Where an edit ended in `new` (the caret) and how many code points it inserted.

    The common prefix is found by bisection on slices (compared in C), so a keystroke in a
    long document costs a few comparisons of its text, not a Python loop over it.
    """
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[lo:mid] == new[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(old), len(new)) - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid :] == new[len(new) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    caret = len(new) - lo
    return caret, caret - prefix


def word_at(text: str, caret: int) -> tuple[int, int] | None:
    """The span of the word touching the caret from the left (the one being typed), if any.

    Runs longer than MAX_WORD (a pasted blob, a long URL) are not words anyone types on the
    wrong layout: None, and the scan stops there, so a keystroke never walks a whole document."""
    if caret == 0 or text[caret - 1] in WORD_END:
        return None
    start, end = caret, caret
    while start > 0 and text[start - 1] not in WORD_END:
        start -= 1
        if caret - start > MAX_WORD:
            return None
    while end < len(text) and text[end] not in WORD_END:
        end += 1
        if end - start > MAX_WORD:
            return None
    return start, end


def word_before(text: str, end: int) -> str | None:
    """The whitespace-separated token ending at `end` (None past MAX_WORD code points)."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
        if end - start > MAX_WORD:
            return None
    return text[start:end]
