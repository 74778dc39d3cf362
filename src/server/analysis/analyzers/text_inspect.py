"""`text.inspect`: language, wrong keyboard layout, cleaning findings, statistics, readability, links.

- language: "he", "en", "mixed", "other" or "unknown", from the share of
  Hebrew and Latin letters.
- wrong_layout: words typed on the wrong keyboard layout (standard Israeli
  SI-1452 <-> US QWERTY), e.g. "akuo" -> "שלום". These come from the text
  service's own layout operation (`realtime.server.text.fixer`) when that
  package is present, so both services agree; otherwise from a smaller
  detector here (a word is flagged when the converted word is known and the
  original is not; `wordfreq` when installed, else a built-in list).
- cleaning: repeated spaces, invisible characters, repeated punctuation,
  repeated words, shouting, leading/trailing whitespace, plus the text
  service's cleaning suggestions; each with offset, length and a replacement
  the client can apply.
- statistics and readability: words, sentences, LIX (any language) and Flesch
  reading ease (English).
- links, e-mail addresses, @mentions and #hashtags with offsets.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..model import plan_from_ends
from .base import TEXT_TYPES, AnalysisInput, Analyzer, AnalyzerResult, CancelToken, Progress

EN_TO_HE = dict(
    zip(
        "qwertyuiopasdfghjkl;'zxcvbnm,./",
        "/'קראטוןםפשדגכעיחלךף,זסבהנמצתץ.",
        strict=True,
    )
)
HE_TO_EN = {v: k for k, v in EN_TO_HE.items() if "\u05d0" <= v <= "\u05ea"}
HEBREW = re.compile(r"[\u05d0-\u05ea]")
LATIN = re.compile(r"[A-Za-z]")
LETTER = re.compile(r"[^\W\d_]")
WORD = re.compile(r"[\w\u05f3\u05f4'\"]+", re.UNICODE)
TOKEN = re.compile(r"\S+")
SENTENCE_END = re.compile(r"[.!?\u061f\u3002]+(?=\s|$)|\n{2,}")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]", re.IGNORECASE)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
MENTION = re.compile(r"(?<![\w@])@[\w.]{2,30}\b")
HASHTAG = re.compile(r"(?<![\w#])#[\w\u05d0-\u05ea]{2,50}")
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
REPEATED_PUNCT = re.compile(r"([!?.,])\1{2,}")
MULTI_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
REPEATED_WORD = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE | re.UNICODE)

# Fallback vocabulary when wordfreq is absent: the most frequent words of each language.
_EN_WORDS = frozenset(
    """the be to of and a in that have it for not on with he as you do at this but his by from they we say
    her she or an will my one all would there their what so up out if about who get which go me when make can
    like time no just him know take people into year your good some could them see other than then now look
    only come its over think also back after use two how our work first well way even new want because any
    these give day most us hello thanks thank yes please love great sure okay ok what's where why how are
    is was were has had did does going right today tomorrow night morning see you soon""".split()
)
_HE_WORDS = frozenset(
    """של את על לא זה הוא היא אני אתה את אנחנו הם הן מה מי כן גם אבל או אם כי עם יש אין כל היה הייתה
    שלום תודה בבקשה בוקר טוב ערב לילה מחר היום אתמול אהבה בית עבודה רוצה יודע יודעת חושב חושבת אוהב
    אוהבת מתי איפה למה איך כמה הכל עכשיו אחרי לפני עוד כבר רק מאוד יותר פה שם הנה נכון בסדר סבבה
    ביחד חבר חברה משהו מישהו אחד אחת שתיים שלוש ילד ילדה אמא אבא""".split()
)


@functools.cache
def _frequency() -> Callable[[str, str], float] | None:
    try:
        from wordfreq import zipf_frequency
    except ImportError:
        return None
    return zipf_frequency  # type: ignore[no-any-return]


def known(word: str, lang: str) -> bool:
    freq = _frequency()
    if freq is not None:
        return freq(word, lang) >= 3.0
    return word.lower() in (_EN_WORDS if lang == "en" else _HE_WORDS)


def rare(word: str, lang: str) -> bool:
    freq = _frequency()
    if freq is not None:
        return freq(word, lang) < 1.5
    return word.lower() not in (_EN_WORDS if lang == "en" else _HE_WORDS)


def language(text: str) -> dict[str, Any]:
    letters = LETTER.findall(text)
    he = sum(1 for c in letters if HEBREW.match(c))
    en = sum(1 for c in letters if LATIN.match(c))
    total = len(letters)
    if total == 0:
        code = "unknown"
    elif he / total >= 0.8:
        code = "he"
    elif en / total >= 0.8:
        code = "en"
    elif (he + en) / total >= 0.8:
        code = "mixed"
    else:
        code = "other"
    return {
        "code": code,
        "hebrew_share": round(he / total, 3) if total else 0.0,
        "latin_share": round(en / total, 3) if total else 0.0,
        "direction": "rtl" if code == "he" else "ltr" if code in ("en", "other") else "mixed",
    }


def convert_layout(token: str) -> tuple[str, str] | None:
    """(converted, target language) if every letter of `token` maps to the other layout."""
    lower = token.lower()
    if all(c in EN_TO_HE for c in lower) and LATIN.search(lower):
        return "".join(EN_TO_HE[c] for c in lower), "he"
    if all(c in HE_TO_EN or c in "'/.,;" for c in token) and HEBREW.search(token):
        return "".join(HE_TO_EN.get(c, c) for c in token), "en"
    return None


def wrong_layout(text: str) -> list[dict[str, Any]]:
    findings = []
    for m in TOKEN.finditer(text):
        token = m.group().strip('"()[]{}!?')
        if len(token) < 3 or URL.match(token) or EMAIL.match(token) or token.startswith(("@", "#")):
            continue
        converted = convert_layout(token)
        if converted is None:
            continue
        target, lang = converted
        source_lang = "en" if lang == "he" else "he"
        clean = target.strip(".,'/;")
        if len(clean) >= 2 and known(clean, lang) and rare(token.lower(), source_lang):
            findings.append(
                {
                    "type": "wrong_layout",
                    "offset": m.start() + m.group().find(token),
                    "length": len(token),
                    "text": token,
                    "replacement": target,
                    "message": f"typed on the {'English' if lang == 'he' else 'Hebrew'} layout",
                }
            )
    return findings


def cleaning(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def add(kind: str, m: re.Match[str], replacement: str, message: str) -> None:
        found.append(
            {
                "type": kind,
                "offset": m.start(),
                "length": m.end() - m.start(),
                "text": m.group(),
                "replacement": replacement,
                "message": message,
            }
        )

    for m in MULTI_SPACE.finditer(text):
        add("repeated_spaces", m, " ", "several spaces in a row")
    for m in INVISIBLE.finditer(text):
        add("invisible_character", m, "", f"invisible character U+{ord(m.group()):04X}")
    for m in REPEATED_PUNCT.finditer(text):
        add("repeated_punctuation", m, m.group(1), "repeated punctuation")
    for m in REPEATED_WORD.finditer(text):
        add("repeated_word", m, m.group(1), f"'{m.group(1)}' twice in a row")
    for m in re.finditer(r"\b[A-Z]{5,}\b", text):
        add("shouting", m, m.group().capitalize(), "all capitals reads as shouting")
    for m in re.finditer(r"\A\s+|\s+\Z", text):
        add("surrounding_whitespace", m, "", "whitespace at the start or end")
    found.sort(key=lambda f: f["offset"])
    return found


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def statistics(text: str, lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    words = WORD.findall(text)
    sentences = [s for s in SENTENCE_END.split(text) if WORD.search(s)]
    n_words, n_sent = len(words), max(1, len(sentences)) if words else 0
    long_words = sum(1 for w in words if len(w) > 6)
    stats = {
        "characters": len(text),
        "words": n_words,
        "sentences": n_sent,
        "unique_words": len({w.lower() for w in words}),
        "average_word_length": round(sum(len(w) for w in words) / n_words, 2) if n_words else 0.0,
        "average_sentence_words": round(n_words / n_sent, 2) if n_sent else 0.0,
    }
    readability: dict[str, Any] = {}
    if n_words:
        lix = n_words / n_sent + 100 * long_words / n_words
        readability["lix"] = round(lix, 1)
        readability["lix_level"] = (
            "very easy"
            if lix < 25
            else "easy"
            if lix < 35
            else "medium"
            if lix < 45
            else "hard"
            if lix < 55
            else "very hard"
        )
        if lang == "en":
            syllables = sum(_syllables(w) for w in words)
            readability["flesch_reading_ease"] = round(
                206.835 - 1.015 * (n_words / n_sent) - 84.6 * (syllables / n_words), 1
            )
    return stats, readability


def entities(text: str) -> dict[str, list[dict[str, Any]]]:
    def spans(pattern: re.Pattern[str]) -> list[dict[str, Any]]:
        return [
            {"text": m.group(), "offset": m.start(), "length": m.end() - m.start()}
            for m in pattern.finditer(text)
        ]

    emails = spans(EMAIL)
    mentions = [
        m
        for m in spans(MENTION)
        if not any(e["offset"] <= m["offset"] < e["offset"] + e["length"] for e in emails)
    ]
    return {"links": spans(URL), "emails": emails, "mentions": mentions, "hashtags": spans(HASHTAG)}


_FIXER_LOCK = threading.Lock()
TEXT_SERVICE_MAX_CHARS = 100_000


@functools.cache
def _text_fixer() -> Any | None:
    try:
        from ...text.fixer import TextFixer
    except ImportError:
        return None
    return TextFixer()


def text_service_suggestions(text: str) -> list[dict[str, Any]] | None:
    """The text service's layout and cleaning suggestions, or None when it cannot answer."""
    if not text or len(text) > TEXT_SERVICE_MAX_CHARS:
        return None
    with _FIXER_LOCK:  # one shared fixer (its lexicon is large); calls take well under a millisecond
        fixer = _text_fixer()
        if fixer is None:
            return None
        try:
            result = fixer.fix(text)
        except Exception:  # e.g. text the text service refuses (lone surrogates): use our own checks
            return None
    return [
        {
            "type": "wrong_layout" if s.kind.value == "layout" else "cleaning",
            "offset": s.offset,
            "length": s.length,
            "text": text[s.offset : s.offset + s.length],
            "replacement": s.replacement,
            "message": s.message,
            "confidence": s.confidence,
            "source": "text-service",
        }
        for s in result.suggestions
    ]


