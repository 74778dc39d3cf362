"""G.711 tables against the reference values, round trips, and a µ-law/A-law call."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from realtime.server.conversation import events as ev
from realtime.server.conversation import g711
from realtime.server.conversation.config import ConversationConfig
from realtime.server.conversation.conversation import Conversation, StartParams
from realtime.server.conversation.engines import Engines
from realtime.server.platform.errors import HubError


def test_reference_values() -> None:
    zero = np.zeros(1, dtype=np.int16)
    assert g711.encode("MULAW", zero) == b"\xff" and g711.encode("ALAW", zero) == b"\xd5"
    assert g711.decode("MULAW", b"\x00\x7f\x80\xff").tolist() == [-32124, 0, 32124, 0]
    assert g711.decode("ALAW", b"\xd5\x55\x2a\xaa").tolist() == [8, -8, -32256, 32256]


@pytest.mark.parametrize("encoding", g711.ENCODINGS)
def test_round_trip_is_close_and_stable(encoding: str) -> None:
    rng = np.random.default_rng(15)
    print("seed 15")
    pcm = rng.integers(-32768, 32767, 8000, dtype=np.int16)
    back = g711.decode(encoding, g711.encode(encoding, pcm)).astype(np.int32)
    # Companding keeps the relative error within one step (~1/16 of the segment).
    assert np.all(np.abs(back - pcm) <= np.maximum(np.abs(pcm.astype(np.int32)) // 15, 16) + 8)
    every = bytes(range(256))
    again = g711.encode(encoding, g711.decode(encoding, every))
    assert sum(a != b for a, b in zip(again, every, strict=True)) <= 1  # µ-law has +0 and -0


@pytest.mark.parametrize("encoding", g711.ENCODINGS)
async def test_a_g711_call_answers_in_its_encoding(encoding: str) -> None:
    config = ConversationConfig.load({"idle_timeout_s": 0, "playback_lead_ms": 60_000})
    engines = Engines(config)
    conv = Conversation(engines, config)
    try:
        with pytest.raises(HubError) as err:
            await conv.start("s", StartParams(encoding=encoding, sample_rate=16_000))
        assert "field:start.format.sample_rate_hz" in str(err.value.violations) or err.value.violations
        await conv.start("s", StartParams(encoding=encoding, sample_rate=8000))
        await conv.audio(0, b"\xff" * 160)  # 20 ms: one byte per sample
        with pytest.raises(HubError):
            await conv.audio(1, b"\xff" * 9000)  # more than a second
        await conv.text("hello")
        audio: list[ev.ReplyAudio] = []
        async with asyncio.timeout(20):
            while not audio or not audio[-1].last:
                event = await conv.next_event()
                if isinstance(event, ev.Ready):
                    assert event.encoding == encoding
                if isinstance(event, ev.ReplyAudio):
                    audio.append(event)
        assert all(len(a.pcm) <= 160 for a in audio)  # 20 ms chunks of one byte per sample
        speech = g711.decode(encoding, b"".join(a.pcm for a in audio))
        assert np.abs(speech.astype(np.int32)).max() > 1000  # it is speech, not silence
    finally:
        await conv.close()
        await engines.close()
