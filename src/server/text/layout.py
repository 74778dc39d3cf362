# ruff: noqa: RUF002  (Hebrew letters are this module's subject, not look-alikes)
"""Wrong-keyboard-layout fix for Hebrew and English (SI-1452), decided per word by likelihood.

For each word the fixer compares how likely the word is as typed (in the
language of its script) with how likely it is after swapping the layout (in the
other language), using word frequencies (`lexicon.py`):

- A Hebrew word with a final letter (ך ם ן ף ץ) mid-word is impossible as typed,
  and so is a Latin word whose Hebrew reading has one: strong evidence both ways.
- Punctuation keys carry letters (`,` = ת, `.` = ץ, `;` = ף, `w` = `'`), so each
  word is read twice: every key swapped, or its edge punctuation kept as typed.
- A word that is fine as typed (a common word in its own language) is left
  alone unless its neighbours say the sentence was typed on the wrong layout.
- Two- and three-letter words are ambiguous ('tbh' is also 'אני'): they change
  only with context, i.e. when the neighbouring words are in the other language.
- URLs, e-mail addresses, numbers and code-like tokens are never touched.

Per-token analysis is cached (`_cache`): typing the same words again costs a dict lookup.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from .keyboard import (
    EN_TABLE,
    FINAL_LETTERS,
    HE_TABLE,
    HEBREW_LETTERS,
    HEBREW_WORD_CHARS,
    LATIN_CAPITALS,
    LATIN_LETTERS,
    LATIN_WORD_CHARS,
    MIRRORED,
)
from .lexicon import Lexicon, default_lexicon
from .suggestions import Suggestion


class Cancelled(Exception):
    """A computation stopped early because its result is no longer wanted."""


_TOKEN = re.compile(r"\S+")
# Tokens that are never words typed on the wrong layout: URLs, e-mail, numbers, code.
_SKIP = re.compile(r"://|@|^www\.|\w\(|[_=<>{}\[\]\\|#$%^&*~+]")
# Tokens with digits that may still be typed on the wrong layout: '5פצ' (5pm: Hebrew-layout
# letters after a number) and 'c-3' / 'c8' (ב-3, ב8: a Hebrew prefix letter before a number).
_DIGIT = re.compile(r"\d")
# A word between brackets that face away from it: typed with the other layout's bracket keys.
_MIRRORED = re.compile(r"[\]}][^\s\[\]{}()<>=\\|]+([\[{])[?!.,:;]*")
_NUMBER_SUFFIX = re.compile(r"\d+(?:[.:]\d+)?([א-ת]+)[?!)]*")
_PREFIX_NUMBER = re.compile(r"([ucknvaf])-?\d+(?:[.:]\d+)?[?!]*")
# English words that follow a number without a space: 5pm, 10am, 3rd, 2nd, 1st, 4th.
NUMBER_SUFFIXES = frozenset({"am", "pm", "st", "nd", "rd", "th"})


def _fits_number(number: str, suffix: str) -> bool:
    """Whether `suffix` fits `number`: am/pm after an hour (5pm, 10:30am), the right ordinal (3rd)."""
    if suffix in ("am", "pm"):
        hour = number.split(":")[0].split(".")[0]
        return hour.isdigit() and 1 <= int(hour) <= 12
    if suffix not in NUMBER_SUFFIXES or not number.isdigit():
        return False
    n = int(number)
    due = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return suffix == due


_WORD_CHARS = LATIN_WORD_CHARS | HEBREW_WORD_CHARS | {'"'}
_LATIN_EDGE = ",.;'/`\""
_HEBREW_EDGE = ",.;'/\""
_LATIN_CORE = re.compile(r"[a-z]+(?:'[a-z]+)?")
_HEBREW_CORE = re.compile(r"[א-ת]+(?:['\"][א-ת]*)?")

# Thresholds, set from the labelled set in tests/data/text_layout.tsv (see docs/text.md).
FINE_AS_TYPED = 3.0  # Zipf at or above which a word is "fine as typed" without context
STRONG_MARGIN = {2: math.inf, 3: 2.0}  # gain needed to change a word alone, by letter count
STRONG_MARGIN_LONG = 1.0
STRONG_MIN_ZIPF = {2: math.inf, 3: 3.5}  # the converted word must be at least this common
STRONG_MIN_ZIPF_LONG = 2.0
CONTEXT_MIN_ZIPF = 3.0  # an ambiguous word changes with context only if its conversion is this common
CONTEXT_MARGIN = 0.5  # gain needed with one supporting neighbour; each further one lowers it
CONTEXT_STEP = 0.75
CONTEXT_FLOOR = -1.5  # below this gain a word never changes, whatever its neighbours ...
SENTENCE_FLOOR = -3.0  # ... except in a sentence fixed into its target language, down to this
SOFT_GAIN = 1.5  # an undecided neighbour heading the same way with this gain counts as half support
CONTEXT_WINDOW = 3
KNOWN_WORD = 2.0  # as-typed Zipf that makes a word count as context for its own language
IMPOSSIBLE = -1.0  # as-typed score of a Hebrew word with a final letter mid-word
IMPOSSIBLE_PAIR_ZIPF = 5.0  # a two-letter word impossible as typed changes alone if this common
HINT_BIAS = 0.5  # gain added towards the one hinted language (subtracted from the other)
HINT_FINE = 1.0  # how much higher "fine as typed" sits for words heading to the hinted language


@dataclass(frozen=True, slots=True)
class Choice:
    """One word of a token that may be on the wrong layout."""

    start: int  # offsets within the token
    end: int
    replacement: str
    target: str  # language the word becomes: "he" or "en"
    as_is: float  # Zipf as typed (IMPOSSIBLE when it cannot be a word)
    converted: float  # Zipf after swapping the layout
    letters: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a whitespace-separated token can contribute: choices and its language as typed.

    `settled` holds the changes decided without context or hints, ready to emit
    (start, length, replacement, confidence, message); `undecided` says whether any
    choice waits for context. Most tokens settle here, once, and are then reused.
    """

    choices: tuple[Choice, ...]
    typed_lang: str | None  # "he"/"en" when the token is a known word as typed
    settled: tuple[tuple[int, int, str, float, str], ...] = ()
    undecided: bool = False
    # Languages this token can lend as context: settled targets, or its language as typed.
    lends: frozenset[str] = frozenset()
    # Targets of its undecided choices, and of those strong enough to count as half support.
    wants: frozenset[str] = frozenset()
    soft: frozenset[str] = frozenset()
    # Targets of choices too weak for neighbours, that only a sentence fixed into them can carry.
    weak: frozenset[str] = frozenset()
    lang: str | None = None  # the language it counts for when nothing needs context