def findings(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(wrong_layout, cleaning) findings, preferring the text service's where it has them."""
    own_clean = cleaning(text)
    service = text_service_suggestions(text)
    if service is None:
        return wrong_layout(text), own_clean
    layout = [f for f in service if f["type"] == "wrong_layout"]
    taken = [(f["offset"], f["offset"] + max(1, f["length"])) for f in own_clean]
    extra = [
        f
        for f in service
        if f["type"] == "cleaning"
        and not any(a < f["offset"] + max(1, f["length"]) and f["offset"] < b for a, b in taken)
    ]
    return layout, sorted(own_clean + extra, key=lambda f: f["offset"])


def inspect_text(text: str) -> dict[str, Any]:
    lang = language(text)
    stats, readability = statistics(text, lang["code"])
    layout, clean = findings(text)
    return {
        "language": lang,
        "wrong_layout": layout,
        "cleaning": clean,
        "statistics": stats,
        "readability": readability,
        **entities(text),
    }


class TextInspect(Analyzer):
    name = "text.inspect"
    input_types = TEXT_TYPES
    phases = plan_from_ends([("language", 20), ("findings", 70), ("statistics", 100)])

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        text = data.text or ""
        progress.phase("language")
        lang = language(text)
        cancel.check()
        progress.phase("findings")
        layout, clean = findings(text)
        cancel.check()
        progress.phase("statistics")
        stats, readability = statistics(text, lang["code"])
        return AnalyzerResult(
            {
                "language": lang,
                "wrong_layout": layout,
                "cleaning": clean,
                "statistics": stats,
                "readability": readability,
                **entities(text),
            }
        )
