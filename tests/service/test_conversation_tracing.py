"""Per-turn spans of the conversation service: the tree under the Converse call span, barge-in,
a stream cancelled mid-turn, and no OpenTelemetry at all when spans are off."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import duration_pb2
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from realtime.server.platform import tracing
from realtime.server.testing import running_hub
from realtime.v1 import conversation_pb2 as pb
from tests.fake_llm import fake_llm

from .conversation_client import FAST, SERVICES, Session, end, goforward, start, text

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACED = [("traceparent", f"00-{TRACE}-{PARENT}-01")]
CONVERSE = "realtime.v1.ConversationService/Converse"
LONG = "Hello there. Please hold on while I explain that nobody here wants to buy anything today, thank you."
ORDER_TOOL = pb.ToolDeclaration(
    name="get_order_status",
    description="Look up an order by its number",
    parameters_json=json.dumps({"type": "object", "properties": {"order_id": {"type": "string"}}}),
)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class _Tracker(SpanProcessor):
    """Every span started and every span ended, by span id (an open span is started only)."""

    started: dict[int, str] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.ended.add(span.context.span_id)

    def open_spans(self) -> list[str]:
        return [name for sid, name in self.started.items() if sid not in self.ended]


@dataclass
class Traced:
    exporter: InMemorySpanExporter
    tracker: _Tracker

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name == name]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        pid = parent.context.span_id
        return [
            s for s in self.exporter.get_finished_spans() if s.parent is not None and s.parent.span_id == pid
        ]

    def turns(self) -> dict[int, ReadableSpan]:
        return {attrs(s)["realtime.turn.id"]: s for s in self.named("conversation.turn")}

    def stages(self, turn: ReadableSpan) -> dict[str, list[ReadableSpan]]:
        found: dict[str, list[ReadableSpan]] = {}
        for child in sorted(self.children(turn), key=lambda s: s.start_time or 0):
            found.setdefault(child.name.removeprefix("conversation."), []).append(child)
        return found


@pytest.fixture
def traced() -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter=exporter)
    tracker = _Tracker()
    assert tracing.spans is not None
    tracing.spans.provider.add_span_processor(tracker)
    yield Traced(exporter, tracker)
    tracing.disable()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


async def reply_played(s: Session, turn: int) -> None:
    """Until the whole reply of `turn` went out: its `reply`, and the last chunk of every
    sentence (`reply_audio.last` closes one sentence's audio, not the turn's)."""

    def of(kind: str) -> list[Any]:
        return [
            getattr(e, kind)
            for e in s.events
            if e.WhichOneof("event") == kind and getattr(e, kind).turn == turn
        ]

    def played(_: Any) -> bool:
        sentences = len(of("reply_segment"))
        return bool(of("reply")) and sum(a.last for a in of("reply_audio")) == sentences > 0

    await s.until(played, timeout=60)


def the_call(t: Traced) -> ReadableSpan:
    (call,) = t.named(CONVERSE)
    assert call.context is not None
    assert (f"{call.context.trace_id:032x}", f"{call.parent.span_id:016x}" if call.parent else "") == (
        TRACE,
        PARENT,
    )
    return call


def check_turn(t: Traced, call: ReadableSpan, span: ReadableSpan, **expected: Any) -> dict[str, Any]:
    """The turn is a child of the call in the caller's trace with the `expected` attributes."""
    assert span.context is not None and call.context is not None
    assert span.context.trace_id == call.context.trace_id
    assert span.parent is not None and span.parent.span_id == call.context.span_id
    a = attrs(span)
    for key, value in expected.items():
        assert a[f"realtime.turn.{key}"] == value, (key, a)
    for child in t.children(span):  # every stage lies within its turn
        assert span.start_time is not None and span.end_time is not None
        assert child.start_time is not None and child.end_time is not None
        assert span.start_time <= child.start_time <= child.end_time <= span.end_time, child.name
    return a


def no_words(t: Traced, *words: str) -> None:
    """No span holds what was said or answered (lengths only)."""
    for span in t.exporter.get_finished_spans():
        values = [*attrs(span).values()] + [v for e in span.events for v in (e.attributes or {}).values()]
        for value in values:  # the strings: engine names, intents, outcomes, ids
            for word in words:
                assert not isinstance(value, str) or word not in value.lower(), (span.name, value)


