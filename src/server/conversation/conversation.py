"""One conversation: validates commands, keeps audio in order and in pace, runs the
pipeline, and queues events for the client. `ConversationManager` caps how many run."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..platform import tracing
from ..platform.errors import HubError, failed_precondition, invalid_argument, resource_exhausted
from . import events as ev
from .assistant import AssistantParams, resolve
from .audio import SUPPORTED_RATES, Pcm, Upsampler, pcm_from_bytes
from .config import ConversationConfig
from .engines import Engines
from .frames import AudioFrame, EndFrame, GreetingFrame, TranscriptFrame, TurnTiming
from .g711 import ENCODINGS as G711
from .g711 import decode as g711_decode
from .g711 import encode as g711_encode
from .pipeline import Pipeline
from .player_stage import PlayerStage
from .respond_stage import ResponderStage
from .sequencer import Sequencer
from .stages import Floor, StageContext, SttStage, TtsStage, VadStage
from .throttle import AudioPacer, IdleTimer
from .turn_spans import TurnSpans

log = logging.getLogger("realtime.conversation")

MAX_TEXT_CHARS = 2000
THROTTLE_NOTICE_EVERY_S = 5.0


@dataclass
class StartParams:
    encoding: str = "PCM16LE"
    sample_rate: int = 16_000
    chunk_ms: int = 20
    channels: int = 1
    caller_number: str = ""
    caller_name: str = ""
    callee_name: str = ""
    profile: str = ""
    language: str = ""
    voice: str = ""
    assistant: AssistantParams = field(default_factory=AssistantParams)


def _pcm16(pcm: Pcm) -> bytes:
    return pcm.astype("<i2").tobytes()


class Conversation:
    def __init__(
        self,
        engines: Engines,
        config: ConversationConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.engines = engines
        self.config = config
        self.metrics = engines.metrics
        self._clock = clock
        self._sleep = sleep
        self._events: asyncio.Queue[ev.Event | None] = asyncio.Queue(config.event_queue)
        self._pipeline: Pipeline | None = None
        self._ctx: StageContext | None = None
        self._sequencer = Sequencer(config.reorder_window)
        self._upsampler: Upsampler | None = None
        self._pacer = AudioPacer(config.max_rate_factor, config.rate_burst_ms, clock)
        self._throttle_noticed = -THROTTLE_NOTICE_EVERY_S
        self.idle = IdleTimer(config.idle_timeout_s, clock)
        self._ending = False
        self._finished = False
        self._watchdog: asyncio.Task[None] | None = None
        self._drain: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._text_turns = 0
        self._encoding = "PCM16LE"

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        if self.config.idle_timeout_s > 0:  # 0 disables the idle end
            self._watchdog = asyncio.get_running_loop().create_task(
                self._watch_idle(), name="conversation-idle"
            )

    def cut_turns(self) -> None:
        """The stream is over: turns still open end as cancelled, and no new one begins. Not
        async, so the call's end does it before anything can interrupt it."""
        if self._ctx is not None and self._ctx.turns is not None:
            self._ctx.turns.close()

    async def close(self) -> None:
        """Stop the conversation's tasks and engines' streams. Idempotent: callers share one close
        in its own task, which a caller's cancellation does not interrupt (a client's cancel and
        the server's stop can cancel a call twice; an interrupted close left the pipeline's tasks
        and a recogniser slot behind)."""
        self.cut_turns()
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close(), name="conversation-close")
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        for task in (self._watchdog, self._drain):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._pipeline is not None:
            await self._pipeline.stop()
            self._pipeline = None

    async def next_event(self) -> ev.Event | None:
        """The next event for the client; None once the conversation has ended."""
        return await self._events.get()

    async def emit(self, event: ev.Event) -> None:
        if not self._finished:
            await self._events.put(event)

    async def finish(self, reason: str, message: str) -> None:
        """Send `ended` and close the event stream (once)."""
        if self._finished:
            return
        await self._events.put(ev.Ended(reason, message))
        self._finished = True
        if self.metrics is not None:
            self.metrics.ended.labels(reason).inc()
        await self._events.put(None)

    async def going_away(self, reason: str, grace_s: float) -> None:
        if not self._finished:
            await self._events.put(ev.GoingAway(reason, grace_s))
            await self.finish("SHUTDOWN", reason)

    @property
    def ending(self) -> bool:
        return self._ending or self._finished

    @property
    def started(self) -> bool:
        return self._pipeline is not None

    # -- commands ----------------------------------------------------------------------------

    async def start(self, command_id: str, params: StartParams) -> None:
        if self._pipeline is not None:
            raise failed_precondition("the conversation has already started", reason="ALREADY_STARTED")
        if self._ending:
            raise failed_precondition("the conversation is ending", reason="CONVERSATION_ENDING")
        violations = []
        if params.encoding not in ("PCM16LE", *G711):
            violations.append(("start.format.encoding", f"use PCM16LE, MULAW or ALAW, got {params.encoding}"))
        elif params.encoding in G711 and params.sample_rate != 8000:
            violations.append(
                (
                    "start.format.sample_rate_hz",
                    f"G.711 ({params.encoding}) is 8000 Hz, got {params.sample_rate}",
                )
            )
        if params.sample_rate not in SUPPORTED_RATES:
            violations.append(
                ("start.format.sample_rate_hz", f"must be 8000 or 16000, got {params.sample_rate}")
            )
        chunk_ms = params.chunk_ms or 20
        if not 10 <= chunk_ms <= 200:
            violations.append(("start.format.chunk_ms", f"must be 10..200 ms, got {chunk_ms}"))
        if params.channels not in (0, 1):
            violations.append(("start.format.channels", f"only mono is supported, got {params.channels}"))
        if params.language and not params.language.lower().startswith("en"):
            violations.append(
                ("start.language", f"only English (en, en-US) is supported, got {params.language}")
            )
        if params.profile not in ("", "screening"):
            violations.append(("start.profile", f"unknown responder profile {params.profile!r}"))
        if violations:
            raise invalid_argument("unsupported conversation format", violations, reason="UNSUPPORTED_FORMAT")
        assistant = resolve(params.assistant, self.config)
        self.idle.touch()
        self.engines.start()  # the recogniser pool warms while the caller starts talking
        self._upsampler = Upsampler(params.sample_rate)
        vad = self.engines.vad()
        responder = self.engines.responder(assistant)
        ctx = StageContext(
            config=self.config,
            emit=self.emit,
            clock=self._clock,
            sleep=self._sleep,
            floor=Floor(self._clock),
            sample_rate=params.sample_rate,
            chunk_ms=chunk_ms,
            voice=params.voice or self.config.voice,
            metrics=self.metrics,
            finish=self.finish,
            assistant=assistant,
            encode=self._encoder(params.encoding),
        )
        if tracing.spans is not None:  # the turns' spans are children of this Converse call's span
            ctx.turns = TurnSpans(tracing.spans, tracing.current_traceparent(), self.id)
        ctx.call.caller_name = params.caller_name
        ctx.call.callee_name = params.callee_name
        self._ctx = ctx
        pipeline = Pipeline(
            [
                VadStage(ctx, vad),
                SttStage(ctx, self.engines.stt),
                ResponderStage(ctx, responder),
                TtsStage(ctx, self.engines.tts, self.engines.cache),
                PlayerStage(ctx),
            ],
            self.config.stage_queue,
            self._stage_error,
        )
        pipeline.start()
        self._pipeline = pipeline
        await self.emit(
            ev.Ready(
                self.id,
                params.sample_rate,
                chunk_ms,
                stt_engine=self.engines.stt.name,
                tts_engine=self.engines.tts.name,
                vad_engine=vad.name,
                responder=responder.name,
                command_id=command_id,
                encoding=params.encoding,
            )
        )
        await self.emit(ev.Status("LISTENING"))
        if assistant.greeting:
            ctx.floor.add(0)  # the caller may speak over the greeting
            await pipeline.stages[2].queue_frame(GreetingFrame(assistant.greeting))

    def _encoder(self, encoding: str) -> Callable[[Pcm], bytes]:
        self._encoding = encoding
        if encoding in G711:
            return lambda pcm: g711_encode(encoding, pcm)
        return _pcm16

    async def tool_result(self, call_id: str, content: str, is_error: bool) -> None:
        """The application's answer to a `tool_call` event."""
        if self._ctx is None:
            raise failed_precondition("send start before tool_result", reason="NOT_STARTED")
        if len(content.encode()) > self.config.max_tool_result_bytes:
            raise invalid_argument(
                f"tool_result.content exceeds {self.config.max_tool_result_bytes} bytes",
                [("tool_result.content", f"at most {self.config.max_tool_result_bytes} bytes")],
                reason="TOOL_RESULT_TOO_LARGE",
            )
        future = self._ctx.tool_calls.get(call_id)
        if future is None or future.done():
            raise invalid_argument(
                f"no tool call {call_id!r} is waiting (unknown, already answered or timed out)",
                [("tool_result.call_id", "not a pending tool call of this conversation")],
                reason="UNKNOWN_TOOL_CALL",
            )
        future.set_result((content, is_error))

    async def audio(self, sequence: int, data: bytes) -> None:
        """Validate, order and pace one chunk, then feed it to the pipeline."""
        pipeline, ctx = self._require_started()
        self.idle.touch()
        bad: HubError | None = None
        width = 1 if self._encoding in G711 else 2
        max_bytes = ctx.sample_rate * width * self.config.max_chunk_ms // 1000
        if not data:
            bad = invalid_argument("audio.data is empty", [("audio.data", "send at least one sample")])
        elif len(data) % width:
            bad = invalid_argument(
                f"audio.data has {len(data)} bytes; PCM16 needs an even count",
                [("audio.data", "odd byte count")],
                reason="ODD_BYTE_COUNT",
            )
        elif len(data) > max_bytes:
            bad = invalid_argument(
                f"audio chunk of {len(data)} bytes exceeds {max_bytes} ({self.config.max_chunk_ms} ms)",
                [("audio.data", f"at most {max_bytes} bytes per chunk")],
                reason="CHUNK_TOO_LARGE",
            )
        # A bad chunk still takes its sequence number, so it is not also reported as a gap.
        result = self._sequencer.push(sequence, b"" if bad else data)
        await self._count_sequence(result.duplicate, result.reordered, result.gaps)
        if bad is not None:
            raise bad
        for chunk in result.ready:
            await self._feed(pipeline, chunk)

    async def _feed(self, pipeline: Pipeline, chunk: bytes) -> None:
        if not chunk:
            return
        assert self._ctx is not None and self._upsampler is not None
        g711 = self._encoding in G711
        delay = self._pacer.add(len(chunk) / (1 if g711 else 2) * 1000 / self._ctx.sample_rate)
        if delay > 0:
            now = self._clock()
            if now - self._throttle_noticed >= THROTTLE_NOTICE_EVERY_S:
                self._throttle_noticed = now  # one notice (and count) per episode, not per chunk
                if self.metrics is not None:
                    self.metrics.throttled.inc()
                await self.emit(
                    ev.Status(
                        "LISTENING",
                        "THROTTLED",
                        f"audio arrives faster than {self.config.max_rate_factor:g}x real time; slowing down",
                    )
                )
            await self._sleep(delay)  # not reading the stream meanwhile: flow control slows the client
        pcm = self._upsampler(g711_decode(self._encoding, chunk) if g711 else pcm_from_bytes(chunk))
        await pipeline.put(AudioFrame(pcm, self._clock()))

    async def _count_sequence(self, duplicate: bool, reordered: bool, gaps: list[tuple[int, int]]) -> None:
        m = self.metrics
        if duplicate and m is not None:
            m.sequence.labels("duplicate").inc()
        if reordered and m is not None:
            m.sequence.labels("reordered").inc()
        for first, last in gaps:
            if m is not None:
                m.sequence.labels("gap").inc(last - first + 1)
            await self.emit(ev.AudioGap(first, last))

    async def text(self, text: str) -> None:
        pipeline, ctx = self._require_started()
        self.idle.touch()
        text = " ".join(text.split())
        if not text:
            raise invalid_argument("text.text is empty", [("text.text", "say something")])
        if len(text) > MAX_TEXT_CHARS:
            raise invalid_argument(
                f"text of {len(text)} characters exceeds {MAX_TEXT_CHARS}", [("text.text", "too long")]
            )
        self._text_turns += 1
        turn = 1_000_000 + self._text_turns  # typed turns are numbered apart from spoken ones
        now = self._clock()
        timing = TurnTiming(last_voiced_at=now, stopped_at=now, final_at=now, stt_engine="text")
        ctx.floor.add(turn)
        if ctx.turns is not None:
            ctx.turns.begin(turn, "text")
            ctx.turns.note(turn, {"realtime.turn.transcript_chars": len(text)})
            ctx.turns.handed_on(turn)
        await self.emit(ev.Transcript(turn, text, 1.0, final=True))
        # Typed input skips VAD and STT: it enters the pipeline at the responder.
        await pipeline.stages[2].queue_frame(TranscriptFrame(turn, text, 1.0, timing, typed=True))

    async def end(self) -> None:
        """No more input: finish the queued turns (bounded by drain_timeout_s), then end."""
        if self._ending:
            raise failed_precondition("end was already sent", reason="CONVERSATION_ENDING")
        self._ending = True
        if self._pipeline is None:
            await self.finish("CLIENT_ENDED", "the client ended the conversation before start")
            return
        pipeline = self._pipeline
        flushed = self._sequencer.flush()
        await self._count_sequence(False, False, flushed.gaps)
        for chunk in flushed.ready:
            await self._feed(pipeline, chunk)
        await pipeline.put(EndFrame())
        self._drain = asyncio.get_running_loop().create_task(self._drain_deadline())

    async def _drain_deadline(self) -> None:
        await self._sleep(self.config.drain_timeout_s)
        await self.finish("CLIENT_ENDED", "ended before the last reply finished (drain timeout)")

    def _require_started(self) -> tuple[Pipeline, StageContext]:
        if self._ending:
            raise failed_precondition("the conversation is ending", reason="CONVERSATION_ENDING")
        if self._pipeline is None or self._ctx is None:
            raise failed_precondition("send start before audio or text", reason="NOT_STARTED")
        return self._pipeline, self._ctx

    async def _stage_error(self, err: HubError) -> None:
        await self.emit(ev.Error(err))

    async def _watch_idle(self) -> None:
        while not self._finished:
            remaining = self.idle.remaining()
            if remaining <= 0:
                if self._ending:
                    return
                await self.finish(
                    "IDLE_TIMEOUT", f"no audio for {self.config.idle_timeout_s:g} s; the conversation ended"
                )
                return
            await self._sleep(remaining)

    def queue_state(self) -> tuple[int, int]:
        depth = self._pipeline.queue_depth() if self._pipeline is not None else 0
        return depth, self.config.stage_queue


