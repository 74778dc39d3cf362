"""What the conversation tells the client. `service.py` turns these into protobuf events."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..platform.errors import HubError


@dataclass
class Ready:
    session_id: str
    sample_rate: int
    chunk_ms: int
    stt_engine: str
    tts_engine: str
    vad_engine: str
    responder: str
    command_id: str = ""
    encoding: str = "PCM16LE"


@dataclass
class SpeechStarted:
    turn: int
    audio_ms: float


@dataclass
class SpeechStopped:
    turn: int
    audio_ms: float
    ignored: bool  # too short to count while a reply was playing (back-channel, noise)


@dataclass
class Transcript:
    turn: int
    text: str
    confidence: float
    final: bool


@dataclass
class Reply:
    turn: int
    text: str
    intent: str
    confidence: float
    should_terminate: bool
    responder: str = "canned"  # "llm", "canned" or "greeting"
    fallback: bool = False  # the canned responder answered because the model failed


@dataclass
class ReplySegment:
    turn: int
    segment: int
    text: str


@dataclass
class ToolCall:
    turn: int
    call_id: str
    name: str
    arguments_json: str
    deadline_s: float


@dataclass
class ReplyAudio:
    turn: int
    sequence: int
    pcm: bytes
    sample_rate: int
    last: bool


@dataclass
class Interrupted:
    turn: int  # the turn whose reply was cut off
    audio_sent_ms: float  # how much of that reply's audio the client had been sent


@dataclass
class Status:
    stage: str  # LISTENING, TRANSCRIBING, RESPONDING, SYNTHESIZING, SPEAKING, IDLE
    reason: str = ""  # UPPER_SNAKE notice: THROTTLED, ENGINE_FALLBACK, AUDIO_GAP, NO_SPEECH...
    message: str = ""
    queue_depth: int = 0
    queue_capacity: int = 0
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class Latency:
    turn: int
    endpointing_ms: float  # end of speech -> utterance closed (the VAD's silence wait)
    transcript_ms: float  # end of speech -> final transcript
    reply_ms: float  # end of speech -> reply text
    first_audio_ms: float  # end of speech -> first reply audio sent
    stages_ms: dict[str, float]  # per stage compute: stt, responder, tts, ...


@dataclass
class AudioGap:
    first_missing: int
    last_missing: int


@dataclass
class Error:
    error: HubError
    command_id: str = ""


@dataclass
class Pong:
    command_id: str


@dataclass
class Ended:
    reason: str  # CLIENT_ENDED, IDLE_TIMEOUT, CONVERSATION_COMPLETE, SHUTDOWN
    message: str


@dataclass
class GoingAway:
    reason: str
    grace_s: float


Event = (
    Ready
    | SpeechStarted
    | SpeechStopped
    | Transcript
    | Reply
    | ReplySegment
    | ToolCall
    | ReplyAudio
    | Interrupted
    | Status
    | Latency
    | AudioGap
    | Error
    | Pong
    | Ended
    | GoingAway
)
