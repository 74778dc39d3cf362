"""Deciding a whole text from its tokens: context between words, sentences, short texts.

`layout.py` analyses each token once (cached); this module turns the tokens of one
text into suggestions and a `Decision` (the text's language, how sure, and why):

1. Short texts (`short.py`): a reply as typed is kept ('ok', 'כן'); a reply typed on
   the other layout is fixed ('fi' -> 'כן'); otherwise the language hint or the
   previous messages of the conversation decide ambiguous words ('nv?' -> 'מה?').
2. Most texts settle without context (every change was decided per token): the
   cached decisions are emitted as they are.
3. Otherwise undecided words change when their neighbours are in the target
   language, and when most of a sentence was fixed into one language the words
   left over are judged with that language (`to t,v rumv` -> 'אם אתה רוצה', not
   'to אתה רוצה'). A text where nothing was fixed is left mixed as typed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple

from . import layout as L
from .short import MAX_SHORT_CHARS, MAX_SHORT_WORDS, REPLIES, is_reply, reply_key
from .suggestions import Kind, Suggestion, apply

if TYPE_CHECKING:
    from .layout import Choice, LayoutFixer, TokenInfo

MAX_CONTEXT_TEXTS = 5  # previous messages read (the latest ones)
CONTEXT_CHARS = 300  # of each, the last this many code points
SENTENCE_SHARE = 2.0  # the fixed language must outnumber the other this many times
REPLY_AS_TYPED = 4.5  # a text whose every word is this common as typed never becomes a reply
HINT_GAIN = -1.0  # lowest gain a language hint can overcome in a short text ...
HINT_MIN_ZIPF = 4.0  # ... towards a common word ('ע' is not 'g', 'הר' not 'vr')
CONTEXT_GAIN = 0.5  # the conversation is weaker evidence: the word must gain on its own too ...
CONTEXT_AS_TYPED = 4.0  # ... and be uncommon as typed ('יקר' stays 'יקר' after an English message)


class Decision(NamedTuple):
    """The layout suggestions for one text, and what the text was judged to be (a tuple: cheap)."""

    suggestions: list[Suggestion]
    language: str  # "he", "en", "mixed", or "" when the text has no words of either language
    confidence: float  # 0..1
    reason: str  # "words", "sentence", "short_reply", "hint", "context", "none"


def _other(lang: str) -> str:
    return "en" if lang == "he" else "he"


def _suggestion(base: int, choice: Choice, confidence: float) -> Suggestion:
    return Suggestion(
        base + choice.start,
        choice.end - choice.start,
        choice.replacement,
        Kind.LAYOUT,
        confidence,
        L._message(choice),
    )


def _language(langs: list[str | None], suggestions: list[Suggestion], reason: str) -> Decision:
    he = langs.count("he")
    en = langs.count("en")
    if he + en == 0:
        return Decision(suggestions, "", 0.0, "none")
    share = (he if he >= en else en) / (he + en)
    language = ("he" if he >= en else "en") if share >= 0.75 else "mixed"
    if suggestions:
        confidence = math.fsum([s.confidence for s in suggestions]) / len(suggestions)
    else:
        confidence = share if language != "mixed" else 1.0 - share
    return Decision(suggestions, language, round(confidence, 3), reason)


def _alone(fixer: LayoutFixer, choice: Choice, hints: Collection[str]) -> float:
    """The confidence of a change the word would get on its own (0 when it would not change)."""
    gain = fixer._gain(choice, hints)
    return fixer._confidence(choice, gain, 0) if fixer._strong(choice, gain, hints) else 0.0


def context_language(fixer: LayoutFixer, context: Sequence[str]) -> str | None:
    """The language most words of the previous messages are in (read as the fixer would)."""
    counts = {"he": 0, "en": 0}
    for text in context[-MAX_CONTEXT_TEXTS:]:
        for _, token in L._tokens(text[-CONTEXT_CHARS:]):
            for lang in fixer.token_info(token).lends:
                counts[lang] += 1
    if counts["he"] == counts["en"]:
        return None
    return "he" if counts["he"] > counts["en"] else "en"


def decide(
    fixer: LayoutFixer,
    text: str,
    hints: Collection[str] = (),
    should_stop: Callable[[], bool] | None = None,
    context: Sequence[str] = (),
) -> Decision:
    """Layout suggestions for `text` (sorted by offset) and its language.

    `should_stop` is polled every few hundred words: a superseded computation ends early
    with `Cancelled` instead of finishing work nobody will read.
    """
    spans: list[tuple[int, TokenInfo]] = []
    any_choice = undecided = False
    cache = fixer._cache
    for i, (start, token) in enumerate(L._tokens(text)):
        if should_stop is not None and i & 255 == 255 and should_stop():
            raise L.Cancelled()
        info = cache.get(token) or fixer.token_info(token)
        if info is not L._KEEP:
            spans.append((start, info))
            if info.choices:
                any_choice = True
                undecided = undecided or info.undecided
    short = len(spans) <= MAX_SHORT_WORDS and len(text) <= MAX_SHORT_CHARS
    if not any_choice:
        reply = _reply_as_typed(text) if short else None
        return reply or _language([info.typed_lang for _, info in spans], [], "words")
    if short:
        decided = _short(fixer, text, spans, hints, context)
        if decided is not None:
            return decided
    if not hints and undecided:
        # Context can only help a word if some other word lends its target language (or two
        # undecided words lean the same way). Most texts fail this at once: skip the full pass.
        lent: set[str] = set()
        leaning = {"he": 0, "en": 0}
        for _, info in spans:
            lent |= info.lends
            for lang in info.soft:
                leaning[lang] += 1
        undecided = _helped(spans, lent, leaning)
    if not hints and not undecided:
        # Every choice settled without context (the common case): emit the cached decisions.
        out = [
            Suggestion(base + start, length, replacement, Kind.LAYOUT, confidence, message)
            for base, info in spans
            for start, length, replacement, confidence, message in info.settled
        ]
        return _language([info.lang for _, info in spans], out, "words")
    return _full(fixer, spans, hints)


def _helped(spans: list[tuple[int, TokenInfo]], lent: set[str], leaning: dict[str, int]) -> bool:
    """Whether some undecided word may change with context: its target is lent by another word
    (or two lean the same way); a weak word needs its target lent (by a sentence fixed into it)."""
    for _, info in spans:
        if info.undecided:
            for lang in info.wants:
                if lang in lent or leaning[lang] >= 2:
                    return True
            for lang in info.weak:
                if lang in lent:
                    return True
    return False


_Accepted = dict[tuple[int, int], tuple[float, int]]  # (token, choice) -> (gain, support)
_Waiting = dict[tuple[int, int], tuple[float, str]]  # (token, choice) -> (gain, target)


def _full(fixer: LayoutFixer, spans: list[tuple[int, TokenInfo]], hints: Collection[str]) -> Decision:
    langs, accepted, pending, weak = _alone_pass(fixer, spans, hints)
    soft: dict[int, str] = {t: target for (t, _), (g, target) in pending.items() if g >= L.SOFT_GAIN}
    _context_pass(spans, langs, accepted, pending, soft)
    reason = "hint" if hints else "words"
    # Pass 3, the sentence: when the words fixed so far make one language clearly the text's,
    # the words still waiting for that language follow it (no 'to אתה רוצה' leftovers).
    if _sentence(spans, langs, accepted, {**weak, **pending}):
        reason = "sentence"
    return _language(langs, _accepted_suggestions(fixer, spans, accepted), reason)


def _alone_pass(
    fixer: LayoutFixer, spans: list[tuple[int, TokenInfo]], hints: Collection[str]
) -> tuple[list[str | None], _Accepted, _Waiting, _Waiting]:
    """Pass 1: decisions that need no context. Undecided words count for no language yet.

    Returns the token languages, the choices accepted, those waiting for context, and the weak
    ones (only a sentence can carry these)."""
    langs: list[str | None] = [info.typed_lang for _, info in spans]
    accepted: _Accepted = {}
    pending: _Waiting = {}
    weak: _Waiting = {}
    for t, (_, info) in enumerate(spans):
        for c, choice in enumerate(info.choices):
            gain = fixer._gain(choice, hints)
            if fixer._strong(choice, gain, hints):
                accepted[(t, c)] = (gain, 0)
                langs[t] = choice.target
            elif choice.converted >= L.CONTEXT_MIN_ZIPF and gain >= L.CONTEXT_FLOOR:
                pending[(t, c)] = (gain, choice.target)
                if langs[t] is not None and (t, c) not in accepted:
                    langs[t] = None
            elif choice.converted >= L.CONTEXT_MIN_ZIPF and gain >= L.SENTENCE_FLOOR:
                weak[(t, c)] = (gain, choice.target)
    return langs, accepted, pending, weak


def _context_pass(
    spans: list[tuple[int, TokenInfo]],
    langs: list[str | None],
    accepted: _Accepted,
    pending: _Waiting,
    soft: dict[int, str],
) -> None:
    """Pass 2: an undecided word changes when nearby words are in the target language and
    outnumber the source one; repeated, so that a run of short words can support each other."""
    for _ in range(3):
        progressed = False
        for (t, c), (gain, target) in pending.items():
            if (t, c) in accepted:
                continue
            support = _context_support(spans[t][1].choices[c], gain, target, t, langs, soft)
            if support is not None:
                accepted[(t, c)] = (gain, support)
                langs[t] = target
                soft.pop(t, None)
                progressed = True
        if not progressed:
            break


def _context_support(
    choice: Choice, gain: float, target: str, t: int, langs: list[str | None], soft: dict[int, str]
) -> int | None:
    """The support of token t's neighbours if they carry its waiting choice; None if they do not."""
    support, against, half = _neighbours(t, target, langs, soft)
    evidence = support + 0.5 * half
    if choice.letters < 2:
        evidence -= 1.0  # one letter is almost no evidence: it needs more neighbours
    if evidence < 1.0 or evidence <= against:
        return None
    if gain >= L.CONTEXT_MARGIN - L.CONTEXT_STEP * (evidence - against - 1):
        return support
    return None


