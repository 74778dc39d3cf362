"""Run the text operations on one text: validation, cleaning, layout, and one list of suggestions.

All suggestions are anchored in the text as given. Cleaning runs first; the layout
fix then reads the cleaned text, and its suggestions are mapped back onto the
original (a layout change that spans a cleaned character absorbs that cleaning).
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from ..platform.errors import invalid_argument
from .clean import clean_suggestions
from .layout import Cancelled, LayoutFixer
from .suggestions import Kind, Suggestion, apply

MAX_TEXT_CHARS = 100_000  # code points per text (a page of text; the message limit is 1 MiB)
MAX_BATCH = 100  # the seed's limit
MAX_CONTEXT = 10  # previous messages sent as context
MAX_CONTEXT_CHARS = 1_000  # code points per previous message
LANGUAGES = frozenset({"he", "en"})
_SURROGATE = re.compile(r"[\ud800-\udfff]")

__all__ = [
    "LANGUAGES",
    "MAX_BATCH",
    "MAX_CONTEXT",
    "MAX_TEXT_CHARS",
    "Cancelled",
    "FixResult",
    "Operation",
    "TextFixer",
]


class Operation(enum.Enum):
    FIX_LAYOUT = "fix_layout"
    CLEAN = "clean"


ALL_OPERATIONS = frozenset(Operation)


@dataclass(frozen=True, slots=True)
class FixResult:
    text: str
    suggestions: tuple[Suggestion, ...]
    compute_seconds: float
    # The layout fix's judgement of the text (language "" and reason "" when it did not run).
    language: str = ""
    confidence: float = 0.0
    reason: str = ""


def check_text(text: str, field: str, *, allow_empty: bool = False) -> None:
    """INVALID_ARGUMENT (with a field violation) for empty, oversize or ill-formed text."""
    if not text and not allow_empty:
        raise invalid_argument("text is empty", [(field, "must not be empty")])
    if len(text) > MAX_TEXT_CHARS:
        raise invalid_argument(
            f"text is too long ({len(text)} code points)", [(field, f"at most {MAX_TEXT_CHARS} code points")]
        )
    if _SURROGATE.search(text):
        raise invalid_argument(
            "text holds a lone surrogate", [(field, "must be valid Unicode (no surrogates)")]
        )


def check_hints(hints: Iterable[str], field: str) -> tuple[str, ...]:
    out = []
    for i, hint in enumerate(hints):
        code = hint.strip().lower().split("-")[0]
        if code not in LANGUAGES:
            raise invalid_argument(
                f"unsupported language hint {hint!r}", [(f"{field}[{i}]", "supported: 'he', 'en'")]
            )
        out.append(code)
    return tuple(dict.fromkeys(out))


def check_context(context: Sequence[str], field: str) -> tuple[str, ...]:
    """INVALID_ARGUMENT for too many, too long or ill-formed previous messages."""
    if len(context) > MAX_CONTEXT:
        raise invalid_argument(
            f"too many context messages ({len(context)})", [(field, f"at most {MAX_CONTEXT} messages")]
        )
    for i, text in enumerate(context):
        if len(text) > MAX_CONTEXT_CHARS:
            raise invalid_argument(
                f"context message {i} is too long ({len(text)} code points)",
                [(f"{field}[{i}]", f"at most {MAX_CONTEXT_CHARS} code points")],
            )
        if _SURROGATE.search(text):
            raise invalid_argument(
                "context holds a lone surrogate", [(f"{field}[{i}]", "must be valid Unicode (no surrogates)")]
            )
    return tuple(context)


def _merge(clean: list[Suggestion], cleaned: str, layout: list[Suggestion]) -> list[Suggestion]:
    """Map layout suggestions made on the cleaned text onto the original text."""
    if not clean:
        return layout
    spans = []  # (start, end, growth) of each clean replacement within the cleaned text
    shift = 0
    for s in clean:
        start = s.offset + shift
        growth = len(s.replacement) - s.length
        spans.append((start, start + len(s.replacement), growth))
        shift += growth

    def original(p: int, *, left: bool) -> int:
        # p is a boundary in the cleaned text. A deletion sitting exactly at p lies before p when
        # p starts a change (left) and after it when p ends one, so the two never overlap.
        moved = 0
        for cs, ce, growth in spans:
            if ce < p or (ce == p and (left or cs < ce)):
                moved += growth
        return p - moved

    absorbed: set[int] = set()
    out: list[Suggestion] = []
    for lay in layout:
        a, b = lay.offset, lay.end
        a2, b2 = a, b
        for k, (cs, ce, _) in enumerate(spans):
            if (cs < ce and cs < b and ce > a) or (cs == ce and a < cs < b):
                absorbed.add(k)
                a2, b2 = min(a2, cs), max(b2, ce)
        replacement = cleaned[a2:a] + lay.replacement + cleaned[b:b2]
        start, end = original(a2, left=True), original(b2, left=False)
        out.append(Suggestion(start, end - start, replacement, Kind.LAYOUT, lay.confidence, lay.message))
    out.extend(s for k, s in enumerate(clean) if k not in absorbed)
    out.sort(key=lambda s: s.offset)
    return out


class TextFixer:
    """The operations behind FixText, FixTextBatch and Session results."""

    def __init__(self, layout: LayoutFixer | None = None) -> None:
        self.layout = layout or LayoutFixer()

    def fix(
        self,
        text: str,
        operations: Collection[Operation] = ALL_OPERATIONS,
        hints: Collection[str] = (),
        should_stop: Callable[[], bool] | None = None,
        context: Sequence[str] = (),
        hold: tuple[int, int] | None = None,
    ) -> FixResult:
        """Run the operations; `hold` is a span (the word being typed) no suggestion may touch."""
        started = time.perf_counter()
        clean: list[Suggestion] = []
        cleaned = text
        if Operation.CLEAN in operations:
            clean = clean_suggestions(text)
            if clean:
                cleaned = apply(text, clean)
        if should_stop is not None and should_stop():
            raise Cancelled()
        suggestions = clean
        language, confidence, reason = "", 0.0, ""
        if Operation.FIX_LAYOUT in operations:
            decision = self.layout.decide(cleaned, hints, should_stop, context)
            language, confidence, reason = decision.language, decision.confidence, decision.reason
            if decision.suggestions:
                suggestions = _merge(clean, cleaned, decision.suggestions)
        if hold is not None and suggestions:
            a, b = hold
            suggestions = [s for s in suggestions if s.end <= a or s.offset >= b]
        result = apply(text, suggestions) if suggestions else text
        return FixResult(
            result, tuple(suggestions), time.perf_counter() - started, language, confidence, reason
        )
