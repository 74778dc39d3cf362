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

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_UNSPECIFIED: _ClassVar[Operation]
    OPERATION_FIX_LAYOUT: _ClassVar[Operation]
    OPERATION_CLEAN: _ClassVar[Operation]

class SuggestionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUGGESTION_KIND_UNSPECIFIED: _ClassVar[SuggestionKind]
    SUGGESTION_KIND_LAYOUT: _ClassVar[SuggestionKind]
    SUGGESTION_KIND_CLEAN: _ClassVar[SuggestionKind]

class SupersededReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUPERSEDED_REASON_UNSPECIFIED: _ClassVar[SupersededReason]
    SUPERSEDED_REASON_DEBOUNCED: _ClassVar[SupersededReason]
    SUPERSEDED_REASON_CANCELLED: _ClassVar[SupersededReason]
OPERATION_UNSPECIFIED: Operation
OPERATION_FIX_LAYOUT: Operation
OPERATION_CLEAN: Operation
SUGGESTION_KIND_UNSPECIFIED: SuggestionKind
SUGGESTION_KIND_LAYOUT: SuggestionKind
SUGGESTION_KIND_CLEAN: SuggestionKind
SUPERSEDED_REASON_UNSPECIFIED: SupersededReason
SUPERSEDED_REASON_DEBOUNCED: SupersededReason
SUPERSEDED_REASON_CANCELLED: SupersededReason

class FixOptions(_message.Message):
    __slots__ = ("language_hints", "context")
    LANGUAGE_HINTS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    language_hints: _containers.RepeatedScalarFieldContainer[str]
    context: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, language_hints: _Optional[_Iterable[str]] = ..., context: _Optional[_Iterable[str]] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("offset", "length", "replacement", "kind", "confidence", "message")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    replacement: str
    kind: SuggestionKind
    confidence: float
    message: str
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ..., replacement: _Optional[str] = ..., kind: _Optional[_Union[SuggestionKind, str]] = ..., confidence: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class TextFix(_message.Message):
    __slots__ = ("text", "suggestions", "compute_time", "decision")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    text: str
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    compute_time: _duration_pb2.Duration
    decision: LanguageDecision
    def __init__(self, text: _Optional[str] = ..., suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ..., compute_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., decision: _Optional[_Union[LanguageDecision, _Mapping]] = ...) -> None: ...

class LanguageDecision(_message.Message):
    __slots__ = ("language", "confidence", "reason")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    language: str
    confidence: float
    reason: str
    def __init__(self, language: _Optional[str] = ..., confidence: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class FixTextRequest(_message.Message):
    __slots__ = ("text", "operations", "options")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    text: str
    operations: _containers.RepeatedScalarFieldContainer[Operation]
    options: FixOptions
    def __init__(self, text: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[Operation, str]]] = ..., options: _Optional[_Union[FixOptions, _Mapping]] = ...) -> None: ...

class FixTextResponse(_message.Message):
    __slots__ = ("fix",)
    FIX_FIELD_NUMBER: _ClassVar[int]
    fix: TextFix
    def __init__(self, fix: _Optional[_Union[TextFix, _Mapping]] = ...) -> None: ...

class FixTextBatchRequest(_message.Message):
    __slots__ = ("items", "operations", "options")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[FixTextBatchItem]
    operations: _containers.RepeatedScalarFieldContainer[Operation]
    options: FixOptions
    def __init__(self, items: _Optional[_Iterable[_Union[FixTextBatchItem, _Mapping]]] = ..., operations: _Optional[_Iterable[_Union[Operation, str]]] = ..., options: _Optional[_Union[FixOptions, _Mapping]] = ...) -> None: ...

class FixTextBatchItem(_message.Message):
    __slots__ = ("id", "text", "operations")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    operations: _containers.RepeatedScalarFieldContainer[Operation]
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[Operation, str]]] = ...) -> None: ...

class FixTextBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[FixTextBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[FixTextBatchResult, _Mapping]]] = ...) -> None: ...

