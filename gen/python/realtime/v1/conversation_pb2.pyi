import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from realtime.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM16LE: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_MULAW: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_ALAW: _ClassVar[AudioEncoding]

class ConversationStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_STAGE_UNSPECIFIED: _ClassVar[ConversationStage]
    CONVERSATION_STAGE_LISTENING: _ClassVar[ConversationStage]
    CONVERSATION_STAGE_TRANSCRIBING: _ClassVar[ConversationStage]
    CONVERSATION_STAGE_RESPONDING: _ClassVar[ConversationStage]
    CONVERSATION_STAGE_SYNTHESIZING: _ClassVar[ConversationStage]
    CONVERSATION_STAGE_SPEAKING: _ClassVar[ConversationStage]

class EndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    END_REASON_UNSPECIFIED: _ClassVar[EndReason]
    END_REASON_CLIENT_ENDED: _ClassVar[EndReason]
    END_REASON_IDLE_TIMEOUT: _ClassVar[EndReason]
    END_REASON_CONVERSATION_COMPLETE: _ClassVar[EndReason]
    END_REASON_SHUTDOWN: _ClassVar[EndReason]
    END_REASON_ERROR: _ClassVar[EndReason]
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_PCM16LE: AudioEncoding
AUDIO_ENCODING_MULAW: AudioEncoding
AUDIO_ENCODING_ALAW: AudioEncoding
CONVERSATION_STAGE_UNSPECIFIED: ConversationStage
CONVERSATION_STAGE_LISTENING: ConversationStage
CONVERSATION_STAGE_TRANSCRIBING: ConversationStage
CONVERSATION_STAGE_RESPONDING: ConversationStage
CONVERSATION_STAGE_SYNTHESIZING: ConversationStage
CONVERSATION_STAGE_SPEAKING: ConversationStage
END_REASON_UNSPECIFIED: EndReason
END_REASON_CLIENT_ENDED: EndReason
END_REASON_IDLE_TIMEOUT: EndReason
END_REASON_CONVERSATION_COMPLETE: EndReason
END_REASON_SHUTDOWN: EndReason
END_REASON_ERROR: EndReason

class AudioFormat(_message.Message):
    __slots__ = ("encoding", "sample_rate_hz", "chunk_ms", "channels")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHUNK_MS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    encoding: AudioEncoding
    sample_rate_hz: int
    chunk_ms: int
    channels: int
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., chunk_ms: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class StartCommand(_message.Message):
    __slots__ = ("format", "caller_number", "caller_name", "callee_name", "profile", "language", "voice", "assistant")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    CALLEE_NAME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_FIELD_NUMBER: _ClassVar[int]
    format: AudioFormat
    caller_number: str
    caller_name: str
    callee_name: str
    profile: str
    language: str
    voice: str
    assistant: AssistantSettings
    def __init__(self, format: _Optional[_Union[AudioFormat, _Mapping]] = ..., caller_number: _Optional[str] = ..., caller_name: _Optional[str] = ..., callee_name: _Optional[str] = ..., profile: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ..., assistant: _Optional[_Union[AssistantSettings, _Mapping]] = ...) -> None: ...

class AssistantSettings(_message.Message):
    __slots__ = ("system_prompt", "greeting", "max_turns", "end_phrases", "tools", "tool_timeout", "tool_filler", "no_greeting")
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    GREETING_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    END_PHRASES_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOOL_FILLER_FIELD_NUMBER: _ClassVar[int]
    NO_GREETING_FIELD_NUMBER: _ClassVar[int]
    system_prompt: str
    greeting: str
    max_turns: int
    end_phrases: _containers.RepeatedScalarFieldContainer[str]
    tools: _containers.RepeatedCompositeFieldContainer[ToolDeclaration]
    tool_timeout: _duration_pb2.Duration
    tool_filler: str
    no_greeting: bool
    def __init__(self, system_prompt: _Optional[str] = ..., greeting: _Optional[str] = ..., max_turns: _Optional[int] = ..., end_phrases: _Optional[_Iterable[str]] = ..., tools: _Optional[_Iterable[_Union[ToolDeclaration, _Mapping]]] = ..., tool_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tool_filler: _Optional[str] = ..., no_greeting: _Optional[bool] = ...) -> None: ...

