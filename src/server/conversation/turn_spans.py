"""Per-turn spans of one conversation, made only when spans are on (`tracing.spans`).

A `conversation.turn` span per user turn, a child of the Converse call span, from the moment
the turn exists (the VAD heard speech, or a text command came) until it ends with an outcome:

    replied        the reply's last audio went to the client
    barged-in      the caller spoke over the reply (or over its preparation)
    cancelled      the stream ended first
    error          a stage failed (that stage's span has the error status)
    ignored        speech during a reply, too short to interrupt it (a back-channel)
    no_transcript  speech was heard but the recogniser found no words

Its children follow the pipeline's stages: `conversation.stt`, `conversation.respond`,
`conversation.tool` (one per tool call), `conversation.tts` (one per reply sentence) and
`conversation.play`. Ending a turn ends whatever of its children is still open, so a turn cut
short leaves no open span. Spans are started and ended by the stages on the event loop; the
engines' pools never see them. Nothing here records text, only lengths.

When spans are off the stages hold `None` instead of a `TurnSpans` and skip every call (one
test each); this module never imports OpenTelemetry (the span objects come from `tracing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..platform.errors import HubError

Attributes = Mapping[str, Any] | None

REPLIED = "replied"
BARGED_IN = "barged-in"
CANCELLED = "cancelled"
ERROR = "error"
IGNORED = "ignored"
NO_TRANSCRIPT = "no_transcript"


def failure(err: BaseException) -> str:
    """A span status message for `err` that carries no caller data (codes, not messages)."""
    if isinstance(err, HubError):
        return f"{err.code.name}: {err.reason}"
    return type(err).__name__


class _Turn:
    __slots__ = ("children", "past_stt", "span")

    def __init__(self, span: Any) -> None:
        self.span = span
        self.children: dict[str, Any] = {}
        self.past_stt = False  # the transcript went on to the responder: a barge-in drops it


class TurnSpans:
    """The open turns of one conversation and their stage spans, by turn number."""

    def __init__(self, spans: Any, parent: str, conversation_id: str) -> None:
        self._spans = spans  # tracing._Spans
        self._parent = parent  # the Converse call span's traceparent
        self._conversation = conversation_id
        self._open: dict[int, _Turn] = {}
        self._index = 0
        self._closed = False

    @property
    def open_turns(self) -> list[int]:
        return list(self._open)

    def begin(self, turn: int, kind: str) -> None:
        """Turn `turn` exists: `kind` is "audio" (the VAD heard speech) or "text"."""
        if self._closed:  # the stream ended; a stage still draining its queue starts nothing
            return
        if turn in self._open:  # a turn number is never reused; if it were, close the old one
            self.end(turn, CANCELLED)
        self._index += 1
        attributes = {
            "realtime.conversation.id": self._conversation,
            "realtime.turn.id": turn,
            "realtime.turn.index": self._index,
            "realtime.turn.input": kind,
        }
        self._open[turn] = _Turn(self._spans.start_child("conversation.turn", self._parent, attributes))

    def start(self, turn: int, stage: str, attributes: Attributes = None, *, key: str = "") -> None:
        """Open the `conversation.<stage>` span of an open turn (`key` tells apart several)."""
        t = self._open.get(turn)
        if t is None:
            return
        slot = key or stage
        stale = t.children.pop(slot, None)
        if stale is not None:
            stale.end()
        t.children[slot] = self._spans.start_child(f"conversation.{stage}", t.span, attributes or {})

    def finish(self, turn: int, stage: str, attributes: Attributes = None, *, key: str = "") -> None:
        """Close a stage span that completed, with what it found out."""
        t = self._open.get(turn)
        child = None if t is None else t.children.pop(key or stage, None)
        if child is None:
            return
        if attributes:
            child.set_attributes(attributes)
        child.end()

    def note(self, turn: int, attributes: Mapping[str, Any]) -> None:
        """Attributes of the turn span."""
        t = self._open.get(turn)
        if t is not None:
            t.span.set_attributes(attributes)

    def event(self, turn: int, name: str, attributes: Attributes = None) -> None:
        t = self._open.get(turn)
        if t is not None:
            t.span.add_event(name, attributes or {})

    def handed_on(self, turn: int) -> None:
        """The turn's transcript went on to the responder (from here a barge-in drops it)."""
        t = self._open.get(turn)
        if t is not None:
            t.past_stt = True

    def end(self, turn: int, outcome: str, message: str = "") -> None:
        t = self._open.pop(turn, None)
        if t is None:
            return
        for child in t.children.values():
            child.set_attribute("realtime.stage.ended_by", outcome)  # cut short, not completed
            child.end()
        t.span.set_attribute("realtime.turn.outcome", outcome)
        if outcome == ERROR:
            self._spans.fail(t.span, message)
        t.span.end()

    def fail(self, turn: int, stage: str, err: BaseException) -> None:
        """`stage` failed with `err`: its span gets the error status and the turn ends in error."""
        t = self._open.get(turn)
        if t is None:
            return
        message = failure(err)
        child = t.children.get(stage)
        if child is not None:
            self._spans.fail(child, message)
        self.end(turn, ERROR, message)

    def barged_in(self, by_turn: int) -> None:
        """Turn `by_turn` interrupted the reply: every turn past speech recognition is dropped."""
        for turn in [n for n, t in self._open.items() if t.past_stt and n != by_turn]:
            self.end(turn, BARGED_IN)

    def close(self) -> None:
        """The conversation is over: what is still open was cancelled (and nothing begins)."""
        self._closed = True
        for turn in list(self._open):
            self.end(turn, CANCELLED)
