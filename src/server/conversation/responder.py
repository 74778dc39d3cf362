"""The call-screening responder: classify what the caller wants, answer from a script.

Intents are the seed's categories (sales, loan/finance offers, surveys, scam patterns,
unknown). Each intent has a script of replies that grow firmer turn by turn (polite
persistence); after `max_turns` replies, or when the caller says goodbye, the reply says
goodbye and asks to end the call (`should_terminate`).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

INTENT_PATTERNS: Mapping[str, Sequence[str]] = {
    "scam": (
        r"\b(irs|tax (office|debt)|warrant|arrest(ed)?|gift cards?|social security|wire (the )?money)\b",
        r"\b(verify|confirm) your (account|identity|password|card)\b",
        r"\b(you('ve| have)? won|prize|lottery|suspended|bitcoin|refund department)\b",
    ),
    "loan": (
        r"\b(loans?|credit( card| score)?|mortgage|refinanc\w*|interest rates?|debt|lending)\b",
        r"\b(insurance|investment|invest|pre.?approved|financ\w*)\b",
    ),
    "survey": (r"\b(survey|questionnaire|poll|opinion|research|feedback|few questions)\b",),
    "sales": (
        r"\b(offer|deal|discount|promotion|special|product|buy|sale|subscription|upgrade)\b",
        r"\b(free (trial|gift)|limited time|warranty|solar|vacation package)\b",
    ),
}

GOODBYE = re.compile(r"\b(good ?bye|bye|hang(ing)? up|not interested either|have a (nice|good) day)\b")

DEFAULT_SCRIPTS: Mapping[str, Sequence[str]] = {
    "sales": (
        "Thanks for calling. I'm an assistant and the person you called is not interested in offers.",
        "I understand, but there is no interest in buying anything. Please take this number off your list.",
    ),
    "loan": (
        "Thanks, but no loans, credit or financial products are needed here.",
        "Once more: there is no interest in financial offers. Please remove this number from your list.",
    ),
    "survey": (
        "Thank you, but we don't take part in phone surveys.",
        "We're not able to answer survey questions. Please remove this number.",
    ),
    "scam": (
        "This call is being screened. No personal or payment details are given over the phone.",
        "No information will be shared. Any real agency can write by post.",
    ),
    "unknown": (
        "Hello, you've reached a call assistant. Who is calling, and what is this about?",
        "Sorry, I still didn't catch the purpose of your call. Could you say it briefly?",
    ),
}

FAREWELL: Mapping[str, str] = {
    "scam": "This call is ending now. Goodbye.",
    "unknown": "Thanks for calling. You can leave a message by text. Goodbye.",
}
DEFAULT_FAREWELL = "Thank you for understanding. Goodbye."
# Said instead of the farewell when the caller spoke over it: a goodbye is never replayed.
SECOND_FAREWELL = "Sorry, I have to end the call now. Goodbye."


@dataclass
class Decision:
    text: str
    intent: str
    confidence: float
    should_terminate: bool
    engine: str = "canned"  # what wrote the words
    fallback_reason: str = ""  # set when a hosted responder failed and the script answered


@dataclass
class CallState:
    """What the responder remembers about one call."""

    turns: int = 0
    intent: str = "unknown"
    intent_score: float = 0.0
    history: list[tuple[str, str]] = field(default_factory=list)  # (caller, reply)
    caller_name: str = ""
    callee_name: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)  # the model's chat history
    ending_turn: int = 0  # the turn whose reply ends the call (0: none yet)
    goodbye_interrupted: bool = False  # the caller spoke over a reply that was ending the call
    interrupted_turn: int = 0  # the last turn whose reply the caller cut off


@dataclass
class Say:
    """A sentence to speak now."""

    text: str


@dataclass
class Notice:
    """A status notice for the client (ENGINE_FALLBACK, TOOL_TIMEOUT, UNKNOWN_TOOL)."""

    reason: str
    message: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """How the reply ended: always the last part."""

    intent: str
    confidence: float
    should_terminate: bool
    engine: str  # "llm" or "canned"
    fallback: bool = False  # the canned responder answered because the model failed


Part = Say | Notice | Outcome
# Runs a tool the model called: (name, arguments JSON) -> (result for the model, finished in time).
ToolRunner = Callable[[str, str], Awaitable[tuple[str, bool]]]


class Responder(Protocol):
    name: str

    def reply(
        self, state: CallState, text: str, stt_confidence: float, tools: ToolRunner
    ) -> AsyncIterator[Part]:
        """The reply to the caller's `text`, sentence by sentence, then an `Outcome`."""
        ...


