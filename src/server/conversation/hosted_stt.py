"""Hosted speech recognition: an OpenAI-compatible `/audio/transcriptions` call per utterance.

The utterance is buffered (bounded by the longest utterance) and sent as a WAV file when it
ends. On failure, a slow answer or an open circuit, the offline recogniser transcribes the
same audio and the hypothesis says so (the conversation reports ENGINE_FALLBACK).
"""

from __future__ import annotations

import io
import logging
import wave

import aiohttp

from .audio import PIPELINE_RATE
from .breaker import CircuitBreaker
from .hosted import HostedClient
from .metrics import ConversationMetrics
from .stt import Hypothesis, SpeechToText, SttStream

log = logging.getLogger("realtime.conversation")


def wav_bytes(pcm: bytes, rate: int = PIPELINE_RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


class HostedStt:
    name = "hosted"

    def __init__(
        self,
        client: HostedClient,
        model: str,
        language: str,
        fallback: SpeechToText,
        breaker: CircuitBreaker,
        max_bytes: int,
        metrics: ConversationMetrics | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.language = language
        self.fallback = fallback
        self.breaker = breaker
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def open(self, pre_roll: bytes) -> SttStream:
        return _HostedStream(self, pre_roll)

    async def transcribe(self, pcm: bytes) -> Hypothesis:
        reason = "circuit open after repeated failures"
        if self.breaker.allow():
            try:
                form = aiohttp.FormData()
                form.add_field("file", wav_bytes(pcm), filename="utterance.wav", content_type="audio/wav")
                form.add_field("model", self.model)
                form.add_field("response_format", "json")
                if self.language:
                    form.add_field("language", self.language)
                response = await self.client.post_form("/audio/transcriptions", form)
                async with response:
                    answer = await response.json(content_type=None)
                text = str(answer["text"]).strip()
                self.breaker.success()
                return Hypothesis(text, 1.0)
            except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError, KeyError, TypeError) as exc:
                self.breaker.failure()
                reason = f"hosted transcription failed: {type(exc).__name__}: {exc}"[:200]
                log.warning("%s; using the offline recogniser", reason)
        if self.metrics is not None:
            self.metrics.fallbacks.labels("stt").inc()
        stream = await self.fallback.open(pcm)
        hyp = await stream.finish(b"")
        hyp.fallback_reason = reason
        return hyp


class _HostedStream:
    def __init__(self, engine: HostedStt, pre_roll: bytes) -> None:
        self._engine = engine
        self._audio = bytearray(pre_roll)

    async def feed(self, pcm: bytes, want_partial: bool) -> str | None:
        if len(self._audio) + len(pcm) <= self._engine.max_bytes:
            self._audio += pcm
        return None  # no partial transcripts from a per-utterance endpoint

    async def finish(self, pcm: bytes) -> Hypothesis:
        await self.feed(pcm, False)
        return await self._engine.transcribe(bytes(self._audio))

    async def abort(self) -> None:
        self._audio.clear()
