"""Turn spans on their own (which turns a barge-in ends, closing, failures) and a stage failure
in a real conversation (the text-to-speech engine raises)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from realtime.server.conversation import events as ev
from realtime.server.conversation.config import ConversationConfig
from realtime.server.conversation.conversation import Conversation, StartParams
from realtime.server.conversation.engines import Engines
from realtime.server.conversation.tts import Speech
from realtime.server.conversation.turn_spans import TurnSpans
from realtime.server.platform import tracing
from realtime.server.platform.errors import unavailable

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    tracing.enable(exporter=found)
    yield found
    tracing.disable()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def outcome(span: ReadableSpan) -> Any:
    return (span.attributes or {}).get("realtime.turn.outcome")


def turns(exporter: InMemorySpanExporter) -> dict[int, ReadableSpan]:
    return {(s.attributes or {})["realtime.turn.id"]: s for s in by_name(exporter)["conversation.turn"]}  # type: ignore[misc]


def test_barge_in_ends_only_the_turns_past_recognition(exporter: InMemorySpanExporter) -> None:
    assert tracing.spans is not None
    t = TurnSpans(tracing.spans, TRACEPARENT, "c1")
    t.begin(1, "audio")  # answered, its reply playing
    t.handed_on(1)
    t.start(1, "play")
    t.begin(1_000_001, "text")  # typed while the reply played: queued for the responder
    t.handed_on(1_000_001)
    t.begin(2, "audio")  # still being recognised when 3 interrupts: it goes on
    t.start(2, "stt")
    t.begin(3, "audio")  # the interrupting speech
    t.handed_on(3)  # (even if it had been handed on, the interrupter is not dropped)
    t.barged_in(3)
    assert sorted(t.open_turns) == [2, 3]
    ended = turns(exporter)
    assert {n: outcome(s) for n, s in ended.items()} == {1: "barged-in", 1_000_001: "barged-in"}
    (play,) = by_name(exporter)["conversation.play"]
    assert (play.attributes or {})["realtime.stage.ended_by"] == "barged-in"
    assert play.parent is not None and ended[1].context is not None
    assert play.parent.span_id == ended[1].context.span_id
    for span in ended.values():  # children of the caller's span, in its trace
        assert span.context is not None and span.parent is not None
        assert f"{span.context.trace_id:032x}" == TRACEPARENT[3:35]
        assert f"{span.parent.span_id:016x}" == TRACEPARENT[36:52]


def test_close_cancels_what_is_open_and_nothing_begins_after(exporter: InMemorySpanExporter) -> None:
    assert tracing.spans is not None
    t = TurnSpans(tracing.spans, "", "c1")
    t.begin(1, "audio")
    t.start(1, "stt", {"realtime.stt.engine": "pocketsphinx"})
    t.begin(2, "text")
    t.start(2, "tts", {"realtime.tts.segment": 1})
    t.close()
    t.begin(3, "audio")  # a stage still draining its queue
    t.start(3, "stt")
    t.finish(1, "stt", {"realtime.stt.transcript_chars": 5})  # late: the turn is gone, no-op
    assert t.open_turns == []
    names = by_name(exporter)
    assert sorted((s.attributes or {})["realtime.turn.id"] for s in names["conversation.turn"]) == [1, 2]  # type: ignore[type-var]
    assert {outcome(s) for s in names["conversation.turn"]} == {"cancelled"}
    for child in names["conversation.stt"] + names["conversation.tts"]:
        assert (child.attributes or {})["realtime.stage.ended_by"] == "cancelled"
    assert "realtime.stt.transcript_chars" not in (names["conversation.stt"][0].attributes or {})


def test_a_failed_stage_fails_its_span_and_its_turn(exporter: InMemorySpanExporter) -> None:
    assert tracing.spans is not None
    t = TurnSpans(tracing.spans, "", "c1")
    t.begin(1, "audio")
    t.start(1, "stt")
    t.fail(1, "stt", unavailable("speech recognition failed: the caller said 'secret'", reason="STT_FAILED"))
    (turn,) = by_name(exporter)["conversation.turn"]
    (stt,) = by_name(exporter)["conversation.stt"]
    assert outcome(turn) == "error"
    for span in (turn, stt):
        assert span.status.status_code == StatusCode.ERROR
        assert span.status.description == "UNAVAILABLE: STT_FAILED"  # codes, never the message


class _SilentTts:
    """A text-to-speech engine that fails every sentence (a hosted engine down, no fallback)."""

    name = "down"

    async def synthesize(self, text: str, voice: str, rate_wpm: int) -> Speech:
        raise unavailable("speech synthesis failed", reason="TTS_FAILED")


async def test_a_synthesis_failure_ends_the_turn_in_error(exporter: InMemorySpanExporter) -> None:
    config = ConversationConfig.load({"stt_prestart": False, "idle_timeout_s": 0})
    engines = Engines(config, tts=_SilentTts())
    conv = Conversation(engines, config)
    conv.open()
    try:
        await conv.start("s", StartParams())
        await conv.text("hello there")
        async with asyncio.timeout(20):
            while not isinstance(event := await conv.next_event(), ev.Error):
                pass
        assert event.error.reason == "TTS_FAILED"
    finally:
        await conv.close()
        await engines.close()
    names = by_name(exporter)
    (turn,) = names["conversation.turn"]
    assert outcome(turn) == "error" and turn.status.status_code == StatusCode.ERROR
    (respond,) = names["conversation.respond"]  # the reply text was ready
    assert respond.status.status_code == StatusCode.UNSET
    (tts,) = names["conversation.tts"]
    assert tts.status.description == "UNAVAILABLE: TTS_FAILED"
    assert "conversation.play" not in names
