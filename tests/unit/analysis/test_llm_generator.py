"""The OpenAI-compatible suggestion generator against a local fake endpoint (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from realtime.server.analysis.analyzers.base import CancelToken
from realtime.server.analysis.analyzers.suggest import OpenAICompatibleGenerator
from realtime.server.platform.errors import Code, HubError


@pytest.fixture
async def fake_llm() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"body": body, "auth": request.headers.get("Authorization")})
        content = "1. Sounds great!\n- Coffee it is ☕\n\nSee you tomorrow"
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": content}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        await runner.cleanup()


async def test_generator_asks_the_endpoint_and_cleans_lines(
    fake_llm: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = fake_llm
    monkeypatch.setenv("REALTIME_ANALYSIS_LLM_BASE_URL", url)
    monkeypatch.setenv("REALTIME_ANALYSIS_LLM_API_KEY", "sk-test")
    gen = OpenAICompatibleGenerator.from_options({"llm_model": "tiny"})
    context = {"language": "en", "messages": [{"speaker": "them", "text": "Coffee tomorrow?"}]}
    lines = await asyncio.to_thread(lambda: list(gen.generate(context, 3, CancelToken())))
    assert lines == ["Sounds great!", "Coffee it is ☕", "See you tomorrow"]
    assert seen[0]["auth"] == "Bearer sk-test"
    assert seen[0]["body"]["model"] == "tiny"
    assert "them: Coffee tomorrow?" in json.dumps(seen[0]["body"]["messages"])


async def test_generator_failures_are_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REALTIME_ANALYSIS_LLM_BASE_URL", raising=False)
    with pytest.raises(HubError) as unset:
        OpenAICompatibleGenerator.from_options({})
    assert unset.value.code == Code.UNAVAILABLE
    dead = OpenAICompatibleGenerator("http://127.0.0.1:9", "m", timeout=2)
    with pytest.raises(HubError) as down:
        await asyncio.to_thread(lambda: list(dead.generate({}, 3, CancelToken())))
    assert (down.value.code, down.value.reason) == (Code.UNAVAILABLE, "LLM_FAILED")