async def test_text_and_spoken_turns_make_a_span_tree_under_the_call(tmp_path: Path, traced: Traced) -> None:
    asked = "where is order 77"
    async with fake_llm(token_delay_s=0.01) as fake:
        conf = {**FAST, "responder": "chat", "hosted_base_url": fake.base_url}
        async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
            async with h.client("alice") as client:
                s = Session(client, metadata=TRACED)
                assistant = pb.AssistantSettings(
                    tools=[ORDER_TOOL], tool_timeout=duration_pb2.Duration(seconds=5)
                )
                s.send(start(assistant=assistant))
                await s.until_kind("ready")
                s.send(text(asked))
                call_id = (await s.until_kind("tool_call")).tool_call.call_id
                result = json.dumps({"order_id": "77", "status": "delivered"})
                s.send(
                    pb.ConverseRequest(
                        id="r", tool_result=pb.ToolResultCommand(call_id=call_id, content=result)
                    )
                )
                await reply_played(s, 1_000_001)
                seq = await s.send_audio(goforward())
                await s.send_audio(b"\0" * 32_000, first_seq=seq)
                await reply_played(s, 1)
                s.send(end())
                await s.finished(timeout=60)
    call = the_call(traced)
    turns = traced.turns()
    assert sorted(turns) == [1, 1_000_001]
    typed = check_turn(
        traced, call, turns[1_000_001], input="text", index=1, outcome="replied", transcript_chars=len(asked)
    )
    assert typed["realtime.turn.first_audio_ms"] >= 0
    stages = traced.stages(turns[1_000_001])
    assert sorted(stages) == ["play", "respond", "tool", "tts"]  # typed: no recognition
    (respond,), (tool,), (play,) = stages["respond"], stages["tool"], stages["play"]
    assert attrs(respond)["realtime.respond.engine"] == "llm"
    assert attrs(respond)["realtime.respond.tool_calls"] == 1
    assert attrs(respond)["realtime.respond.segments"] == len(stages["tts"])
    assert attrs(tool) == {"realtime.tool.name": "get_order_status", "realtime.tool.result": "answered"}
    assert [attrs(x)["realtime.tts.segment"] for x in stages["tts"]] == list(range(1, len(stages["tts"]) + 1))
    assert all(
        attrs(x)["realtime.tts.engine"] == "espeak" and attrs(x)["realtime.tts.audio_seconds"] > 0
        for x in stages["tts"]
    )
    assert attrs(play)["realtime.play.audio_seconds"] > 0
    assert "first_audio" in event_names(turns[1_000_001])

    spoken = check_turn(traced, call, turns[1], input="audio", index=2, outcome="replied")
    stages = traced.stages(turns[1])
    assert sorted(stages) == ["play", "respond", "stt", "tts"]
    (stt,), (respond,) = stages["stt"], stages["respond"]
    a = attrs(stt)
    assert a["realtime.stt.engine"] == "pocketsphinx" and a["realtime.stt.fallback"] is False
    assert a["realtime.stt.audio_seconds"] > 1.0  # the utterance (about 3 s) went to the recogniser
    assert a["realtime.stt.transcript_chars"] == spoken["realtime.turn.transcript_chars"] > 0
    assert a["realtime.stt.finalize_ms"] >= 0
    assert stt.end_time is not None and respond.start_time is not None
    assert stt.end_time <= respond.start_time  # the stages follow each other, as in the pipeline
    assert event_names(turns[1])[:1] == ["speech_stopped"] and "first_audio" in event_names(turns[1])
    assert "realtime.stage.ended_by" not in {k for x in traced.children(turns[1]) for k in attrs(x)}
    no_words(traced, "forward", "where is", "delivered", "order 77")
    assert traced.tracker.open_spans() == []


