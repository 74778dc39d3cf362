"""The real engines: the pocketsphinx process pool and eSpeak NG, plus resampling."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from realtime.server.conversation.audio import Upsampler, read_audio_file, resample, wav_bytes
from realtime.server.conversation.stt import PocketsphinxPool
from realtime.server.conversation.tts import EspeakTts
from realtime.server.platform.errors import HubError

DATA = "/usr/share/pocketsphinx/test/data/"


def goforward() -> bytes:
    return Path(DATA, "goforward.raw").read_bytes()


async def test_pool_streams_partials_and_finals_and_stops_its_processes() -> None:
    pool = PocketsphinxPool(workers=1, decoders_per_worker=2)
    raw = goforward()
    try:
        stream = await pool.open(raw[:9600])  # 300 ms of pre-roll
        partial = None
        for i in range(9600, len(raw) - 6400, 6400):
            partial = await stream.feed(raw[i : i + 6400], want_partial=True) or partial
        assert partial and partial.startswith("go")
        hyp = await stream.finish(raw[len(raw) - 6400 :])
        assert hyp.text == "go forward ten meters"
        assert 0.3 < hyp.confidence <= 1
        # Two utterances at once hold both slots; a third waits for a free one.
        a = await pool.open(b"")
        b = await pool.open(b"")
        assert pool.busy_slots == 2
        third = asyncio.ensure_future(pool.open(b""))
        await asyncio.sleep(0.05)
        assert not third.done()
        await a.abort()
        c = await asyncio.wait_for(third, 10)
        await b.abort()
        await c.abort()
        assert pool.busy_slots == 0
        pids = pool.pids()
        assert len(pids) == 1
    finally:
        await pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_espeak_speaks_and_is_serialised() -> None:
    tts = EspeakTts()
    try:
        a, b = await asyncio.gather(
            tts.synthesize("Hello, who is calling?", "en-us", 175),
            tts.synthesize("Goodbye.", "en-us", 175),
        )
        assert a.sample_rate == 22_050
        assert 0.8 < len(a.pcm) / a.sample_rate < 3
        assert len(b.pcm) < len(a.pcm)
        assert np.abs(a.pcm).max() > 1000  # not silence
        faster = await tts.synthesize("Hello, who is calling?", "en-us", 350)
        assert len(faster.pcm) < len(a.pcm)
        with pytest.raises(ValueError):
            await tts.synthesize("hi", "no-such-voice", 175)
    finally:
        tts.close()


def test_resample_keeps_duration_and_pitch() -> None:
    t = np.arange(22_050) / 22_050
    tone = (np.sin(2 * np.pi * 440 * t) * 10_000).astype(np.int16)
    out = resample(tone, 22_050, 8_000)
    assert len(out) == 8_000
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # 1 Hz bins over one second
    high = (np.sin(2 * np.pi * 6_000 * t) * 10_000).astype(np.int16)
    assert np.abs(resample(high, 22_050, 8_000)).max() < 2_000  # above 4 kHz is filtered, not aliased


def test_upsampler_is_continuous_across_chunks() -> None:
    up = Upsampler(8_000)
    x = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    whole = Upsampler(8_000)(x)
    parts = np.concatenate((up(x[:80]), up(x[80:])))
    assert np.array_equal(whole, parts) and len(whole) == 320
    assert np.array_equal(Upsampler(16_000)(x), x)
    with pytest.raises(ValueError):
        Upsampler(44_100)


def test_read_wav_and_raw() -> None:
    pcm = np.arange(100, dtype=np.int16)
    got, rate = read_audio_file(wav_bytes(pcm, 8000))
    assert rate == 8000 and np.array_equal(got, pcm)
    got, rate = read_audio_file(pcm.tobytes() + b"\x01")
    assert rate == 16_000 and np.array_equal(got, pcm)


async def test_a_killed_worker_fails_its_utterance_and_is_replaced() -> None:
    pool = PocketsphinxPool(workers=1, decoders_per_worker=1)
    raw = goforward()
    try:
        stream = await pool.open(raw[:3200])
        (old,) = pool.pids()
        os.kill(old, signal.SIGKILL)
        with pytest.raises(HubError) as caught:
            for i in range(3200, len(raw), 3200):
                await stream.feed(raw[i : i + 3200], want_partial=False)
            await stream.finish(b"")
        assert caught.value.reason == "STT_FAILED"
        await stream.abort()
        again = await pool.open(b"")
        for i in range(0, len(raw), 3200):
            await again.feed(raw[i : i + 3200], want_partial=False)
        assert (await again.finish(b"")).text == "go forward ten meters"
        (new,) = pool.pids()
        assert new != old
    finally:
        await pool.close()


async def test_an_abort_after_close_starts_no_new_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call torn down while the hub closes the pool still aborts its utterance: that must not
    spawn a replacement recogniser process nobody would ever stop. The abort is made to land in
    the window after the workers stopped and before their executors shut down."""
    pool = PocketsphinxPool(workers=1, decoders_per_worker=1)
    stream = await pool.open(goforward()[:3200])
    executors = [w.executor for w in pool._workers]
    for executor in executors:
        monkeypatch.setattr(executor, "shutdown", lambda wait=True: None)
    try:
        await pool.close()
        await stream.abort()  # swallowed: the pool is closed
        assert not any(w.alive() for w in pool._workers), "an abort after close spawned a worker"
        with pytest.raises(HubError) as caught:
            await pool.open(b"")
        assert caught.value.reason == "STT_UNAVAILABLE"
    finally:
        monkeypatch.undo()
        for worker in pool._workers:
            worker.stop()
        for executor in executors:
            executor.shutdown(wait=True)
