"""Whole turns over a real hub: real recorded speech in, transcript, reply and audio out."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from realtime.server.testing import running_hub
from tests.unit.conversation.fake_openai import fake_openai

from .conversation_client import FAST, SERVICES, Session, end, goforward, kinds, ping, start, text


async def test_spoken_turn_on_a_real_recording(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start(caller_number="+15550100"))
            ready = await s.until_kind("ready")
            assert ready.command_id == "start"
            assert ready.ready.format.sample_rate_hz == 16_000
            assert ready.ready.stt_engine == "pocketsphinx" and ready.ready.vad_engine == "silero"
            seq = await s.send_audio(goforward())
            await s.send_audio(b"\0" * 32_000, first_seq=seq)  # a second of silence closes the turn
            s.send(end())
            events = await s.finished(timeout=60)
    names = kinds(events)
    assert names.index("speech_started") < names.index("speech_stopped") < names.index("reply")
    finals = [t for t in s.of("transcript") if t.final]
    assert len(finals) == 1
    words = finals[0].text.split()
    assert {"go", "forward", "meters"} <= set(words), finals[0].text
    assert 0 < finals[0].confidence <= 1
    reply = s.of("reply")[0]
    assert reply.intent == "unknown" and reply.text and not reply.should_terminate
    audio = s.of("reply_audio")
    assert audio[-1].last and not any(a.last for a in audio[:-1])
    assert [a.sequence for a in audio] == list(range(1, len(audio) + 1))
    assert all(len(a.data) == 640 for a in audio[:-1])  # 20 ms at 16 kHz
    assert sum(len(a.data) for a in audio) > 16_000  # over half a second of speech
    latency = s.of("latency")[0]
    assert latency.to_first_audio.ToMilliseconds() >= latency.to_transcript.ToMilliseconds() > 0
    assert "stt" in latency.stages and "tts" in latency.stages
    assert s.of("ended")[0].reason == 1  # END_REASON_CLIENT_ENDED


async def test_typed_turns_until_the_responder_ends_the_call(tmp_path: Path) -> None:
    conf = {**FAST, "max_turns": 2, "stt_prestart": False, "playback_lead_ms": 5000}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start(rate=8000), ping("p1"))
            pong = await s.until_kind("pong")
            assert pong.command_id == "p1"
            s.send(text("Hello, we have a special offer on a new product for you"))
            first = (await s.until_kind("reply")).reply
            assert first.intent == "sales" and not first.should_terminate
            await s.until(lambda e: e.WhichOneof("event") == "reply_audio" and e.reply_audio.last)
            s.send(text("It is a limited time deal, you should buy now"))
            events = await s.finished(timeout=30)
    replies = s.of("reply")
    assert len(replies) == 2 and replies[1].should_terminate
    assert "Goodbye" in replies[1].text
    audio = s.of("reply_audio")
    assert all(len(a.data) == 320 for a in audio if not a.last)  # 20 ms at 8 kHz
    assert events[-1].WhichOneof("event") == "ended"
    assert events[-1].ended.reason == 3  # END_REASON_CONVERSATION_COMPLETE


async def test_failing_hosted_engines_fall_back_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REALTIME_TEST_HOSTED_KEY", "test-key")
    async with fake_openai() as fake:
        fake.mode = "fail"
        conf = {
            **FAST,
            "tts_engine": "hosted",
            "responder": "chat",
            "hosted_base_url": fake.base_url,
            "hosted_api_key_env": "REALTIME_TEST_HOSTED_KEY",
            "playback_lead_ms": 60_000,
        }
        async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
            async with h.client("alice") as client:
                s = Session(client)
                s.send(start())
                ready = await s.until_kind("ready")
                assert (ready.ready.tts_engine, ready.ready.responder) == ("hosted", "chat")
                s.send(text("we have a special offer"))
                await s.until(lambda e: e.WhichOneof("event") == "reply_audio" and e.reply_audio.last)
                s.send(end())
                await s.finished()
            metrics = await _metrics(h.http_url)
    notices = [st for st in s.of("status") if st.reason == "ENGINE_FALLBACK"]
    assert {n.details["engine"] for n in notices} == {"tts", "responder"}
    assert s.of("reply")[0].text.startswith("Thanks for calling")  # the screening script answered
    assert {path for path, _ in fake.requests} == {"/v1/audio/speech", "/v1/chat/completions"}
    assert 'realtime_conversation_engine_fallbacks_total{engine="tts"} 1.0' in metrics


async def _metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        return await resp.text()