async def test_barge_in_ends_the_interrupted_turn(tmp_path: Path, traced: Traced) -> None:
    conf = {**FAST, "min_interrupt_ms": 400, "playback_lead_ms": 60}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client, metadata=TRACED)
            s.send(start())
            await s.until_kind("ready")
            s.send(text(LONG))
            await s.until_kind("reply_audio")
            seq = await s.send_audio(goforward())  # real speech over the reply
            interrupted = (await s.until_kind("interrupted")).interrupted
            await s.send_audio(b"\0" * 32_000, first_seq=seq)
            await reply_played(s, 1)
            s.send(end())
            await s.finished(timeout=60)
    assert interrupted.turn == 1_000_001
    call = the_call(traced)
    turns = traced.turns()
    check_turn(traced, call, turns[1_000_001], input="text", outcome="barged-in")
    cut = traced.stages(turns[1_000_001])
    (play,) = cut["play"]
    assert attrs(play)["realtime.stage.ended_by"] == "barged-in"
    assert "realtime.play.audio_seconds" not in attrs(play)  # it never finished
    assert attrs(cut["respond"][0]).get("realtime.stage.ended_by") is None  # the reply text was complete
    # The interrupting speech is the next turn, answered in full.
    check_turn(traced, call, turns[1], input="audio", outcome="replied")
    assert "stt" in traced.stages(turns[1])
    assert traced.tracker.open_spans() == []


async def test_a_stream_cancelled_mid_turn_closes_every_span(tmp_path: Path, traced: Traced) -> None:
    conf = {**FAST, "playback_lead_ms": 60}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            playing = Session(client, metadata=TRACED)
            playing.send(start())
            await playing.until_kind("ready")
            playing.send(text(LONG))
            await playing.until_kind("reply_audio")  # the reply plays (for seconds) ...
            await playing.aclose()  # ... when the caller hangs up
            hearing = Session(client, metadata=TRACED)
            hearing.send(start())
            await hearing.until_kind("ready")
            # 2.2 s at real-time pace (partial transcripts come every 300 ms of wall time): the
            # recogniser is streaming the utterance, and the caller is mid-sentence ...
            await hearing.send_audio(goforward()[: 110 * 640], pace_s=0.02)
            await hearing.until(lambda e: e.WhichOneof("event") == "transcript" and not e.transcript.final)
            await hearing.aclose()  # ... when the stream ends
    # Both conversations were closed in full: no stage of theirs runs on.
    assert not [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("conversation-")]
    turns = traced.named("conversation.turn")
    by_input = {attrs(t)["realtime.turn.input"]: t for t in turns}
    assert len(turns) == 2 and sorted(by_input) == ["audio", "text"]
    assert {attrs(t)["realtime.turn.outcome"] for t in turns} == {"cancelled"}
    play = traced.stages(by_input["text"])["play"][0]
    assert attrs(play)["realtime.stage.ended_by"] == "cancelled"
    stt = traced.stages(by_input["audio"])["stt"][0]
    assert attrs(stt)["realtime.stage.ended_by"] == "cancelled"
    assert "realtime.stt.transcript_chars" not in attrs(stt)
    assert traced.tracker.open_spans() == []
    assert len(traced.named(CONVERSE)) == 2


def test_without_spans_a_conversation_never_imports_opentelemetry(tmp_path: Path) -> None:
    """Tracing off (no --otlp-endpoint): a typed and a spoken turn, end to end, with a
    traceparent, and not one OpenTelemetry module (so not one span object) in the process."""
    script = f"""
import asyncio, json, sys
from pathlib import Path
from realtime.server.testing import running_hub
from tests.service.conversation_client import FAST, SERVICES, Session, end, goforward, start, text

async def main():
    md = [("traceparent", {TRACED[0][1]!r})]
    async with running_hub(Path({str(tmp_path)!r}), services=SERVICES, extra={{"conversation": FAST}}) as h:
        async with h.client("alice") as client:
            s = Session(client, metadata=md)
            s.send(start(), text("Hello there"))
            await s.until(lambda e: e.WhichOneof("event") == "reply_audio" and e.reply_audio.last)
            seq = await s.send_audio(goforward())
            await s.send_audio(b"\\0" * 32_000, first_seq=seq)
            await s.until(lambda e: e.WhichOneof("event") == "reply" and e.reply.turn == 1)
            s.send(end())
            await s.finished(timeout=60)
    print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
