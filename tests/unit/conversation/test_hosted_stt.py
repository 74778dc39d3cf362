"""Hosted transcription per utterance against the local fake, and its offline fallback."""

from __future__ import annotations

from pathlib import Path

from realtime.server.conversation.breaker import CircuitBreaker
from realtime.server.conversation.config import ConversationConfig
from realtime.server.conversation.engines import Engines
from realtime.server.conversation.hosted import HostedClient
from realtime.server.conversation.hosted_stt import HostedStt
from realtime.server.conversation.stt import PocketsphinxPool
from tests.fake_llm import fake_llm

AUDIO = Path("/usr/share/pocketsphinx/test/data/goforward.raw").read_bytes()


async def test_hosted_transcription_then_offline_fallback() -> None:
    audio = AUDIO
    pool = PocketsphinxPool(1, 1, prewarm=1)
    async with fake_llm(transcript="go forward ten meters") as fake:
        client = HostedClient(fake.base_url, "", timeout_s=2.0)
        stt = HostedStt(client, "whisper-1", "en", pool, CircuitBreaker(3, 30), max_bytes=10_000_000)
        try:
            stream = await stt.open(audio[:9600])
            assert await stream.feed(audio[9600:], True) is None  # no partials
            hyp = await stream.finish(b"")
            assert (hyp.text, hyp.fallback_reason) == ("go forward ten meters", "")
            fake.mode = "fail"
            stream = await stt.open(audio)
            hyp = await stream.finish(b"")
            assert "HTTP 500" in hyp.fallback_reason
            assert "forward" in hyp.text  # pocketsphinx heard the same recording
        finally:
            await client.close()
            await pool.close()
    assert fake.transcribed == 2


async def test_the_hosted_stt_setting_builds_engines() -> None:
    # It used to stop the hub (exit code 2): "unknown speech-to-text engine 'hosted'".
    config = ConversationConfig.load(
        {"stt_engine": "hosted", "hosted_base_url": "http://127.0.0.1:9/v1"}, environ={}
    )
    engines = Engines(config)
    try:
        assert engines.stt.name == "hosted"
    finally:
        await engines.close()
