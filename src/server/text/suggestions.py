"""Anchored suggestions (offset, length, replacement) and applying them to a text."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple


class Kind(enum.Enum):
    LAYOUT = "layout"
    CLEAN = "clean"


class Suggestion(NamedTuple):
    """Replace `length` code points at `offset` with `replacement` (a tuple: cheap to make by the million)."""

    offset: int
    length: int
    replacement: str
    kind: Kind
    confidence: float
    message: str

    @property
    def end(self) -> int:
        return self.offset + self.length


def apply(text: str, suggestions: Iterable[Suggestion]) -> str:
    """`text` with non-overlapping suggestions applied (they must be sorted by offset)."""
    parts: list[str] = []
    pos = 0
    for s in suggestions:
        if s.offset < pos:
            raise ValueError("suggestions overlap or are not sorted")
        parts.append(text[pos : s.offset])
        parts.append(s.replacement)
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)