def _neighbours(t: int, target: str, langs: list[str | None], soft: dict[int, str]) -> tuple[int, int, int]:
    """Words near token t in the target language, in the source one, and leaning to the target."""
    source = _other(target)
    lo, hi = max(0, t - L.CONTEXT_WINDOW), min(len(langs), t + L.CONTEXT_WINDOW + 1)
    support = against = half = 0
    for k in range(lo, hi):
        if k == t:
            continue
        near = langs[k]
        if near == target:
            support += 1
        elif near == source:
            against += 1
        elif soft.get(k) == target:
            half += 1
    return support, against, half


def _accepted_suggestions(
    fixer: LayoutFixer, spans: list[tuple[int, TokenInfo]], accepted: _Accepted
) -> list[Suggestion]:
    """The accepted choices as suggestions in text order, skipping any that overlap an earlier one."""
    out: list[Suggestion] = []
    taken = -1
    for (t, c), (gain, support) in sorted(accepted.items()):
        base, info = spans[t]
        choice = info.choices[c]
        if base + choice.start < taken:
            continue
        taken = base + choice.end
        out.append(_suggestion(base, choice, fixer._confidence(choice, gain, support)))
    return out


def _sentence(
    spans: list[tuple[int, TokenInfo]],
    langs: list[str | None],
    accepted: dict[tuple[int, int], tuple[float, int]],
    waiting: dict[tuple[int, int], tuple[float, str]],
) -> bool:
    """Accept the words waiting for the language most of the text was fixed into (see module doc).

    The language fixed into must have at least two words, or be alone with no more waiting words
    than fixed ones ('Lקא,ד עם' is "Let's go"), and outnumber the other language twice over; with
    none of the other language left, even a word common as typed follows ('an,' -> 'שמת')."""
    changed = False
    if not waiting or not accepted:
        return False
    for target in {spans[t][1].choices[c].target for t, c in accepted}:
        other = _other(target)
        candidates = [(k, g) for k, (g, want) in waiting.items() if want == target and k not in accepted]
        if not candidates:
            continue
        tokens = {t for (t, _), _ in candidates}
        ours = langs.count(target)
        theirs = langs.count(other) - sum(1 for t in tokens if langs[t] == other)
        if theirs * SENTENCE_SHARE > ours:
            continue
        if ours < 2 and not (theirs == 0 and len(tokens) <= ours):
            continue
        floor = L.SENTENCE_FLOOR if theirs == 0 else L.CONTEXT_FLOOR
        for (t, c), gain in sorted(candidates):
            if gain >= floor and not any(k[0] == t for k in accepted):
                accepted[(t, c)] = (gain, ours)
                langs[t] = target
                changed = True
    return changed


