# ruff: noqa: RUF003  (Hebrew letters are this module's subject, not look-alikes)
"""Word likelihoods in English and Hebrew, from the `wordfreq` package's own data files.

wordfreq ships its frequency lists inside the wheel (no network at run time).
Its lists are buckets of words by frequency in centibels: bucket i holds the words
whose Zipf frequency is 9 - i/100 (Zipf 7 is "the", 3 is a word seen once per
million words, 0 means unknown). We keep only words the layout fixer can produce
(lowercase Latin letters or Hebrew letters, with an inner apostrophe or gershayim),
which keeps the tables small and every lookup one dict access.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import wordfreq

_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_HEBREW_WORD = re.compile(r"[א-ת]+(?:['\"][א-ת]*)?")
# Hebrew prefixes (and, the, in, to, from, that, as) attach to the next word: 'ובבית' is 'ו' + 'ב' + 'בית'.
HEBREW_PREFIXES = frozenset("ובלמהשכ")


def _zipf_table(lang: str, pattern: re.Pattern[str]) -> dict[str, float]:
    table: dict[str, float] = {}
    for index, bucket in enumerate(wordfreq.get_frequency_list(lang, "large")):
        zipf = round(9.0 - index / 100.0, 2)
        if zipf <= 0:
            break
        for word in bucket:
            if pattern.fullmatch(word) and word not in table:
                table[word] = zipf
    return table


@dataclass(frozen=True)
class Lexicon:
    """Zipf frequencies of English and Hebrew words (0.0 = unknown)."""

    en: dict[str, float]
    he: dict[str, float]

    def english(self, word: str) -> float:
        return self.en.get(word, 0.0)

    def hebrew(self, word: str) -> float:
        """Zipf of a Hebrew word; a word not listed may still be prefixes + a listed word (penalised)."""
        zipf = self.he.get(word)
        if zipf is not None:
            return zipf
        best = 0.0
        for k in (1, 2):
            if len(word) - k < 2 or word[k - 1] not in HEBREW_PREFIXES:
                break
            stem = self.he.get(word[k:])
            if stem is not None:
                best = max(best, stem - 0.75 * k)
        return best


_lock = threading.Lock()
_default: Lexicon | None = None


def default_lexicon() -> Lexicon:
    """The shared lexicon, loaded once (about a second; call it off the event loop)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Lexicon(en=_zipf_table("en", _LATIN_WORD), he=_zipf_table("he", _HEBREW_WORD))
    return _default
