"""Every frame that flows through the pipeline (Pipecat's model).

System frames are handled at once by every stage and overtake queued data; data and
control frames wait in each stage's bounded queue, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .audio import Pcm


@dataclass
class Frame:
    pass


@dataclass
class SystemFrame(Frame):
    """Handled by a stage as soon as it arrives, before anything queued."""


@dataclass
class InterruptionFrame(SystemFrame):
    """The caller spoke over the reply: stages after speech recognition drop their work."""

    turn: int


@dataclass
class DataFrame(Frame):
    pass


@dataclass
class ControlFrame(Frame):
    """Ordered with data; survives an interruption's flush (it is not reply data)."""


@dataclass
class TurnTiming:
    """Clock readings (seconds) of one turn, filled in as the turn moves through the stages."""

    last_voiced_at: float = 0.0  # the caller's speech really ended (last voiced window arrived)
    stopped_at: float = 0.0  # the VAD decided the utterance is over (after the endpointing wait)
    final_at: float = 0.0  # final transcript ready
    reply_at: float = 0.0  # reply text ready
    synthesized_at: float = 0.0  # reply audio ready
    first_audio_at: float = 0.0  # first reply audio chunk handed to the client
    stt_engine: str = ""
    tts_engine: str = ""
    responder: str = ""
    cache: str = ""  # "l1", "l2" or "miss"


@dataclass
class AudioFrame(DataFrame):
    """Caller audio at the pipeline rate (16 kHz)."""

    pcm: Pcm
    received_at: float


@dataclass
class SpeechStartedFrame(ControlFrame):
    turn: int
    audio_ms: float  # position in the caller's audio where speech began
    during_reply: bool  # the caller started while a reply was pending or playing


@dataclass
class SpeechStoppedFrame(ControlFrame):
    turn: int
    audio_ms: float
    timing: TurnTiming
    discard: bool = False  # too short to interrupt the reply: not a turn
    cut: bool = False  # cut at the maximum utterance length


@dataclass
class TranscriptFrame(DataFrame):
    turn: int
    text: str
    confidence: float
    timing: TurnTiming
    typed: bool = False  # from a text command, not speech


@dataclass
class ReplyFrame(DataFrame):
    turn: int
    text: str
    intent: str
    confidence: float
    should_terminate: bool
    timing: TurnTiming
    segment: int = 1  # the sentence's number within the turn's reply


@dataclass
class ReplyEndFrame(DataFrame):
    """The turn's reply is complete (every segment was sent before this)."""

    turn: int
    should_terminate: bool
    intent: str


@dataclass
class GreetingFrame(DataFrame):
    """Speak the assistant's greeting (turn 0) at the start of the call."""

    text: str


@dataclass
class ReplyAudioFrame(DataFrame):
    reply: ReplyFrame
    pcm: Pcm  # at the session's sample rate


@dataclass
class EndFrame(ControlFrame):
    """No more input: every stage finishes what is queued before it, then passes this on."""

    reason: str = "CLIENT_ENDED"
    extras: dict[str, str] = field(default_factory=dict)
