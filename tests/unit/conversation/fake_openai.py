"""A local fake of the OpenAI-compatible endpoints (speech, chat) that can fail or stall."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from aiohttp import web


@dataclass
class FakeOpenAI:
    mode: str = "ok"  # ok | fail | slow
    requests: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    base_url: str = ""

    async def speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, body))
        if request.headers.get("Authorization") != "Bearer test-key":
            return web.Response(status=401, text="bad key")
        if self.mode == "fail":
            return web.Response(status=500, text="engine down")
        if self.mode == "slow":
            await asyncio.sleep(5)
        t = np.arange(12_000) / 24_000  # half a second at 24 kHz
        pcm = (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2")
        return web.Response(body=pcm.tobytes(), content_type="application/octet-stream")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, body))
        if self.mode == "fail":
            return web.Response(status=503, text="overloaded")
        if self.mode == "slow":
            await asyncio.sleep(5)
        return web.json_response(
            {"choices": [{"message": {"role": "assistant", "content": "Not interested, thanks."}}]}
        )


@contextlib.asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/audio/speech", fake.speech)
    app.router.add_post("/v1/chat/completions", fake.chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()