_KEEP = TokenInfo((), None)


def _final_mid_word(word: str) -> bool:
    last = len(word) - 1
    for i, ch in enumerate(word):
        if ch in FINAL_LETTERS and i < last and word[i + 1] not in "'\"":
            return True
    return False


def _shifted(run: str) -> bool:
    """A Latin capital, then Hebrew letters (and capitals only): Shift pressed on the Hebrew layout
    at the start of an English word ('Hקךךם'). A Hebrew prefix before an acronym ('בIT', 'לCEO')
    starts with a Hebrew letter and is Hebrew as typed."""
    first = next((c for c in run if c.isalpha()), "")
    return first in LATIN_CAPITALS and all(c in LATIN_CAPITALS for c in run if c.isascii() and c.isalpha())


def _split_edges(run: str, edge: str) -> tuple[str, str, str]:
    core = run.strip(edge)
    if not core:
        return run, "", ""
    lead = run[: run.index(core)]
    return lead, core, run[len(lead) + len(core) :]


class LayoutFixer:
    """Finds words typed on the wrong layout. Thread-safe for reads; the cache is a plain dict."""

    def __init__(self, lexicon: Lexicon | None = None, cache_size: int = 200_000) -> None:
        self.lex = lexicon or default_lexicon()
        self._cache: dict[str, TokenInfo] = {}
        self._cache_size = cache_size

    # --- per-token analysis (cached) -------------------------------------------------

    def token_info(self, token: str) -> TokenInfo:
        info = self._cache.get(token)
        if info is None:
            info = self._analyse(token)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # crude but bounded; refills with the words in use
            self._cache[token] = info
        return info

    def _analyse(self, token: str) -> TokenInfo:
        mirrored = _MIRRORED.fullmatch(token)
        if mirrored is not None:
            return self._unmirror(token, mirrored.start(1))
        if _SKIP.search(token) or any(c.isalpha() and c not in _WORD_CHARS for c in token):
            return _KEEP  # code, links, numbers, or letters of another script (é, ж): not ours to swap
        if _DIGIT.search(token):
            return self._with_digits(token)
        choices, typed = self._read_runs(token)
        if not choices and typed is None:
            return _KEEP
        return self._settle(choices, typed)

    def _read_runs(self, token: str) -> tuple[list[Choice], str | None]:
        """The choices of each run of word characters, and the language typed if only one."""
        choices: list[Choice] = []
        langs: set[str] = set()
        i, n = 0, len(token)
        while i < n:
            if token[i] not in _WORD_CHARS:
                i += 1
                continue
            j = i
            while j < n and token[j] in _WORD_CHARS:
                j += 1
            choice, lang = self._read_run(token[i:j], i)
            if choice is not None:
                choices.append(choice)
            if lang is not None:
                langs.add(lang)
            i = j
        typed = langs.pop() if len(langs) == 1 else None
        return choices, typed

    def _read_run(self, run: str, i: int) -> tuple[Choice | None, str | None]:
        """One run read as Latin or as Hebrew; a mix of scripts is only read as Shifted Hebrew."""
        has_latin = any(c.lower() in LATIN_LETTERS for c in run)
        has_hebrew = any(c in HEBREW_LETTERS for c in run)
        if has_latin and not has_hebrew:
            return self._latin(run, i)
        if has_hebrew and (not has_latin or _shifted(run)):
            # Latin capitals among Hebrew letters: Shift on the Hebrew layout ('Hקךךם' is 'Hello').
            return self._hebrew(run, i)
        return None, None

    def _settle(self, choices: list[Choice], typed: str | None) -> TokenInfo:
        """The token's decisions without context: what is settled alone, what waits for neighbours."""
        settled = []
        lends: set[str] = set()
        wants: set[str] = set()
        soft: set[str] = set()
        weak: set[str] = set()
        for choice in choices:
            gain = self._gain(choice, ())
            if self._strong(choice, gain, ()):
                confidence = self._confidence(choice, gain, 0)
                settled.append(
                    (
                        choice.start,
                        choice.end - choice.start,
                        choice.replacement,
                        confidence,
                        _message(choice),
                    )
                )
                lends.add(choice.target)
            elif choice.converted >= CONTEXT_MIN_ZIPF and gain >= CONTEXT_FLOOR:
                wants.add(choice.target)
                if gain >= SOFT_GAIN:
                    soft.add(choice.target)
            elif choice.converted >= CONTEXT_MIN_ZIPF and gain >= SENTENCE_FLOOR:
                weak.add(choice.target)
        if not lends and not wants and typed is not None:
            lends.add(typed)
        return TokenInfo(
            tuple(choices),
            typed,
            tuple(settled),
            bool(wants or weak),
            frozenset(lends),
            frozenset(wants),
            frozenset(soft),
            frozenset(weak),
            next(iter(lends)) if len(lends) == 1 else typed,
        )

    def _unmirror(self, token: str, close: int) -> TokenInfo:
        """']gshhi[' is '[עדיין]' typed on the other layout, whose bracket keys are swapped: the
        brackets swap back along with the word between them (and only if that word changes)."""
        inner = self.token_info(token[1:close])
        full = [c for c in inner.choices if c.start == 0 and c.end == close - 1]
        if len(inner.choices) != 1 or not full:
            return _KEEP
        c = full[0]
        wrapped = MIRRORED[token[0]] + c.replacement + MIRRORED[token[close]]
        choice = Choice(0, close + 1, wrapped, c.target, c.as_is, c.converted, c.letters)
        settled = tuple(
            (0, close + 1, wrapped, confidence, _message(choice)) for _, _, _, confidence, _ in inner.settled
        )
        return dataclasses.replace(inner, choices=(choice,), settled=settled)

    def _hebrew_score(self, core: str) -> float:
        if not _HEBREW_CORE.fullmatch(core) or _final_mid_word(core):
            return 0.0
        return self.lex.hebrew(core)

    def _english_score(self, core: str) -> float:
        core = core.lower()
        return self.lex.english(core) if _LATIN_CORE.fullmatch(core) else 0.0

    def _with_digits(self, token: str) -> TokenInfo:
        """A token with digits: '5פצ' -> '5pm' settles; 'c-3' -> 'ב-3' waits for Hebrew neighbours."""
        m = _NUMBER_SUFFIX.fullmatch(token)
        if m is not None:
            english = m.group(1).translate(HE_TABLE)
            if not _fits_number(m.group(0)[: m.start(1)], english.strip(_LATIN_EDGE)):
                return _KEEP
            choice = Choice(m.start(1), m.end(1), english, "en", IMPOSSIBLE, 5.0, 2)
            settled = (choice.start, choice.end - choice.start, english, 0.9, _message(choice))
            return TokenInfo((choice,), None, (settled,), lends=frozenset({"en"}), lang="en")
        m = _PREFIX_NUMBER.fullmatch(token)
        if m is not None:
            choice = Choice(0, 1, m.group(1).translate(EN_TABLE), "he", 0.0, CONTEXT_MIN_ZIPF, 1)
            he = frozenset({"he"})
            return TokenInfo((choice,), None, undecided=True, wants=he, soft=he)
        return _KEEP

    def _latin(self, run: str, start: int) -> tuple[Choice | None, str | None]:
        if any(c.isupper() for c in run[1:]):
            return None, None  # camelCase, iPhone, NASA: names and acronyms stay
        low = run.lower()
        lead, core, trail = _split_edges(low, _LATIN_EDGE)
        as_is = self._english_score(core) if core else 0.0
        typed = "en" if as_is >= KNOWN_WORD else None
        full = low.translate(EN_TABLE)
        best = self._hebrew_score(full.strip(_HEBREW_EDGE))
        replacement = full
        if lead or trail:
            mid = core.translate(EN_TABLE)
            kept = self._hebrew_score(mid.strip(_HEBREW_EDGE))
            if best == 0.0 and kept > 0.0:  # the faithful reading wins whenever it is a word
                best, replacement = kept, run[: len(lead)] + mid + run[len(run) - len(trail) :]
        letters = sum(1 for c in replacement if c in HEBREW_LETTERS)
        if best <= 0.0:
            return None, typed
        return Choice(start, start + len(run), replacement, "he", as_is, best, letters), typed

    def _hebrew(self, run: str, start: int) -> tuple[Choice | None, str | None]:
        lead, core, trail = _split_edges(run, _HEBREW_EDGE)
        if _final_mid_word(core) or (not core.isascii() and any(c in LATIN_CAPITALS for c in core)):
            as_is = IMPOSSIBLE
        else:
            as_is = self.lex.hebrew(core) if _HEBREW_CORE.fullmatch(core) else 0.0
        typed = "he" if as_is >= 0.0 and _HEBREW_CORE.fullmatch(core) else None
        full = run.translate(HE_TABLE)
        best = self._english_score(full.strip(_LATIN_EDGE))
        replacement = full
        if lead or trail:
            mid = core.translate(HE_TABLE)
            kept = self._english_score(mid.strip(_LATIN_EDGE))
            if best == 0.0 and kept > 0.0:
                best, replacement = kept, run[: len(lead)] + mid + run[len(run) - len(trail) :]
        letters = sum(1 for c in replacement if c.lower() in LATIN_LETTERS)
        if best <= 0.0:
            return None, typed
        return Choice(start, start + len(run), replacement, "en", as_is, best, letters), typed

    # --- decisions ----------------------------------------------------------------------

    @staticmethod
    def _gain(choice: Choice, hints: Collection[str]) -> float:
        gain = choice.converted - max(choice.as_is, 0.0) - (1.0 if choice.as_is == IMPOSSIBLE else 0.0)
        if len(hints) == 1:
            gain += HINT_BIAS if choice.target in hints else -HINT_BIAS
        return gain

    def _strong(self, choice: Choice, gain: float, hints: Collection[str]) -> bool:
        n = choice.letters
        # A text said to be in the target language protects fine-as-typed words a little less.
        fine = FINE_AS_TYPED + (HINT_FINE if len(hints) == 1 and choice.target in hints else 0.0)
        if choice.as_is >= fine:
            return False
        margin = STRONG_MARGIN.get(n, STRONG_MARGIN_LONG if n > 3 else math.inf)
        min_zipf = STRONG_MIN_ZIPF.get(n, STRONG_MIN_ZIPF_LONG if n > 3 else math.inf)
        if choice.as_is == IMPOSSIBLE and n >= 3:
            margin, min_zipf = min(margin, 1.0), min(min_zipf, 2.0)
        elif choice.as_is == IMPOSSIBLE and n == 2:
            margin, min_zipf = 1.0, IMPOSSIBLE_PAIR_ZIPF  # 'םל' cannot be Hebrew; 'ok' is common
        return gain >= margin and choice.converted >= min_zipf

    @staticmethod
    def _confidence(choice: Choice, gain: float, support: int) -> float:
        # A logistic curve over the likelihood gain; longer words and supporting neighbours add evidence.
        x = gain - 1.0 + 0.25 * min(choice.letters, 8) + 0.5 * support
        return round(min(0.99, max(0.05, 1.0 / (1.0 + math.exp(-x)))), 3)

    def suggest(
        self,
        text: str,
        hints: Collection[str] = (),
        should_stop: Callable[[], bool] | None = None,
        context: Sequence[str] = (),
    ) -> list[Suggestion]:
        """Layout suggestions for `text`, sorted by offset (see `decide.decide`)."""
        return _decide.decide(self, text, hints, should_stop, context).suggestions

    def decide(
        self,
        text: str,
        hints: Collection[str] = (),
        should_stop: Callable[[], bool] | None = None,
        context: Sequence[str] = (),
    ) -> _decide.Decision:
        """The suggestions and the text's language, confidence and reason."""
        return _decide.decide(self, text, hints, should_stop, context)


def _message(choice: Choice) -> str:
    lang = "Hebrew" if choice.target == "he" else "English"
    return f"typed on the wrong keyboard layout; meant {lang} '{choice.replacement}'"


def _tokens(text: str) -> list[tuple[int, str]]:
    """(offset, token) for each whitespace-separated token."""
    if text.isprintable():  # no tabs, newlines or exotic spaces: str.split(" ") is much faster
        out = []
        pos = 0
        for token in text.split(" "):
            if token:
                out.append((pos, token))
            pos += len(token) + 1
        return out
    return [(m.start(), m.group()) for m in _TOKEN.finditer(text)]


def fix_layout(text: str, fixer: LayoutFixer, hints: Sequence[str] = (), context: Sequence[str] = ()) -> str:
    from .suggestions import apply

    return apply(text, fixer.suggest(text, hints, context=context))


from . import decide as _decide  # noqa: E402  (decide reads this module's rules; imported last)