def _plain(choice: Choice, reason: str) -> bool:
    """Whether a word may follow a hint or the conversation: two letters or more, no punctuation key
    turned into an odd edge (',he' from 'תיק', 's;' from 'דף'); for a hint a common result, for
    the conversation (weaker) a word uncommon as typed."""
    if choice.letters < 2 or choice.replacement != choice.replacement.strip(",.;'/`"):
        return False
    if reason == "hint":
        return choice.converted >= HINT_MIN_ZIPF
    return choice.as_is < CONTEXT_AS_TYPED


def _reply_as_typed(text: str) -> Decision | None:
    key = reply_key(text)
    for lang in ("he", "en"):
        if key in REPLIES[lang]:
            return Decision([], lang, 0.9, "short_reply")
    return None


def _short(
    fixer: LayoutFixer,
    text: str,
    spans: list[tuple[int, TokenInfo]],
    hints: Collection[str],
    context: Sequence[str],
) -> Decision | None:
    """A short text: reply lexicons first, then the hint or the conversation. None: not decided here."""
    reply = _reply_as_typed(text)
    if reply is not None:
        return reply
    if len(hints) == 1:
        lang, reason = next(iter(hints)), "hint"
    else:
        found = context_language(fixer, context) if context else None
        lang, reason = (found or ""), "context"
    for target in ("he", "en"):
        picked: list[tuple[int, Choice]] = []
        for base, info in spans:
            choice = next((c for c in info.choices if c.target == target), None)
            if choice is None:
                break
            picked.append((base, choice))
        else:
            if min(choice.as_is for _, choice in picked) >= REPLY_AS_TYPED:
                continue  # every word common as typed: 'cut' is not 'בוא'

            sugs = [_suggestion(base, choice, 0.85) for base, choice in picked]
            if is_reply(apply(text, sugs), target):
                confidence = 0.95 if lang == target else 0.6 if lang == _other(target) else 0.85
                sugs = [
                    s._replace(confidence=max(confidence, _alone(fixer, choice, hints)))
                    for s, (_, choice) in zip(sugs, picked, strict=True)
                ]
                return Decision(sugs, target, max(s.confidence for s in sugs), "short_reply")
    if not lang:
        return None
    # The whole text follows the hint or the conversation, or it is decided by its own words:
    # one word that stays in its language ('בצבא' in 'דב בצבא!') says the text is in that language.
    floor = HINT_GAIN if reason == "hint" else CONTEXT_GAIN
    out: list[Suggestion] = []
    for base, info in spans:
        for choice in info.choices:
            gain = fixer._gain(choice, hints)
            strong = fixer._strong(choice, gain, hints)
            capital = choice.target == "he" and text[base + choice.start].isupper()
            if strong or (
                choice.target == lang
                and not capital
                and choice.converted >= L.CONTEXT_MIN_ZIPF
                and gain >= floor
                and _plain(choice, reason)
            ):
                out.append(_suggestion(base, choice, fixer._confidence(choice, gain, 0 if strong else 1)))
                break
        else:
            return None
    return Decision(out, lang, round(sum(s.confidence for s in out) / len(out), 3), reason)
