"""VAD boundaries on real recorded speech, and the endpointer's rules."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.server.conversation.vad import WINDOW, WINDOW_MS, Endpointer, EnergyVad, SileroVad, make_vad

DATA = "/usr/share/pocketsphinx/test/data/"


def windows(pcm: np.ndarray) -> list[np.ndarray]:
    x = pcm.astype(np.float32) / 32768
    return [x[i : i + WINDOW] for i in range(0, len(x) - WINDOW + 1, WINDOW)]


def segments(engine: object, pcm: np.ndarray, **kw: float) -> list[tuple[str, float]]:
    ep = Endpointer(**kw)
    found = []
    for w in windows(pcm):
        event, _ = ep.feed(engine.probability(w))  # type: ignore[attr-defined]
        if event:
            found.append((event.kind, event.audio_ms))
    return found


def goforward() -> np.ndarray:
    return np.fromfile(DATA + "goforward.raw", dtype="<i2")


@pytest.mark.parametrize("engine", [SileroVad, EnergyVad])
def test_speech_boundaries_on_goforward(engine: type) -> None:
    # "go forward ten meters": speech from about 0.5 s to 2.3 s of the 2.8 s recording.
    pcm = np.concatenate((goforward(), np.zeros(16_000, np.int16)))
    found = segments(engine(), pcm)
    assert [k for k, _ in found] == ["start", "stop"], found
    start, stop = found[0][1], found[1][1]
    assert 300 <= start <= 700
    assert 2000 <= stop <= 2700


def test_silence_and_short_click_are_not_speech() -> None:
    pcm = np.zeros(16_000, np.int16)
    pcm[8000:8100] = 20000  # a 6 ms click
    for engine in (SileroVad(), EnergyVad()):
        assert segments(engine, pcm) == []


def test_two_utterances_split_by_a_pause() -> None:
    g = goforward()
    pcm = np.concatenate((g, np.zeros(8000, np.int16), g, np.zeros(16_000, np.int16)))
    found = segments(SileroVad(), pcm)
    assert [k for k, _ in found] == ["start", "stop", "start", "stop"]


def test_endpointer_rules() -> None:
    ep = Endpointer(threshold=0.5, release=0.35, min_speech_ms=64, end_silence_ms=96, max_utterance_ms=10_000)
    assert ep.feed(0.9) == (None, True)  # one window is not yet speech
    event, _ = ep.feed(0.9)
    assert event is not None and event.kind == "start" and event.audio_ms == 0
    ep.feed(0.4)  # above release: still voiced
    assert ep.speech_ms == pytest.approx(3 * WINDOW_MS)
    ep.feed(0.1)
    ep.feed(0.1)
    event, _ = ep.feed(0.1)
    assert event is not None and event.kind == "stop" and event.audio_ms == pytest.approx(3 * WINDOW_MS)
    cut = Endpointer(min_speech_ms=32, max_utterance_ms=320)
    kinds = [e.kind for e, _ in (cut.feed(0.9) for _ in range(20)) if e]
    assert kinds[:2] == ["start", "cut"]


def test_unknown_engine_and_fallback() -> None:
    assert make_vad("energy").name == "energy"
    assert make_vad("silero").name == "silero"
    with pytest.raises(ValueError):
        make_vad("psychic")