class FixTextBatchResult(_message.Message):
    __slots__ = ("id", "fix", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    FIX_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    fix: TextFix
    error: _common_pb2.ErrorEvent
    def __init__(self, id: _Optional[str] = ..., fix: _Optional[_Union[TextFix, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("id", "configure", "open", "edit", "flush", "close", "ping")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    id: str
    configure: ConfigureCommand
    open: OpenCommand
    edit: EditCommand
    flush: FlushCommand
    close: CloseCommand
    ping: _common_pb2.PingCommand
    def __init__(self, id: _Optional[str] = ..., configure: _Optional[_Union[ConfigureCommand, _Mapping]] = ..., open: _Optional[_Union[OpenCommand, _Mapping]] = ..., edit: _Optional[_Union[EditCommand, _Mapping]] = ..., flush: _Optional[_Union[FlushCommand, _Mapping]] = ..., close: _Optional[_Union[CloseCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ...) -> None: ...

class ConfigureCommand(_message.Message):
    __slots__ = ("debounce",)
    DEBOUNCE_FIELD_NUMBER: _ClassVar[int]
    debounce: _duration_pb2.Duration
    def __init__(self, debounce: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OpenCommand(_message.Message):
    __slots__ = ("document_id", "operations", "options", "debounce", "text", "version")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    DEBOUNCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    operations: _containers.RepeatedScalarFieldContainer[Operation]
    options: FixOptions
    debounce: _duration_pb2.Duration
    text: str
    version: int
    def __init__(self, document_id: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[Operation, str]]] = ..., options: _Optional[_Union[FixOptions, _Mapping]] = ..., debounce: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., text: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class EditCommand(_message.Message):
    __slots__ = ("document_id", "version", "text", "changes")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    text: str
    changes: TextChanges
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ..., text: _Optional[str] = ..., changes: _Optional[_Union[TextChanges, _Mapping]] = ...) -> None: ...

class TextChanges(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[TextChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[TextChange, _Mapping]]] = ...) -> None: ...

class TextChange(_message.Message):
    __slots__ = ("offset", "length", "text")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    text: str
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class FlushCommand(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...

class CloseCommand(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("command_id", "configured", "opened", "result", "superseded", "closed", "pong", "error", "going_away")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    configured: ConfiguredEvent
    opened: DocumentOpenedEvent
    result: ResultEvent
    superseded: SupersededEvent
    closed: DocumentClosedEvent
    pong: _common_pb2.PongEvent
    error: _common_pb2.ErrorEvent
    going_away: _common_pb2.GoingAwayEvent
    def __init__(self, command_id: _Optional[str] = ..., configured: _Optional[_Union[ConfiguredEvent, _Mapping]] = ..., opened: _Optional[_Union[DocumentOpenedEvent, _Mapping]] = ..., result: _Optional[_Union[ResultEvent, _Mapping]] = ..., superseded: _Optional[_Union[SupersededEvent, _Mapping]] = ..., closed: _Optional[_Union[DocumentClosedEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ...) -> None: ...

class ConfiguredEvent(_message.Message):
    __slots__ = ("debounce",)
    DEBOUNCE_FIELD_NUMBER: _ClassVar[int]
    debounce: _duration_pb2.Duration
    def __init__(self, debounce: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DocumentOpenedEvent(_message.Message):
    __slots__ = ("document_id", "version", "debounce")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEBOUNCE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    debounce: _duration_pb2.Duration
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ..., debounce: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ResultEvent(_message.Message):
    __slots__ = ("document_id", "version", "fix")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIX_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    fix: TextFix
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ..., fix: _Optional[_Union[TextFix, _Mapping]] = ...) -> None: ...

class SupersededEvent(_message.Message):
    __slots__ = ("document_id", "versions", "reason")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    versions: _containers.RepeatedScalarFieldContainer[int]
    reason: SupersededReason
    def __init__(self, document_id: _Optional[str] = ..., versions: _Optional[_Iterable[int]] = ..., reason: _Optional[_Union[SupersededReason, str]] = ...) -> None: ...

class DocumentClosedEvent(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...
