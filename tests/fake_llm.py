"""A local OpenAI-compatible fake: streamed chat completions (with tool calls) and transcriptions.

Deterministic answers from the last message, streamed word by word (`token_delay_s` apart):
- after a tool result: "Order <id> is <status>. Anything else?"
- "bye"/"goodbye" in the caller's words: "Thank you for calling. Goodbye."
- "order" with declared tools: a `get_order_status` tool call with the digits as `order_id`
- "story": a long answer of many sentences (to talk over)
- anything else: "I heard <words>. What else can I do for you?"

Run it for the docs' example: `python -m tests.fake_llm --port 8090`, then point the hub at
`--conversation-hosted-base-url http://127.0.0.1:8090/v1` (REALTIME_CONVERSATION_HOSTED_BASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

STORY = " ".join(f"This is sentence number {n} of a long story." for n in range(1, 16))


@dataclass
class FakeLlm:
    mode: str = "ok"  # ok | fail (HTTP 503) | slow (no first token for 5 s)
    token_delay_s: float = 0.02
    transcript: str = "what is the status of my order"
    requests: list[dict[str, Any]] = field(default_factory=list)
    completed: int = 0
    cancelled: int = 0  # streams the client closed before the end
    transcribed: int = 0
    base_url: str = ""

    def plan(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            data = json.loads(last.get("content") or "{}")
            if "error" in data:
                return [("text", f"Sorry, I could not look that up: {data['error']}.")]
            return [
                (
                    "text",
                    f"Order {data.get('order_id', '?')} is {data.get('status', 'unknown')}. Anything else?",
                )
            ]
        words = str(last.get("content") or "").lower()
        if re.search(r"\b(good ?bye|bye)\b", words):
            return [("text", "Thank you for calling. Goodbye.")]
        if "order" in words and body.get("tools"):
            digits = "".join(re.findall(r"\d", words)) or "unknown"
            return [("tool", json.dumps({"order_id": digits}))]
        if "story" in words:
            return [("text", STORY)]
        return [("text", f"I heard {words.strip(' .?!')}. What else can I do for you?")]

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "fail":
            return web.Response(status=503, text="overloaded")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            if self.mode == "slow":
                await asyncio.sleep(5)
            for kind, value in self.plan(body):
                if kind == "tool":
                    await self._tool(response, value)
                else:
                    await self._text(response, value)
            await response.write(b"data: [DONE]\n\n")
            self.completed += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.cancelled += 1
            raise
        return response

    async def _send(
        self, response: web.StreamResponse, delta: dict[str, Any], finish: str | None = None
    ) -> None:
        chunk = {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    async def _text(self, response: web.StreamResponse, text: str) -> None:
        await self._send(response, {"role": "assistant", "content": ""})
        for word in re.findall(r"\S+\s*", text):
            await asyncio.sleep(self.token_delay_s)
            await self._send(response, {"content": word})
        await self._send(response, {}, "stop")

    async def _tool(self, response: web.StreamResponse, arguments: str) -> None:
        head = {
            "index": 0,
            "id": "call_fake1",
            "type": "function",
            "function": {"name": "get_order_status", "arguments": ""},
        }
        await self._send(response, {"role": "assistant", "tool_calls": [head]})
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            await asyncio.sleep(self.token_delay_s)
            await self._send(response, {"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        await self._send(response, {}, "tool_calls")

    async def transcriptions(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        self.transcribed += 1
        if self.mode == "fail" or "file" not in form:
            return web.Response(status=500, text="transcriber down")
        return web.json_response({"text": self.transcript})


def app_for(fake: FakeLlm) -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.chat)
    app.router.add_post("/v1/audio/transcriptions", fake.transcriptions)
    return app


@contextlib.asynccontextmanager
async def fake_llm(**kw: Any) -> AsyncIterator[FakeLlm]:
    fake = FakeLlm(**kw)
    runner = web.AppRunner(app_for(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token-delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    web.run_app(app_for(FakeLlm(token_delay_s=args.token_delay_ms / 1000)), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
