"""The responder stage: turns a transcript into reply sentences as the responder streams them.

Each sentence goes on to speech synthesis as soon as it is complete (a `reply_segment`
event says so), then a `reply` event carries the whole text and a `ReplyEndFrame` closes
the turn. Tools the model calls become `tool_call` events; the stage waits for the
application's `tool_result` (bounded by the assistant's tool timeout) and speaks the
filler meanwhile. An interruption cancels this stage's task, which closes the model's
stream and drops the sentences not yet synthesised.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from . import events as ev
from .frames import (
    Frame,
    GreetingFrame,
    InterruptionFrame,
    ReplyEndFrame,
    ReplyFrame,
    TranscriptFrame,
    TurnTiming,
)
from .pipeline import Stage
from .responder import Notice, Outcome, Responder, Say
from .stages import StageContext

MAX_PENDING_TOOL_CALLS = 8


class ResponderStage(Stage):
    name = "responder"

    def __init__(self, ctx: StageContext, responder: Responder) -> None:
        super().__init__()
        self.ctx = ctx
        self.responder = responder
        self._turn = 0
        self._segments = 0
        self._texts: list[str] = []
        self._filled = False
        self._timing = TurnTiming()
        self._tool_calls = 0

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, TranscriptFrame):
            await self._respond(frame)
        elif isinstance(frame, GreetingFrame):
            self._begin(0, TurnTiming())
            await self._say(frame.text)
            await self._end(Outcome("unknown", 1.0, False, "greeting"))
        else:
            await self.push(frame)

    def _begin(self, turn: int, timing: TurnTiming) -> None:
        self._turn, self._segments, self._texts, self._filled = turn, 0, [], False
        self._timing = timing
        self._tool_calls = 0

    async def _respond(self, frame: TranscriptFrame) -> None:
        ctx = self.ctx
        await ctx.emit(ev.Status("RESPONDING", queue_depth=self.queue_depth))
        self._begin(frame.turn, frame.timing)
        outcome = Outcome("unknown", 0.0, False, self.responder.name)
        turns = ctx.turns
        if turns is not None:
            turns.start(frame.turn, "respond", {"realtime.respond.responder": self.responder.name})
        try:
            async for part in self.responder.reply(ctx.call, frame.text, frame.confidence, self._tool):
                if isinstance(part, Say):
                    await self._say(part.text)
                elif isinstance(part, Notice):
                    await ctx.emit(ev.Status("RESPONDING", part.reason, part.message, details=part.details))
                else:
                    outcome = part
        except BaseException as exc:
            ctx.floor.discard(frame.turn)
            if turns is not None and not isinstance(exc, asyncio.CancelledError):
                turns.fail(frame.turn, "respond", exc)  # cancelled: the barge-in or the end closes it
            raise
        frame.timing.responder = outcome.engine
        await self._end(outcome)

    async def _say(self, text: str) -> None:
        self._segments += 1
        self._texts.append(text)
        if self._segments == 1:
            self._timing.reply_at = self.ctx.clock()
        await self.ctx.emit(ev.ReplySegment(self._turn, self._segments, text))
        await self.push(ReplyFrame(self._turn, text, "unknown", 1.0, False, self._timing, self._segments))

    async def _end(self, outcome: Outcome) -> None:
        ctx = self.ctx
        text = " ".join(self._texts)
        if not self._texts:
            self._timing.reply_at = ctx.clock()
        terminate = outcome.should_terminate or (
            outcome.engine != "greeting" and bool(text) and ctx.assistant.ends_call(text)
        )
        if terminate:
            ctx.call.ending_turn = self._turn
        if ctx.turns is not None:
            ctx.turns.finish(
                self._turn,
                "respond",
                {
                    "realtime.respond.engine": outcome.engine,
                    "realtime.respond.intent": outcome.intent,
                    "realtime.respond.fallback": bool(outcome.fallback),
                    "realtime.respond.segments": self._segments,
                    "realtime.respond.reply_chars": len(text),
                    "realtime.respond.tool_calls": self._tool_calls,
                    "realtime.respond.terminate": terminate,
                },
            )
        await ctx.emit(
            ev.Reply(
                self._turn,
                text,
                outcome.intent,
                outcome.confidence,
                terminate,
                responder=outcome.engine,
                fallback=outcome.fallback,
            )
        )
        await self.push(ReplyEndFrame(self._turn, terminate, outcome.intent))

    async def on_interruption(self, frame: InterruptionFrame) -> None:
        # The first stage the interruption cancels: every turn past speech recognition is dropped.
        if self.ctx.turns is not None:
            self.ctx.turns.barged_in(frame.turn)

    async def _tool(self, name: str, arguments: str) -> tuple[str, bool]:
        """Ask the application to run a tool: (content for the model, answered in time)."""
        ctx = self.ctx
        self._tool_calls += 1
        if len(ctx.tool_calls) >= MAX_PENDING_TOOL_CALLS:
            return json.dumps({"error": "too many tool calls at once"}), True
        call_id = "call_" + uuid.uuid4().hex[:16]
        turns = ctx.turns
        if turns is None:
            return await self._run_tool(call_id, name, arguments)
        turns.start(self._turn, "tool", {"realtime.tool.name": name}, key=call_id)
        # Cancelled (a barge-in, the stream's end): the turn's end closes the span.
        content, in_time = await self._run_tool(call_id, name, arguments)
        result = "answered" if in_time else "timeout"
        turns.finish(self._turn, "tool", {"realtime.tool.result": result}, key=call_id)
        return content, in_time

    async def _run_tool(self, call_id: str, name: str, arguments: str) -> tuple[str, bool]:
        ctx = self.ctx
        timeout = ctx.assistant.tool_timeout_s
        future: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()
        ctx.tool_calls[call_id] = future
        try:
            await ctx.emit(ev.ToolCall(self._turn, call_id, name, arguments, timeout))
            if ctx.assistant.tool_filler and not self._filled:
                self._filled = True  # one filler per turn, however many tools run
                await self._say(ctx.assistant.tool_filler)
            try:
                async with asyncio.timeout(timeout):
                    content, is_error = await future
            except TimeoutError:
                return json.dumps({"error": f"the tool {name} timed out after {timeout:g} s"}), False
            return (json.dumps({"error": content}) if is_error else content), True
        finally:
            ctx.tool_calls.pop(call_id, None)
