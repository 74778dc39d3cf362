"""Cleaning: NFC, invisible and control characters, stray bidi controls, repeated spaces, mojibake.

Broken encodings are repaired by `ftfy` (a well-kept library), not by hand. The
cleaned text is compared with the input to produce anchored suggestions; most
texts need nothing, and a quick scan returns before any of the expensive work.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

import ftfy

from .suggestions import Kind, Suggestion

_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,  # "&amp;" may be what the user means (code, HTML being written)
    uncurl_quotes=False,  # curly quotes are correct typography
    fix_character_width=False,  # full-width forms are legitimate in CJK text
    fix_line_breaks=False,  # keep the user's line endings and our offsets
    normalization="NFC",
    explain=False,
)

ZERO_WIDTH = frozenset("\u200b\u2060\ufeff\u00ad\u180e")
JOINERS = frozenset("\u200c\u200d")  # ZWNJ/ZWJ: needed in emoji sequences and Persian/Arabic
BIDI_MARKS = frozenset("\u200e\u200f\u061c")  # LRM, RLM, ALM
BIDI_OPEN_EMBED = frozenset("\u202a\u202b")  # LRE, RLE: closed by PDF
BIDI_OVERRIDE = frozenset("\u202d\u202e")  # LRO, RLO: reorder characters visually; always removed
BIDI_PDF = "\u202c"
BIDI_OPEN_ISOLATE = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI: closed by PDI
BIDI_PDI = "\u2069"
_KEEP_CONTROLS = frozenset("\t\n\r")
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
# Characters this module removes or rewrites, and runs of spaces. Text without any of them (and
# already NFC, and without mojibake look-alikes) is returned at once: one regex scan in C.
_NEEDS_WORK = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|  "
)
_MOJIBAKE = re.compile("[\x80-\u02ff\u2010-\u2122\x1b\ufb00-\ufb06\ufffd]")
_MAX_DIFF = 20_000  # beyond this many differing code points, one suggestion replaces the span


def _emoji_like(ch: str) -> bool:
    return (
        unicodedata.category(ch) == "So" or "\ufe00" <= ch <= "\ufe0f" or "\U0001f3fb" <= ch <= "\U0001f3ff"
    )


def _is_letter(ch: str) -> bool:
    return ch.isalnum()


_BIDI_CONTROLS = BIDI_OPEN_EMBED | BIDI_OPEN_ISOLATE | BIDI_OVERRIDE | {BIDI_PDF, BIDI_PDI}
_INVISIBLE = ZERO_WIDTH | JOINERS | BIDI_MARKS | _BIDI_CONTROLS


def _paired_bidi(text: str, has_rtl: bool) -> set[int]:
    """Positions of the bidi embeddings and isolates to keep: the pairs closed within their
    paragraph, in text that has right-to-left script. Unmatched ones are stray; overrides never stay."""
    keep_bidi: set[int] = set()
    stack: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if ch in BIDI_OPEN_EMBED or ch in BIDI_OPEN_ISOLATE or ch in BIDI_OVERRIDE:
            stack.append((ch, i))
        elif ch == BIDI_PDF or ch == BIDI_PDI:
            want = BIDI_OPEN_ISOLATE if ch == BIDI_PDI else BIDI_OPEN_EMBED | BIDI_OVERRIDE
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] in want:
                    opener, j = stack[depth]
                    del stack[depth:]
                    if opener not in BIDI_OVERRIDE and has_rtl:
                        keep_bidi.update((i, j))
                    break
        elif ch == "\n":
            stack.clear()  # bidi embeddings end at a paragraph break
    return keep_bidi


def _keep_invisible(ch: str, prev: str, nxt: str, paired: bool, has_rtl: bool) -> bool:
    """Whether the invisible character `ch` (in `_INVISIBLE`) between `prev` (the output so far)
    and `nxt` stays; `paired`: a bidi control that `_paired_bidi` keeps."""
    if ch in ZERO_WIDTH:
        return False
    if ch in JOINERS:
        return bool(
            _emoji_like(prev or " ") or _emoji_like(nxt or " ") or (_RTL.match(prev or " ") and has_rtl)
        )
    if ch in BIDI_MARKS:
        # A mark belongs beside neutral characters in text that has right-to-left script;
        # at the edges, inside a word, doubled, or in purely left-to-right text it does nothing.
        return (
            has_rtl and bool(prev) and bool(nxt) and not (_is_letter(prev) and _is_letter(nxt)) and prev != ch
        )
    return paired


def _strip_invisible(text: str) -> str:
    """Remove zero-width, control and stray bidi characters; collapse runs of spaces."""
    has_rtl = _RTL.search(text) is not None
    keep_bidi = _paired_bidi(text, has_rtl)
    out: list[str] = []
    n = len(text)
    line_start = True
    for i, ch in enumerate(text):
        prev = out[-1] if out else ""
        if ch in _INVISIBLE:
            nxt = text[i + 1] if i + 1 < n else ""
            if _keep_invisible(ch, prev, nxt, i in keep_bidi, has_rtl):
                out.append(ch)
            continue
        if ch not in _KEEP_CONTROLS and unicodedata.category(ch) == "Cc":
            continue
        if ch == " " and prev == " " and not line_start:
            continue  # runs of spaces inside a line collapse (leading indentation stays)
        if ch == "\n":
            line_start = True
        elif ch != " " and ch != "\t":
            line_start = False
        out.append(ch)
    return "".join(out)


def clean_text(text: str) -> str:
    """The cleaned text (no suggestions)."""
    if text.isascii():
        return _strip_invisible(text) if _NEEDS_WORK.search(text) else text
    # ftfy only repairs text holding Latin-1/cp1252 look-alikes, C1 controls, escapes or ligatures.
    fixed = ftfy.fix_text(text, _FTFY) if _MOJIBAKE.search(text) else text
    if not unicodedata.is_normalized("NFC", fixed):
        fixed = unicodedata.normalize("NFC", fixed)
    return _strip_invisible(fixed) if _NEEDS_WORK.search(fixed) else fixed


def _describe(removed: str, inserted: str) -> tuple[str, float]:
    if not inserted and removed and all(not c.isprintable() or c == "\u00ad" for c in removed):
        return "remove invisible or control characters", 0.99
    if removed.strip(" ") == "" and inserted.strip(" ") == "" and len(inserted) < len(removed):
        return "collapse repeated spaces", 0.95
    if unicodedata.normalize("NFC", removed) == inserted:
        return "normalize Unicode (NFC)", 0.99
    return "repair broken encoding (mojibake)", 0.9


def clean_suggestions(text: str) -> list[Suggestion]:
    """Anchored CLEAN suggestions that turn `text` into `clean_text(text)`, sorted by offset."""
    cleaned = clean_text(text)
    if cleaned == text:
        return []
    # Diff only the part between the common prefix and suffix (fast for long texts with few changes).
    start = 0
    limit = min(len(text), len(cleaned))
    while start < limit and text[start] == cleaned[start]:
        start += 1
    end_a, end_b = len(text), len(cleaned)
    while end_a > start and end_b > start and text[end_a - 1] == cleaned[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = text[start:end_a], cleaned[start:end_b]
    if len(a) + len(b) > _MAX_DIFF:
        message, confidence = _describe(a, b)
        return [Suggestion(start, len(a), b, Kind.CLEAN, confidence, message)]
    out: list[Suggestion] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        message, confidence = _describe(a[i1:i2], b[j1:j2])
        out.append(Suggestion(start + i1, i2 - i1, b[j1:j2], Kind.CLEAN, confidence, message))
    return out
