"""The language-model responder: an OpenAI-compatible chat completion, streamed.

Tokens arrive as server-sent events; the text is cut at sentence ends and each sentence
is handed on at once (so speech starts after the first sentence, not the whole answer).
Tool calls stream in as `tool_calls` deltas; each is run through the conversation's tool
runner (the application answers a `tool_call` event) and the model continues with the
result. When no first token arrives within `first_token_timeout_s` (or the endpoint fails
before anything was said), the canned responder answers and says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .assistant import Assistant
from .breaker import CircuitBreaker
from .hosted import HostedClient
from .metrics import ConversationMetrics
from .responder import CallState, Notice, Outcome, Part, Say, ScreeningResponder, ToolRunner

log = logging.getLogger("realtime.conversation")

MAX_SENTENCE_CHARS = 240  # a sentence this long without an end mark is cut at a space
_ABBREVIATIONS = ("mr.", "mrs.", "ms.", "dr.", "st.", "e.g.", "i.e.", "etc.", "vs.", "no.")
_END = re.compile(r"[.!?…]+[\"')\]]*\s|\n+")
FAILURES = (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError, KeyError, TypeError)


class SentenceSplitter:
    """Feed text pieces; get whole sentences back as soon as they end."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        start = 0
        for m in _END.finditer(self._buffer):
            candidate = self._buffer[start : m.end()].strip()
            if not candidate or candidate.lower().endswith(_ABBREVIATIONS) or len(candidate) < 3:
                continue
            out.append(candidate)
            start = m.end()
        self._buffer = self._buffer[start:]
        while len(self._buffer) > MAX_SENTENCE_CHARS:
            cut = self._buffer.rfind(" ", 0, MAX_SENTENCE_CHARS)
            cut = cut if cut > 0 else MAX_SENTENCE_CHARS
            out.append(self._buffer[:cut].strip())
            self._buffer = self._buffer[cut:]
        return [s for s in out if s]

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []


@dataclass
class _Round:
    """What one streamed completion produced."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)  # index -> id, name, arguments
    started: bool = False


async def sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream, until `[DONE]`."""
    async for raw in response.content:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue  # comments, event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        payload = json.loads(data)
        if isinstance(payload, dict) and "error" in payload:
            raise RuntimeError(f"model stream error: {str(payload['error'])[:200]}")
        if isinstance(payload, dict):
            yield payload


def trim_history(messages: list[dict[str, Any]], keep: int) -> None:
    """Keep the system prompt and the newest messages (at most `keep`), starting at a caller
    message so that no tool result loses the assistant message that asked for it."""
    if len(messages) - 1 <= keep:
        return
    cut = len(messages) - keep
    while cut < len(messages) - 1 and messages[cut]["role"] != "user":
        cut += 1
    del messages[1:cut]


