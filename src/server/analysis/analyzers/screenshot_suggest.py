"""`screenshot.suggest`: the seed's four phases, end to end, with suggestions streamed.

1. image_analysis (0-30 %): decode, inspect, OCR the screenshot.
2. context (30-50 %): conversation lines (who said what, from their position:
   left = them, right = me), the language, the last message to answer.
3. generation (50-80 %): a pluggable generator (default: deterministic
   templates; option generator="llm" uses an OpenAI-compatible endpoint); each
   suggestion is a partial result as soon as it exists.
4. validation (80-100 %): dedupe, length limits, blocked words; the final
   list is the result.

Options: count (1-10, default 3), generator ("template" | "llm"),
blocked_words (list of strings), max_length (20-500, default 160),
llm_model (the endpoint comes from REALTIME_ANALYSIS_LLM_BASE_URL).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ...platform.errors import invalid_argument
from ..model import plan_from_ends
from . import ocr
from .base import IMAGE_TYPES, AnalysisInput, Analyzer, AnalyzerResult, CancelToken, Progress, option
from .image_inspect import describe, ocr_section
from .imaging import decode, open_header
from .suggest import Generator, OpenAICompatibleGenerator, TemplateGenerator
from .text_inspect import language

BLOCKED = frozenset({"idiot", "stupid", "shut up", "hate you", "טמבל", "מטומטם", "שתוק", "סתום"})
_CLOCK = re.compile(r"^\W*\d{1,2}[:.]\d{2}\W*(am|pm)?\W*$", re.I)
_STATUS = re.compile(r"^\W*\d{1,3}\s?%\W*$|^(LTE|5G|4G|WiFi)$", re.I)


def conversation(lines: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    """Message lines from OCR lines: drop clock/status noise and the centred title, place each
    message by its horizontal position."""
    messages = []
    for line in lines:
        text = line["text"].strip()
        letters = sum(1 for c in text if unicodedata.category(c).startswith("L"))
        if letters < 2 or _CLOCK.match(text) or _STATUS.match(text):
            continue
        left, _, w, _ = line["box"]
        centre = (left + w / 2) / max(1, width)
        if abs(centre - 0.5) < 0.06 and w < 0.4 * width:
            continue  # a centred short line is the chat's title (the contact's name), not a message
        messages.append(
            {"text": text, "speaker": "me" if centre > 0.55 else "them", "confidence": line["confidence"]}
        )
    return messages


def validate_suggestions(
    candidates: list[str], blocked: frozenset[str], max_length: int
) -> tuple[list[str], list[dict[str, str]]]:
    kept: list[str] = []
    dropped: list[dict[str, str]] = []
    seen: set[str] = set()
    for text in candidates:
        key = re.sub(r"\W+", " ", text.casefold()).strip()
        if not key:
            dropped.append({"text": text, "reason": "empty"})
        elif key in seen:
            dropped.append({"text": text, "reason": "duplicate"})
        elif len(text) > max_length or len(text) < 2:
            dropped.append({"text": text, "reason": "length"})
        elif any(word in text.casefold() for word in blocked):
            dropped.append({"text": text, "reason": "blocked_word"})
        else:
            seen.add(key)
            kept.append(text)
    return kept, dropped


class ScreenshotSuggest(Analyzer):
    name = "screenshot.suggest"
    input_types = IMAGE_TYPES
    phases = plan_from_ends(
        [("image_analysis", 30), ("context", 50), ("generation", 80), ("validation", 100)]
    )
    options = frozenset({"count", "generator", "blocked_words", "max_length", "llm_model"})

    def validate(self, data: AnalysisInput, options: Mapping[str, Any]) -> None:
        super().validate(data, options)
        self._settings(options)
        open_header(data.data)

    def _settings(self, options: Mapping[str, Any]) -> dict[str, Any]:
        generator = options.get("generator", "template")
        if generator not in ("template", "llm"):
            raise invalid_argument(
                "generator must be template or llm", [("options.generator", repr(generator))]
            )
        blocked = options.get("blocked_words", [])
        if not isinstance(blocked, list) or not all(isinstance(w, str) for w in blocked):
            raise invalid_argument("blocked_words must be a list of strings", [("options.blocked_words", "")])
        return {
            "count": option(options, "count", 3, int, 1, 10),
            "generator": generator,
            "blocked": BLOCKED | {w.casefold() for w in blocked if w.strip()},
            "max_length": option(options, "max_length", 160, int, 20, 500),
        }

    def generator(self, settings: dict[str, Any], options: Mapping[str, Any]) -> Generator:
        if settings["generator"] == "llm":
            return OpenAICompatibleGenerator.from_options(dict(options))
        return TemplateGenerator()

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        s = self._settings(options)
        progress.phase("image_analysis")
        img, fmt, _ = decode(data.data, cancel)
        image = describe(img, fmt)
        progress.update(0.2)
        cancel.check()
        ok, why = ocr.available()
        text_section: dict[str, Any] = (
            ocr_section(img, ocr.DEFAULT_LANGUAGES, cancel) if ok else {"available": False, "reason": why}
        )
        cancel.check()

        progress.phase("context")
        lines = text_section.get("lines", [])
        messages = conversation(lines, img.width)
        all_text = " ".join(m["text"] for m in messages)
        lang = language(all_text)["code"]
        theirs = [m for m in messages if m["speaker"] == "them"]
        last = (theirs or messages or [{"text": ""}])[-1]["text"]
        context = {"language": lang, "messages": messages, "last_message": last}
        cancel.check()

        progress.phase("generation")
        candidates: list[str] = []
        for text in self.generator(s, options).generate(context, s["count"] + 2, cancel):
            candidates.append(text)
            progress.partial({"suggestion": text, "candidate": len(candidates) - 1})
            progress.update(len(candidates) / (s["count"] + 2))

        progress.phase("validation")
        kept, dropped = validate_suggestions(candidates, s["blocked"], s["max_length"])
        return AnalyzerResult(
            {
                "suggestions": kept[: s["count"]],
                "dropped": dropped,
                "context": context,
                "image": image,
                "ocr": {k: v for k, v in text_section.items() if k != "lines"},
                "generator": s["generator"],
            }
        )