class ToolDeclaration(_message.Message):
    __slots__ = ("name", "description", "parameters_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters_json: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class ToolResultCommand(_message.Message):
    __slots__ = ("call_id", "content", "is_error")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    content: str
    is_error: bool
    def __init__(self, call_id: _Optional[str] = ..., content: _Optional[str] = ..., is_error: _Optional[bool] = ...) -> None: ...

class AudioCommand(_message.Message):
    __slots__ = ("sequence", "data")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    data: bytes
    def __init__(self, sequence: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class TextCommand(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class EndCommand(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("id", "start", "audio", "text", "end", "ping", "tool_result")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    id: str
    start: StartCommand
    audio: AudioCommand
    text: TextCommand
    end: EndCommand
    ping: _common_pb2.PingCommand
    tool_result: ToolResultCommand
    def __init__(self, id: _Optional[str] = ..., start: _Optional[_Union[StartCommand, _Mapping]] = ..., audio: _Optional[_Union[AudioCommand, _Mapping]] = ..., text: _Optional[_Union[TextCommand, _Mapping]] = ..., end: _Optional[_Union[EndCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResultCommand, _Mapping]] = ...) -> None: ...

class ReadyEvent(_message.Message):
    __slots__ = ("session_id", "format", "stt_engine", "tts_engine", "vad_engine", "responder")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STT_ENGINE_FIELD_NUMBER: _ClassVar[int]
    TTS_ENGINE_FIELD_NUMBER: _ClassVar[int]
    VAD_ENGINE_FIELD_NUMBER: _ClassVar[int]
    RESPONDER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    format: AudioFormat
    stt_engine: str
    tts_engine: str
    vad_engine: str
    responder: str
    def __init__(self, session_id: _Optional[str] = ..., format: _Optional[_Union[AudioFormat, _Mapping]] = ..., stt_engine: _Optional[str] = ..., tts_engine: _Optional[str] = ..., vad_engine: _Optional[str] = ..., responder: _Optional[str] = ...) -> None: ...

class SpeechStartedEvent(_message.Message):
    __slots__ = ("turn", "audio_offset")
    TURN_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    turn: int
    audio_offset: _duration_pb2.Duration
    def __init__(self, turn: _Optional[int] = ..., audio_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SpeechStoppedEvent(_message.Message):
    __slots__ = ("turn", "audio_offset", "ignored")
    TURN_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    turn: int
    audio_offset: _duration_pb2.Duration
    ignored: bool
    def __init__(self, turn: _Optional[int] = ..., audio_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., ignored: _Optional[bool] = ...) -> None: ...

class TranscriptEvent(_message.Message):
    __slots__ = ("turn", "text", "confidence", "final")
    TURN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    turn: int
    text: str
    confidence: float
    final: bool
    def __init__(self, turn: _Optional[int] = ..., text: _Optional[str] = ..., confidence: _Optional[float] = ..., final: _Optional[bool] = ...) -> None: ...

class ReplyEvent(_message.Message):
    __slots__ = ("turn", "text", "confidence", "intent", "should_terminate", "responder", "fallback")
    TURN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SHOULD_TERMINATE_FIELD_NUMBER: _ClassVar[int]
    RESPONDER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    turn: int
    text: str
    confidence: float
    intent: str
    should_terminate: bool
    responder: str
    fallback: bool
    def __init__(self, turn: _Optional[int] = ..., text: _Optional[str] = ..., confidence: _Optional[float] = ..., intent: _Optional[str] = ..., should_terminate: _Optional[bool] = ..., responder: _Optional[str] = ..., fallback: _Optional[bool] = ...) -> None: ...

class ReplySegmentEvent(_message.Message):
    __slots__ = ("turn", "segment", "text")
    TURN_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    turn: int
    segment: int
    text: str
    def __init__(self, turn: _Optional[int] = ..., segment: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class ToolCallEvent(_message.Message):
    __slots__ = ("turn", "call_id", "name", "arguments_json", "deadline")
    TURN_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    turn: int
    call_id: str
    name: str
    arguments_json: str
    deadline: _duration_pb2.Duration
    def __init__(self, turn: _Optional[int] = ..., call_id: _Optional[str] = ..., name: _Optional[str] = ..., arguments_json: _Optional[str] = ..., deadline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReplyAudioEvent(_message.Message):
    __slots__ = ("turn", "sequence", "data", "last")
    TURN_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    turn: int
    sequence: int
    data: bytes
    last: bool
    def __init__(self, turn: _Optional[int] = ..., sequence: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class InterruptedEvent(_message.Message):
    __slots__ = ("turn", "audio_sent")
    TURN_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SENT_FIELD_NUMBER: _ClassVar[int]
    turn: int
    audio_sent: _duration_pb2.Duration
    def __init__(self, turn: _Optional[int] = ..., audio_sent: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StatusEvent(_message.Message):
    __slots__ = ("stage", "reason", "message", "queue_depth", "queue_capacity", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    stage: ConversationStage
    reason: str
    message: str
    queue_depth: int
    queue_capacity: int
    details: _containers.ScalarMap[str, str]
    def __init__(self, stage: _Optional[_Union[ConversationStage, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., queue_depth: _Optional[int] = ..., queue_capacity: _Optional[int] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LatencyEvent(_message.Message):
    __slots__ = ("turn", "endpointing", "to_transcript", "to_reply", "to_first_audio", "stages")
    class StagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _duration_pb2.Duration
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    TURN_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTING_FIELD_NUMBER: _ClassVar[int]
    TO_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TO_REPLY_FIELD_NUMBER: _ClassVar[int]
    TO_FIRST_AUDIO_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    turn: int
    endpointing: _duration_pb2.Duration
    to_transcript: _duration_pb2.Duration
    to_reply: _duration_pb2.Duration
    to_first_audio: _duration_pb2.Duration
    stages: _containers.MessageMap[str, _duration_pb2.Duration]
    def __init__(self, turn: _Optional[int] = ..., endpointing: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., to_transcript: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., to_reply: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., to_first_audio: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stages: _Optional[_Mapping[str, _duration_pb2.Duration]] = ...) -> None: ...

class AudioGapEvent(_message.Message):
    __slots__ = ("first_missing", "last_missing")
    FIRST_MISSING_FIELD_NUMBER: _ClassVar[int]
    LAST_MISSING_FIELD_NUMBER: _ClassVar[int]
    first_missing: int
    last_missing: int
    def __init__(self, first_missing: _Optional[int] = ..., last_missing: _Optional[int] = ...) -> None: ...

class EndedEvent(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: EndReason
    message: str
    def __init__(self, reason: _Optional[_Union[EndReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("command_id", "ready", "speech_started", "speech_stopped", "transcript", "reply", "reply_audio", "interrupted", "status", "latency", "gap", "error", "pong", "going_away", "ended", "reply_segment", "tool_call")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STARTED_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STOPPED_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    REPLY_AUDIO_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    REPLY_SEGMENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    ready: ReadyEvent
    speech_started: SpeechStartedEvent
    speech_stopped: SpeechStoppedEvent
    transcript: TranscriptEvent
    reply: ReplyEvent
    reply_audio: ReplyAudioEvent
    interrupted: InterruptedEvent
    status: StatusEvent
    latency: LatencyEvent
    gap: AudioGapEvent
    error: _common_pb2.ErrorEvent
    pong: _common_pb2.PongEvent
    going_away: _common_pb2.GoingAwayEvent
    ended: EndedEvent
    reply_segment: ReplySegmentEvent
    tool_call: ToolCallEvent
    def __init__(self, command_id: _Optional[str] = ..., ready: _Optional[_Union[ReadyEvent, _Mapping]] = ..., speech_started: _Optional[_Union[SpeechStartedEvent, _Mapping]] = ..., speech_stopped: _Optional[_Union[SpeechStoppedEvent, _Mapping]] = ..., transcript: _Optional[_Union[TranscriptEvent, _Mapping]] = ..., reply: _Optional[_Union[ReplyEvent, _Mapping]] = ..., reply_audio: _Optional[_Union[ReplyAudioEvent, _Mapping]] = ..., interrupted: _Optional[_Union[InterruptedEvent, _Mapping]] = ..., status: _Optional[_Union[StatusEvent, _Mapping]] = ..., latency: _Optional[_Union[LatencyEvent, _Mapping]] = ..., gap: _Optional[_Union[AudioGapEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ..., ended: _Optional[_Union[EndedEvent, _Mapping]] = ..., reply_segment: _Optional[_Union[ReplySegmentEvent, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCallEvent, _Mapping]] = ...) -> None: ...