def classify(text: str) -> tuple[str, float]:
    """(intent, score): the intent with the most pattern hits; score grows with hits."""
    lowered = text.lower()
    best, best_hits = "unknown", 0
    for intent, patterns in INTENT_PATTERNS.items():
        hits = sum(len(re.findall(p, lowered)) for p in patterns)
        if hits > best_hits:
            best, best_hits = intent, hits
    if best_hits == 0:
        return "unknown", 0.5
    return best, min(0.6 + 0.15 * best_hits, 0.95)


class ScreeningResponder:
    """Rule-based and instant: the default, and the fallback of the chat responder."""

    name = "screening"

    def __init__(
        self,
        max_turns: int = 0,
        scripts: Mapping[str, Sequence[str]] = DEFAULT_SCRIPTS,
        farewell: Mapping[str, str] = FAREWELL,
    ) -> None:
        if max_turns < 0:
            raise ValueError("max_turns must be 0 (no limit) or more")
        missing = set(DEFAULT_SCRIPTS) - set(scripts)
        if missing or any(not lines for lines in scripts.values()):
            raise ValueError(f"every intent needs at least one line; missing {sorted(missing)}")
        self.max_turns = max_turns
        self.scripts = scripts
        self.farewell = farewell

    async def reply(
        self, state: CallState, text: str, stt_confidence: float, tools: ToolRunner
    ) -> AsyncIterator[Part]:
        decision = self.decide(state, text, stt_confidence)
        yield Say(decision.text)
        yield Outcome(decision.intent, decision.confidence, decision.should_terminate, "canned")

    def decide(self, state: CallState, text: str, stt_confidence: float = 1.0) -> Decision:
        intent, score = classify(text)
        # The first clear purpose sticks; a stronger or scarier one replaces it.
        if intent != "unknown" and (score > state.intent_score or intent == "scam"):
            state.intent, state.intent_score = intent, score
        current = state.intent
        state.turns += 1
        goodbye = bool(GOODBYE.search(text.lower()))
        terminate = goodbye or (self.max_turns > 0 and state.turns >= self.max_turns)
        if terminate and state.goodbye_interrupted:
            reply = SECOND_FAREWELL
        elif terminate:
            reply = self.farewell.get(current, DEFAULT_FAREWELL)
        else:
            lines = self.scripts[current]
            reply = lines[min(state.turns - 1, len(lines) - 1)]
        confidence = round(max(state.intent_score, score) * (0.5 + 0.5 * stt_confidence), 3)
        state.history.append((text, reply))
        return Decision(reply, current, confidence, terminate)


def load_scripts(path: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Scripts and farewells from a JSON file, merged over the built-in ones."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read responder scripts {path}: {exc}") from exc
    scripts = {k: list(v) for k, v in DEFAULT_SCRIPTS.items()}
    farewell = dict(FAREWELL)
    for intent, lines in dict(data.get("scripts", {})).items():
        if intent not in DEFAULT_SCRIPTS:
            raise ValueError(f"{path}: unknown intent {intent!r}; use one of {sorted(DEFAULT_SCRIPTS)}")
        if (
            not isinstance(lines, list)
            or not lines
            or not all(isinstance(x, str) and x.strip() for x in lines)
        ):
            raise ValueError(f"{path}: scripts.{intent} must be a list of non-empty strings")
        scripts[intent] = lines
    for intent, line in dict(data.get("farewell", {})).items():
        if not isinstance(line, str) or not line.strip():
            raise ValueError(f"{path}: farewell.{intent} must be a non-empty string")
        farewell[intent] = line
    return scripts, farewell
