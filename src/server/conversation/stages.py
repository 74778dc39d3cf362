"""The pipeline's stages: VAD -> speech to text -> text to speech (the responder is in
respond_stage.py, the player in player_stage.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from ..platform.errors import HubError
from . import events as ev
from .assistant import Assistant
from .audio import PIPELINE_RATE, Pcm, resample
from .cache import ReplyAudioCache, cache_key
from .config import ConversationConfig
from .frames import (
    AudioFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    ReplyAudioFrame,
    ReplyFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    TranscriptFrame,
    TurnTiming,
)
from .metrics import ConversationMetrics
from .pipeline import Stage
from .responder import CallState
from .stt import Hypothesis, SpeechToText, SttStream
from .tts import TextToSpeech
from .turn_spans import CANCELLED, IGNORED, NO_TRANSCRIPT, TurnSpans
from .vad import WINDOW, Endpointer, VadEngine

Emit = Callable[[ev.Event], Awaitable[None]]


def _ms(pcm: Pcm) -> float:
    return len(pcm) * 1000 / PIPELINE_RATE


class Floor:
    """Whether the assistant holds the floor: a reply is being prepared or is still playing."""

    PENDING_TTL_S = 20.0  # a turn whose reply never came stops counting after this

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.pending: dict[int, float] = {}  # turn -> when it stops counting
        self.playing_turn = 0
        self.playing_until = 0.0

    def add(self, turn: int) -> None:
        self.pending[turn] = self._clock() + self.PENDING_TTL_S

    def discard(self, turn: int) -> None:
        self.pending.pop(turn, None)

    def active(self) -> bool:
        now = self._clock()
        self.pending = {t: until for t, until in self.pending.items() if until > now}
        return bool(self.pending) or now < self.playing_until

    def clear(self) -> None:
        self.pending.clear()
        self.playing_until = 0.0


@dataclass
class StageContext:
    """What every stage of one conversation shares."""

    config: ConversationConfig
    emit: Emit
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    floor: Floor
    sample_rate: int
    chunk_ms: int
    voice: str
    metrics: ConversationMetrics | None
    finish: Callable[[str, str], Awaitable[None]]
    assistant: Assistant
    encode: Callable[[Pcm], bytes]  # reply audio in the session's encoding
    call: CallState = field(default_factory=CallState)
    tool_calls: dict[str, asyncio.Future[tuple[str, bool]]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # engine fallbacks already announced
    turns: TurnSpans | None = None  # per-turn spans, only when tracing spans are on

    def observe(self, stage: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.stage_seconds.labels(stage).observe(max(seconds, 0.0))


class VadStage(Stage):
    """Scores 32 ms windows, opens and closes utterances, and decides barge-in."""

    name = "vad"
    interruptible = False

    def __init__(self, ctx: StageContext, engine: VadEngine) -> None:
        super().__init__()
        c = ctx.config
        self.ctx = ctx
        self.engine = engine
        self.endpointer = Endpointer(
            c.vad_threshold, c.vad_release, c.min_speech_ms, c.end_silence_ms, c.max_utterance_ms
        )
        self._buffer = np.zeros(0, dtype=np.int16)
        self.turn = 0
        self._during_reply = False
        self._interrupted = False
        self._last_voiced_at = 0.0
        self._silent_ms = 0.0

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            await self.push(frame)
            await self._score(frame)
        elif isinstance(frame, EndFrame):
            stop = self.endpointer.force_stop()
            if stop is not None:
                await self._stopped(stop.audio_ms, cut=False)
            await self.push(frame)
        else:
            await self.push(frame)

    async def _score(self, frame: AudioFrame) -> None:
        buf = np.concatenate((self._buffer, frame.pcm)) if len(self._buffer) else frame.pcm
        n = len(buf) // WINDOW
        for i in range(n):
            window = buf[i * WINDOW : (i + 1) * WINDOW].astype(np.float32) / 32768.0
            event, voiced = self.endpointer.feed(self.engine.probability(window))
            if voiced:
                self._last_voiced_at = frame.received_at
            if event is not None and event.kind == "start":
                await self._started(event.audio_ms)
            elif event is not None:
                await self._stopped(event.audio_ms, cut=event.kind == "cut")
            elif self.endpointer.speaking:
                await self._maybe_interrupt()
            else:
                await self._count_silence()
        self._buffer = buf[n * WINDOW :].copy()

    async def _started(self, audio_ms: float) -> None:
        self.turn += 1
        self._during_reply = self.ctx.floor.active()
        self._interrupted = False
        self._silent_ms = 0.0
        if self.ctx.turns is not None:
            self.ctx.turns.begin(self.turn, "audio")
        await self.ctx.emit(ev.SpeechStarted(self.turn, audio_ms))
        await self.push(SpeechStartedFrame(self.turn, audio_ms, self._during_reply))
        await self._maybe_interrupt()

    async def _maybe_interrupt(self) -> None:
        if (
            self._during_reply
            and not self._interrupted
            and self.endpointer.speech_ms >= self.ctx.config.min_interrupt_ms
        ):
            self._interrupted = True
            await self.push(InterruptionFrame(self.turn))

    async def _stopped(self, audio_ms: float, cut: bool) -> None:
        now = self.ctx.clock()
        discard = self._during_reply and not self._interrupted
        timing = TurnTiming(last_voiced_at=min(self._last_voiced_at, now), stopped_at=now)
        if self.ctx.turns is not None:
            self.ctx.turns.event(self.turn, "speech_stopped", {"realtime.turn.cut": cut})
        await self.ctx.emit(ev.SpeechStopped(self.turn, audio_ms, ignored=discard))
        if cut:
            await self.ctx.emit(
                ev.Status(
                    "TRANSCRIBING",
                    "MAX_UTTERANCE",
                    f"utterance cut at {self.ctx.config.max_utterance_ms} ms",
                )
            )
        await self.push(SpeechStoppedFrame(self.turn, audio_ms, timing, discard=discard, cut=cut))

    async def _count_silence(self) -> None:
        self._silent_ms += WINDOW * 1000 / PIPELINE_RATE
        if self._silent_ms >= self.ctx.config.no_speech_notice_ms:
            self._silent_ms = 0.0
            await self.ctx.emit(
                ev.Status(
                    "LISTENING",
                    "NO_SPEECH",
                    f"no speech in the last {self.ctx.config.no_speech_notice_ms} ms of audio",
                )
            )


class SttStage(Stage):
    """Streams each utterance to the recogniser with pre-roll; emits partial and final text."""

    name = "stt"
    interruptible = False  # the caller's speech is what interrupts: keep transcribing it
    FEED_MS = 100  # audio is sent to the recogniser in batches of this much

    def __init__(self, ctx: StageContext, engine: SpeechToText) -> None:
        super().__init__()
        self.ctx = ctx
        self.engine = engine
        c = ctx.config
        self._ring: deque[Pcm] = deque()
        self._ring_ms = 0.0
        self._ring_limit_ms = c.pre_roll_ms + c.min_speech_ms + 64  # the VAD opens after min speech
        self._stream: SttStream | None = None
        self._pending: list[Pcm] = []
        self._pending_ms = 0.0
        self._last_partial = 0.0
        self._last_partial_text = ""
        self._turn = 0
        self._fed = 0  # bytes of this utterance sent to the recogniser

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, AudioFrame):
            await self._audio(frame.pcm)
        elif isinstance(frame, SpeechStartedFrame):
            await self._open(frame.turn)
        elif isinstance(frame, SpeechStoppedFrame):
            await self._close(frame)
        else:
            await self.push(frame)

    async def _audio(self, pcm: Pcm) -> None:
        ms = len(pcm) * 1000 / PIPELINE_RATE
        if self._stream is None:
            self._ring.append(pcm)
            self._ring_ms += ms
            while (
                self._ring
                and self._ring_ms - len(self._ring[0]) * 1000 / PIPELINE_RATE >= self._ring_limit_ms
            ):
                self._ring_ms -= len(self._ring.popleft()) * 1000 / PIPELINE_RATE
            return
        self._pending.append(pcm)
        self._pending_ms += ms
        if self._pending_ms >= self.FEED_MS:
            now = self.ctx.clock()
            want = (now - self._last_partial) * 1000 >= self.ctx.config.stt_partial_interval_ms
            try:
                partial = await self._stream.feed(self._take(), want)
            except HubError as err:
                await self.cleanup()  # one error per utterance, not one per batch
                self._failed(err)
                raise
            if partial is not None:
                self._last_partial = now
                if partial and partial != self._last_partial_text:
                    self._last_partial_text = partial
                    await self.ctx.emit(ev.Transcript(self._turn, partial, 0.0, final=False))

    def _take(self) -> bytes:
        data = b"".join(p.astype("<i2").tobytes() for p in self._pending)
        self._pending.clear()
        self._pending_ms = 0.0
        self._fed += len(data)
        return data

    def _failed(self, err: HubError) -> None:
        if self.ctx.turns is not None:
            self.ctx.turns.fail(self._turn, "stt", err)

    async def _open(self, turn: int) -> None:
        turns = self.ctx.turns
        if self._stream is not None:
            await self._stream.abort()
            self._stream = None
            if turns is not None:
                turns.end(self._turn, CANCELLED)
        self._turn = turn
        pre_roll = b"".join(p.astype("<i2").tobytes() for p in self._ring)
        self._ring.clear()
        self._ring_ms = 0.0
        self._last_partial = self.ctx.clock()
        self._last_partial_text = ""
        self._fed = len(pre_roll)
        if turns is not None:
            turns.start(turn, "stt", {"realtime.stt.engine": self.engine.name})
        try:
            self._stream = await self.engine.open(pre_roll)
        except HubError as err:
            self._failed(err)
            raise

    async def _close(self, frame: SpeechStoppedFrame) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if frame.discard:
            self._pending.clear()
            self._pending_ms = 0.0
            await stream.abort()
            if self.ctx.turns is not None:
                self.ctx.turns.end(frame.turn, IGNORED)
            return
        await self.ctx.emit(ev.Status("TRANSCRIBING", queue_depth=self.queue_depth))
        try:
            hyp = await stream.finish(self._take())
        except HubError as err:
            await stream.abort()
            self._failed(err)
            raise
        timing = frame.timing
        timing.final_at = self.ctx.clock()
        timing.stt_engine = self.engine.name
        if self.ctx.turns is not None:
            self._traced(self.ctx.turns, frame, hyp)
        if hyp.fallback_reason:
            await self.ctx.emit(
                ev.Status("TRANSCRIBING", "ENGINE_FALLBACK", hyp.fallback_reason, details={"engine": "stt"})
            )
        await self.ctx.emit(ev.Transcript(frame.turn, hyp.text, round(hyp.confidence, 3), final=True))
        if hyp.text.strip():
            self.ctx.floor.add(frame.turn)
            await self.push(TranscriptFrame(frame.turn, hyp.text, hyp.confidence, timing))
        else:
            await self.ctx.emit(ev.Status("LISTENING", "NO_TRANSCRIPT", "speech was heard but no words"))

    def _traced(self, turns: TurnSpans, frame: SpeechStoppedFrame, hyp: Hypothesis) -> None:
        """The recogniser answered: close the stt span; a transcript goes on, none ends the turn."""
        timing = frame.timing
        chars = len(hyp.text.strip())
        turns.finish(
            frame.turn,
            "stt",
            {
                "realtime.stt.engine": self.engine.name,
                "realtime.stt.audio_seconds": round(self._fed / 2 / PIPELINE_RATE, 3),
                "realtime.stt.transcript_chars": chars,
                "realtime.stt.finalize_ms": round(max(timing.final_at - timing.stopped_at, 0.0) * 1000, 3),
                "realtime.stt.fallback": bool(hyp.fallback_reason),
            },
        )
        turns.note(frame.turn, {"realtime.turn.transcript_chars": chars})
        if chars:
            turns.handed_on(frame.turn)
        else:
            turns.end(frame.turn, NO_TRANSCRIPT)

    async def cleanup(self) -> None:
        if self._stream is not None:
            await self._stream.abort()
            self._stream = None


class TtsStage(Stage):
    name = "tts"

    def __init__(self, ctx: StageContext, engine: TextToSpeech, cache: ReplyAudioCache) -> None:
        super().__init__()
        self.ctx = ctx
        self.engine = engine
        self.cache = cache

    async def process(self, frame: Frame) -> None:
        if not isinstance(frame, ReplyFrame):
            await self.push(frame)
            return
        turns = self.ctx.turns
        if turns is not None:
            turns.start(
                frame.turn,
                "tts",
                {"realtime.tts.segment": frame.segment, "realtime.tts.text_chars": len(frame.text)},
            )
        try:
            pcm = await self._speech(frame)
        except BaseException as exc:
            self.ctx.floor.discard(frame.turn)
            if turns is not None and not isinstance(exc, asyncio.CancelledError):
                turns.fail(frame.turn, "tts", exc)  # cancelled: the barge-in or the end closes it
            raise
        if turns is not None:
            turns.finish(
                frame.turn,
                "tts",
                {
                    "realtime.tts.engine": frame.timing.tts_engine,
                    "realtime.tts.audio_seconds": round(len(pcm) / self.ctx.sample_rate, 3),
                    "realtime.tts.cache": frame.timing.cache,
                },
            )
        if frame.segment == 1:
            frame.timing.synthesized_at = self.ctx.clock()
        await self.push(ReplyAudioFrame(frame, pcm))

    async def _speech(self, frame: ReplyFrame) -> Pcm:
        ctx = self.ctx
        rate = ctx.config.speech_rate_wpm
        key = cache_key(frame.text, ctx.voice, rate, ctx.sample_rate, self.engine.name)
        found, where = await self.cache.get(key)
        frame.timing.cache = where
        if ctx.metrics is not None:
            ctx.metrics.cache.labels(where).inc()
        frame.timing.tts_engine = self.engine.name
        if found is not None:
            return np.frombuffer(found, dtype="<i2").astype(np.int16)
        await ctx.emit(ev.Status("SYNTHESIZING", queue_depth=self.queue_depth))
        speech = await self.engine.synthesize(frame.text, ctx.voice, rate)
        frame.timing.tts_engine = speech.engine
        pcm = resample(speech.pcm, speech.sample_rate, ctx.sample_rate)
        if speech.fallback_reason:
            # Not cached: the key names the hosted engine, which should answer once it recovers.
            await ctx.emit(
                ev.Status(
                    "SYNTHESIZING", "ENGINE_FALLBACK", speech.fallback_reason, details={"engine": "tts"}
                )
            )
        else:
            await self.cache.put(key, pcm.astype("<i2").tobytes())
        return pcm
