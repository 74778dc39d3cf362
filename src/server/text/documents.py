"""Applying edits to a document's text: full replacement or ranged changes (code-point offsets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..platform.errors import invalid_argument
from .fixer import MAX_TEXT_CHARS, check_text

MAX_CHANGES = 1_000  # ranged replacements per edit


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
