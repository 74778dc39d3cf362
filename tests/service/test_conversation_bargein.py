"""Barge-in: the caller talks over the reply and it stops; a short "uh-huh" does not stop it."""

from __future__ import annotations

from pathlib import Path

from realtime.server.testing import running_hub

from .conversation_client import FAST, SERVICES, Session, end, goforward, start, text

CONF = {**FAST, "min_interrupt_ms": 400, "playback_lead_ms": 60}
LONG = "Hello there. Please hold on while I explain that nobody here wants to buy anything today, thank you."


async def test_caller_speech_interrupts_the_reply_within_one_chunk(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": CONF}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            s.send(text(LONG))
            first = await s.until_kind("reply_audio")
            seq = await s.send_audio(goforward())  # real speech over the reply
            interrupted = await s.until_kind("interrupted")
            await s.send_audio(b"\0" * 32_000, first_seq=seq)
            await s.until(
                lambda e: e.WhichOneof("event") == "reply" and e.reply.turn != first.reply_audio.turn
            )
            s.send(end())
            events = await s.finished(timeout=60)
    assert interrupted.interrupted.turn == first.reply_audio.turn
    cut = events.index(interrupted)
    old_turn = first.reply_audio.turn
    old_audio = [
        e.reply_audio
        for e in events
        if e.WhichOneof("event") == "reply_audio" and e.reply_audio.turn == old_turn
    ]
    assert not old_audio[-1].last  # the reply never finished
    after = [
        e for e in events[cut:] if e.WhichOneof("event") == "reply_audio" and e.reply_audio.turn == old_turn
    ]
    assert not after  # nothing of the old reply after the interruption
    sent_ms = interrupted.interrupted.audio_sent.ToMilliseconds()
    assert 0 < sent_ms < 3000
    # The interrupting speech became the next turn, answered in full.
    final = [t for t in s.of("transcript") if t.final and t.turn < 1_000_000]
    assert final and "forward" in final[0].text
    new_audio = [
        e.reply_audio
        for e in events
        if e.WhichOneof("event") == "reply_audio" and e.reply_audio.turn != old_turn
    ]
    assert new_audio and new_audio[-1].last


async def test_short_back_channel_does_not_interrupt(tmp_path: Path) -> None:
    speech = goforward()
    uh_huh = (
        b"\0" * 16_000 + speech[int(0.55 * 32_000) : int(0.80 * 32_000)] + b"\0" * 32_000
    )  # 250 ms of voice
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": CONF}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            s.send(text(LONG))
            await s.until_kind("reply_audio")
            await s.send_audio(uh_huh)
            stopped = await s.until_kind("speech_stopped")
            await s.until(lambda e: e.WhichOneof("event") == "reply_audio" and e.reply_audio.last)
            s.send(end())
            await s.finished(timeout=30)
    assert stopped.speech_stopped.ignored
    assert not s.of("interrupted")
    assert len(s.of("reply")) == 1  # the back-channel was not a turn
