"""The last stage: plays reply audio to the client at real-time pace and reports latency."""

from __future__ import annotations

from . import events as ev
from .frames import EndFrame, Frame, InterruptionFrame, ReplyAudioFrame, ReplyEndFrame, ReplyFrame
from .pipeline import Stage
from .stages import StageContext
from .turn_spans import REPLIED


class PlayerStage(Stage):
    """Sends reply audio in session-sized chunks at real-time pace (a little ahead), so a
    barge-in can stop it within one chunk; reports latency at the first chunk."""

    name = "player"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._sequence = 0
        self._playing: ReplyFrame | None = None
        self._sent_ms = 0.0

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, ReplyAudioFrame):
            await self._play(frame)
        elif isinstance(frame, ReplyEndFrame):
            await self._ended(frame)
        elif isinstance(frame, EndFrame):
            await self.ctx.finish(frame.reason, "the client ended the conversation")
        else:
            await self.push(frame)

    async def _play(self, frame: ReplyAudioFrame) -> None:
        ctx = self.ctx
        reply = frame.reply
        per_chunk = max(1, ctx.sample_rate * ctx.chunk_ms // 1000)
        total = max(1, -(-len(frame.pcm) // per_chunk))
        lead = ctx.config.playback_lead_ms / 1000
        start = max(ctx.clock(), ctx.floor.playing_until)  # after the previous sentence
        if self._playing is None or self._playing.turn != reply.turn:
            self._sent_ms = 0.0
            if ctx.turns is not None:
                ctx.turns.start(reply.turn, "play")
            await ctx.emit(ev.Status("SPEAKING", queue_depth=self.queue_depth))
        self._playing = reply
        ctx.floor.playing_turn = reply.turn
        ctx.floor.playing_until = start + len(frame.pcm) / ctx.sample_rate
        for i in range(total):
            due = start + i * ctx.chunk_ms / 1000 - lead
            wait = due - ctx.clock()
            if wait > 0:
                await ctx.sleep(wait)
            chunk = frame.pcm[i * per_chunk : (i + 1) * per_chunk]
            self._sequence += 1
            await ctx.emit(
                ev.ReplyAudio(reply.turn, self._sequence, ctx.encode(chunk), ctx.sample_rate, i == total - 1)
            )
            self._sent_ms += len(chunk) * 1000 / ctx.sample_rate
            if i == 0 and reply.segment == 1 and reply.turn != 0:  # the greeting answers no speech
                await self._first_audio(reply)

    async def _ended(self, frame: ReplyEndFrame) -> None:
        ctx = self.ctx
        ctx.floor.discard(frame.turn)
        if ctx.metrics is not None and frame.turn != 0:
            ctx.metrics.turns.inc()
        if ctx.turns is not None:
            sent = self._sent_ms if self._playing is not None and self._playing.turn == frame.turn else 0.0
            ctx.turns.finish(frame.turn, "play", {"realtime.play.audio_seconds": round(sent / 1000, 3)})
            ctx.turns.end(frame.turn, REPLIED)
        if frame.should_terminate:
            # Let the client play the goodbye before the stream ends.
            remaining = ctx.floor.playing_until - ctx.clock()
            if remaining > 0:
                await ctx.sleep(remaining)
            await ctx.finish("CONVERSATION_COMPLETE", f"the assistant ended the call ({frame.intent})")
        self._playing = None

    async def _first_audio(self, reply: ReplyFrame) -> None:
        t = reply.timing
        t.first_audio_at = self.ctx.clock()
        eos = t.last_voiced_at

        def ms(a: float, b: float) -> float:
            return round(max(a - b, 0.0) * 1000, 3)

        stages = {
            "endpointing": ms(t.stopped_at, eos),
            "stt": ms(t.final_at, t.stopped_at),
            "responder": ms(t.reply_at, t.final_at),
            "tts": ms(t.synthesized_at, t.reply_at),
            "playout": ms(t.first_audio_at, t.synthesized_at),
            "compute_after_endpoint": ms(t.first_audio_at, t.stopped_at),
        }
        for stage, value in stages.items():
            self.ctx.observe(stage, value / 1000)
        if self.ctx.turns is not None:
            first_audio = {"realtime.turn.first_audio_ms": ms(t.first_audio_at, eos)}
            self.ctx.turns.note(reply.turn, first_audio)
            self.ctx.turns.event(reply.turn, "first_audio", first_audio)
        self.ctx.observe("end_of_speech_to_first_audio", (t.first_audio_at - eos))
        await self.ctx.emit(
            ev.Latency(
                reply.turn,
                endpointing_ms=stages["endpointing"],
                transcript_ms=ms(t.final_at, eos),
                reply_ms=ms(t.reply_at, eos),
                first_audio_ms=ms(t.first_audio_at, eos),
                stages_ms=stages,
            )
        )

    async def on_interruption(self, frame: InterruptionFrame) -> None:
        ctx = self.ctx
        if not ctx.floor.active() and self._playing is None:
            return
        if self._playing is not None:
            turn = self._playing.turn
        else:  # the reply was still being prepared
            turn = max(ctx.floor.pending, default=ctx.floor.playing_turn)
        sent = self._sent_ms if self._playing is not None else 0.0
        self._playing = None
        ctx.floor.clear()
        ctx.call.interrupted_turn = turn
        if ctx.call.ending_turn > 0:
            # The caller spoke over the goodbye: the call goes on, and that goodbye is not replayed.
            ctx.call.ending_turn = 0
            ctx.call.goodbye_interrupted = True
        if ctx.metrics is not None:
            ctx.metrics.interruptions.inc()
        await ctx.emit(ev.Interrupted(turn, round(sent, 1)))
        await ctx.emit(ev.Status("LISTENING", "INTERRUPTED", "the caller spoke over the reply"))
