"""Hosted engines against a local fake server: results, fallbacks and the circuit breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from realtime.server.conversation.breaker import CircuitBreaker
from realtime.server.conversation.hosted import FallbackTts, HostedClient
from realtime.server.conversation.metrics import ConversationMetrics
from realtime.server.conversation.tts import EspeakTts

from .fake_openai import FakeOpenAI, fake_openai


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai() as f:
        yield f


def test_breaker_opens_waits_and_tries_once() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=2, reset_s=10, clock=clock)
    assert b.allow()
    b.failure()
    assert b.state == "closed" and b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    clock.now = 10
    assert b.state == "half-open"
    assert b.allow() and not b.allow()  # one trial at a time
    b.failure()  # the trial failed: wait again
    assert b.state == "open"
    clock.now = 20
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.failures == 0


async def test_hosted_speech_then_fallback_then_open_circuit(fake: FakeOpenAI) -> None:
    registry = CollectorRegistry()
    clock = Clock()
    client = HostedClient(fake.base_url, "test-key", timeout_s=0.5)
    local = EspeakTts()
    tts = FallbackTts(
        client, "tts-1", "alloy", local, CircuitBreaker(2, 30, clock), ConversationMetrics(registry)
    )
    try:
        ok = await tts.synthesize("hello", "en-us", 175)
        assert (ok.engine, ok.sample_rate, len(ok.pcm), ok.fallback_reason) == ("hosted", 24_000, 12_000, "")
        assert fake.requests[-1][1]["response_format"] == "pcm"
        fake.mode = "fail"
        first = await tts.synthesize("hello", "en-us", 175)
        assert first.engine == "espeak" and "HTTP 500" in first.fallback_reason
        fake.mode = "slow"
        second = await tts.synthesize("hello", "en-us", 175)  # a stall counts as a failure too
        assert second.engine == "espeak" and "Timeout" in second.fallback_reason
        sent = len(fake.requests)
        third = await tts.synthesize("hello", "en-us", 175)
        assert len(fake.requests) == sent  # open circuit: the server is not even asked
        assert "circuit open" in third.fallback_reason and len(third.pcm) > 0
        fake.mode = "ok"
        clock.now = 31
        back = await tts.synthesize("hello", "en-us", 175)
        assert back.engine == "hosted" and tts.breaker.state == "closed"
    finally:
        await client.close()
        local.close()
    assert registry.get_sample_value("realtime_conversation_engine_fallbacks_total", {"engine": "tts"}) == 3