class ConversationManager:
    """Counts live conversations against the per-process limit."""

    def __init__(self, engines: Engines, config: ConversationConfig) -> None:
        self.engines = engines
        self.config = config
        self.live: set[Conversation] = set()
        self._every: weakref.WeakSet[Conversation] = weakref.WeakSet()  # open or still closing

    def open(self) -> Conversation:
        if len(self.live) >= self.config.max_conversations:
            if self.engines.metrics is not None:
                self.engines.metrics.rejected.inc()
            raise resource_exhausted(
                f"this server runs at most {self.config.max_conversations} conversations; retry shortly",
                reason="CONVERSATION_LIMIT",
                retry_after=2.0,
            )
        conv = Conversation(self.engines, self.config)
        self.live.add(conv)
        self._every.add(conv)
        if self.engines.metrics is not None:
            self.engines.metrics.active.set(len(self.live))
        conv.open()
        return conv

    async def close(self, conv: Conversation) -> None:
        self.live.discard(conv)
        if self.engines.metrics is not None:
            self.engines.metrics.active.set(len(self.live))
        await conv.close()

    async def settle(self) -> None:
        """The hub stops (after its server): close the conversations a cancelled call has not
        closed yet, and wait for the closes still running, before the engines stop."""
        await asyncio.gather(*(self.close(conv) for conv in list(self._every)), return_exceptions=True)
