"""Reply suggestion generators for `screenshot.suggest`.

A generator turns the conversation context into candidate replies, one at a
time, so each can be delivered as a partial result as soon as it exists.

- `TemplateGenerator` (default): deterministic and offline; picks reply
  templates by language (Hebrew or English) and by what the last message from
  the other side is (question, greeting, thanks, plans, anything else).
- `OpenAICompatibleGenerator`: any OpenAI-compatible `/chat/completions`
  endpoint (base URL, model and key from options or REALTIME_ANALYSIS_LLM_*
  variables; the base URL only from the environment). The network is touched only when it is selected.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, Protocol

from ...platform.errors import unavailable
from .base import CancelToken


class Generator(Protocol):
    def generate(self, context: dict[str, Any], count: int, cancel: CancelToken) -> Iterator[str]: ...


_KIND_PATTERNS = (
    ("greeting", re.compile(r"\b(hi|hey|hello|good (morning|evening))\b|שלום|היי|בוקר טוב|ערב טוב", re.I)),
    ("thanks", re.compile(r"\b(thanks|thank you|thx)\b|תודה", re.I)),
    (
        "plans",
        re.compile(
            r"\b(tonight|tomorrow|weekend|meet|dinner|coffee|drink)\b|מחר|הערב|סופ\"?ש|נפגש|קפה|ארוחה", re.I
        ),
    ),
)

_TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "question": [
            "Good question! Honestly, {topic} sounds great to me. What about you?",
            "Hmm, let me think about {topic}... yes, I'm in!",
            "I'd say yes, but tell me more about {topic} first 😊",
            "Depends: are you asking because of {topic}?",
            "Short answer: yes. Long answer: over coffee?",
        ],
        "greeting": [
            "Hey! Great to hear from you 😊",
            "Hi there! How has your day been?",
            "Hello! I was just thinking about you.",
            "Hey you! What's new?",
            "Hi! Perfect timing, I just got free.",
        ],
        "thanks": [
            "Anytime! 😊",
            "My pleasure, really.",
            "Of course! That's what I'm here for.",
            "No need to thank me, it was fun.",
            "Happy to help, you'd do the same.",
        ],
        "plans": [
            "{topic} sounds perfect, count me in!",
            "I'd love that. What time works for you?",
            "Yes! Let's do {topic}, I'll bring the good mood.",
            "Only if you pick the place 😉",
            "Great idea, I'm free after seven.",
        ],
        "other": [
            "Ha, I love that! Tell me more about {topic}.",
            "That's interesting, what made you think of {topic}?",
            "You always know how to make me smile 😊",
            "Wait, really? Now I'm curious.",
            "Same here! We should talk about {topic} properly.",
        ],
    },
    "he": {
        "question": [
            "שאלה טובה! האמת ש{topic} נשמע לי מעולה. ומה איתך?",
            "רגע, אני חושב על {topic}... כן, אני בפנים!",
            "הייתי אומר כן, אבל ספרי לי עוד על {topic} 😊",
            "תלוי, את שואלת בגלל {topic}?",
            "תשובה קצרה: כן. תשובה ארוכה: על קפה?",
        ],
        "greeting": [
            "היי! כיף לשמוע ממך 😊",
            "שלום! איך עבר היום?",
            "היי, בדיוק חשבתי עלייך.",
            "היי! מה חדש?",
            "שלום! תזמון מושלם, בדיוק התפניתי.",
        ],
        "thanks": [
            "בכיף! 😊",
            "העונג כולו שלי.",
            "ברור! בשביל זה אני פה.",
            "אין על מה, היה כיף.",
            "בשמחה, גם את היית עושה את זה.",
        ],
        "plans": [
            "{topic} נשמע מושלם, אני בפנים!",
            "אשמח מאוד. מתי נוח לך?",
            "כן! בואי נעשה את זה, אני מביא מצב רוח טוב.",
            "רק אם את בוחרת את המקום 😉",
            "רעיון מעולה, אני פנוי אחרי שבע.",
        ],
        "other": [
            "חחח אהבתי! ספרי לי עוד על {topic}.",
            "מעניין, מה גרם לך לחשוב על {topic}?",
            "את תמיד יודעת איך להצחיק אותי 😊",
            "רגע, באמת? עכשיו אני סקרן.",
            "גם אני! צריך לדבר על {topic} כמו שצריך.",
        ],
    },
}


def message_kind(text: str) -> str:
    if text.rstrip().endswith("?"):
        return "question"
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "other"


def topic_of(text: str, lang: str) -> str:
    words = [w.strip(".,!?;:\"'()") for w in text.split()]
    words = [w for w in words if len(w) >= 3 and not w.startswith(("@", "#", "http"))]
    if not words:
        return "that" if lang == "en" else "זה"
    return max(words, key=len)  # the longest word is a decent, deterministic stand-in for the topic


class TemplateGenerator:
    """Deterministic replies: same context, same suggestions."""

    def generate(self, context: dict[str, Any], count: int, cancel: CancelToken) -> Iterator[str]:
        lang = "he" if context.get("language") == "he" else "en"
        last = context.get("last_message") or ""
        kind = message_kind(last)
        topic = topic_of(last, lang)
        templates = _TEMPLATES[lang][kind]
        # Rotate by a stable hash of the message so different chats start with different templates.
        start = sum(last.encode()) % len(templates)
        for i in range(min(count, len(templates))):
            cancel.check()
            yield templates[(start + i) % len(templates)].format(topic=topic)


class OpenAICompatibleGenerator:
    """Asks an OpenAI-compatible chat endpoint for `count` replies, one per line."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> OpenAICompatibleGenerator:
        # The endpoint is the operator's choice (environment), never a caller's: no requests to
        # arbitrary URLs from inside the hub.
        base = os.environ.get("REALTIME_ANALYSIS_LLM_BASE_URL", "")
        if not base:
            raise unavailable(
                "no LLM endpoint configured (REALTIME_ANALYSIS_LLM_BASE_URL)", reason="LLM_UNCONFIGURED"
            )
        model = str(options.get("llm_model") or os.environ.get("REALTIME_ANALYSIS_LLM_MODEL", "gpt-4o-mini"))
        return cls(base, model, os.environ.get("REALTIME_ANALYSIS_LLM_API_KEY", ""))

    def generate(self, context: dict[str, Any], count: int, cancel: CancelToken) -> Iterator[str]:
        conversation = "\n".join(f"{m['speaker']}: {m['text']}" for m in context.get("messages", []))
        body = {
            "model": self.model,
            "messages": [
                {
                    "role": "system",
                    "content": f"Suggest {count} short, friendly replies for 'me', one per line, "
                    f"in the conversation's language ({context.get('language', 'en')}). No numbering.",
                },
                {"role": "user", "content": conversation or "(no readable conversation)"},
            ],
        }
        request = urllib.request.Request(
            self.base_url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
            },
            method="POST",
        )
        cancel.check()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                payload = json.loads(reply.read())
            text = payload["choices"][0]["message"]["content"]
        except (urllib.error.URLError, OSError, KeyError, IndexError, ValueError, TypeError) as exc:
            raise unavailable(f"the LLM endpoint failed: {exc}", reason="LLM_FAILED") from None
        for line in str(text).splitlines():
            cancel.check()
            line = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip()
            if line:
                yield line