class LlmResponder:
    """Streams the model's answer; the canned responder is the offline fallback."""

    name = "chat"  # the configured responder's name; replies say "llm" or "canned"

    def __init__(
        self,
        client: HostedClient,
        model: str,
        canned: ScreeningResponder,
        breaker: CircuitBreaker,
        assistant: Assistant,
        first_token_timeout_s: float,
        stall_timeout_s: float,
        max_tokens: int,
        max_tool_rounds: int,
        metrics: ConversationMetrics | None = None,
        history_messages: int = 40,
    ) -> None:
        self.client = client
        self.model = model
        self.canned = canned
        self.breaker = breaker
        self.assistant = assistant
        self.first_token_timeout_s = first_token_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.max_tokens = max_tokens
        self.max_tool_rounds = max_tool_rounds
        self.metrics = metrics
        self.history_messages = max(2, history_messages)

    def _messages(self, state: CallState, text: str) -> list[dict[str, Any]]:
        if not state.messages:
            prompt = self.assistant.system_prompt
            if state.callee_name:
                prompt += f"\nYou answer on behalf of {state.callee_name}."
            if state.caller_name:
                prompt += f"\nThe caller is {state.caller_name}."
            state.messages.append({"role": "system", "content": prompt})
        if state.interrupted_turn and state.messages[-1]["role"] == "assistant":
            last = state.messages[-1]
            last["content"] = f"{last.get('content') or ''} [the caller interrupted this reply]".strip()
            state.interrupted_turn = 0
        state.messages.append({"role": "user", "content": text})
        trim_history(state.messages, self.history_messages)
        return state.messages

    async def reply(
        self, state: CallState, text: str, stt_confidence: float, tools: ToolRunner
    ) -> AsyncIterator[Part]:
        messages = self._messages(state, text)
        state.turns += 1
        said: list[str] = []  # every sentence of this turn
        tail: list[str] = []  # the sentences since the last tool round (not yet in `messages`)
        try:
            for _ in range(self.max_tool_rounds + 1):
                if not self.breaker.allow():
                    raise RuntimeError("circuit open after repeated model failures")
                rnd = _Round()
                async for sentence in self._stream(messages, rnd):
                    said.append(sentence)
                    tail.append(sentence)
                    yield Say(sentence)
                self.breaker.success()
                if not rnd.calls:
                    break
                tail.clear()  # the round's text goes into the assistant's tool-call message
                async for part in self._run_tools(messages, rnd, tools):
                    yield part
            else:
                yield Notice("TOOL_LIMIT", f"more than {self.max_tool_rounds} tool rounds in one turn")
        except FAILURES as exc:
            self.breaker.failure()
            reason = f"model failed: {type(exc).__name__}: {exc}"[:200]
            if said:  # part of the answer was spoken: end it there rather than start another
                log.warning("%s; the reply stops after %d sentences", reason, len(said))
                yield Notice("ENGINE_FALLBACK", reason, {"engine": "responder"})
            else:
                async for part in self._fallback(state, text, stt_confidence, reason, tools):
                    if isinstance(part, Say):
                        tail.append(part.text)
                    yield part
                return
        finally:
            # Also on a barge-in (cancellation): the model learns what the caller heard of it.
            if tail:
                messages.append({"role": "assistant", "content": " ".join(tail)})
        terminate = self.assistant.max_turns > 0 and state.turns >= self.assistant.max_turns
        yield Outcome("unknown", 1.0, terminate, "llm")

    async def _fallback(
        self, state: CallState, text: str, stt_confidence: float, reason: str, tools: ToolRunner
    ) -> AsyncIterator[Part]:
        log.warning("%s; the canned responder answers", reason)
        if self.metrics is not None:
            self.metrics.fallbacks.labels("responder").inc()
        yield Notice("ENGINE_FALLBACK", reason, {"engine": "responder", "responder": "canned"})
        state.turns -= 1  # the canned responder counts its own turn
        async for part in self.canned.reply(state, text, stt_confidence, tools):
            if isinstance(part, Outcome):
                part.fallback = True
            yield part

    async def _stream(self, messages: list[dict[str, Any]], rnd: _Round) -> AsyncIterator[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": 0.3,
        }
        if self.assistant.tools:
            body["tools"] = [t.openai() for t in self.assistant.tools]
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.first_token_timeout_s)
        splitter = SentenceSplitter()
        loop = asyncio.get_running_loop()
        first_deadline = loop.time() + self.first_token_timeout_s
        async with asyncio.timeout_at(first_deadline):
            response = await self.client.post_json("/chat/completions", body, timeout)
        async with response:
            events = sse_data(response)
            while True:
                deadline = loop.time() + self.stall_timeout_s if rnd.started else first_deadline
                try:
                    async with asyncio.timeout_at(deadline):
                        payload = await anext(events)
                except StopAsyncIteration:
                    break
                for piece in self._delta(payload, rnd):
                    for sentence in splitter.feed(piece):
                        yield sentence
            for sentence in splitter.flush():
                yield sentence
        if not rnd.started:
            raise ValueError("the model answered nothing")

    @staticmethod
    def _delta(payload: dict[str, Any], rnd: _Round) -> list[str]:
        pieces: list[str] = []
        for choice in payload.get("choices") or []:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                rnd.started = True
                rnd.text.append(str(content))
                pieces.append(str(content))
            for call in delta.get("tool_calls") or []:
                rnd.started = True
                slot = rnd.calls.setdefault(
                    int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""}
                )
                slot["id"] = slot["id"] or str(call.get("id") or "")
                fn = call.get("function") or {}
                slot["name"] += str(fn.get("name") or "")
                slot["arguments"] += str(fn.get("arguments") or "")
        return pieces

    async def _run_tools(
        self, messages: list[dict[str, Any]], rnd: _Round, tools: ToolRunner
    ) -> AsyncIterator[Part]:
        calls = [rnd.calls[i] for i in sorted(rnd.calls)]
        for n, call in enumerate(calls):
            call["id"] = call["id"] or f"call_{n}"
        messages.append(
            {
                "role": "assistant",
                "content": "".join(rnd.text) or None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            if self.assistant.tool(call["name"]) is None:
                content = json.dumps({"error": f"unknown tool {call['name']!r}"})
                yield Notice("UNKNOWN_TOOL", f"the model called an undeclared tool {call['name']!r}")
            else:
                content, in_time = await tools(call["name"], call["arguments"] or "{}")
                if not in_time:
                    yield Notice(
                        "TOOL_TIMEOUT", f"tool {call['name']} gave no result in time", {"tool": call["name"]}
                    )
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
