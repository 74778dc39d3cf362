import datetime

from google.longrunning import operations_pb2 as _operations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from realtime.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_URGENT: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
    PRIORITY_NORMAL: _ClassVar[Priority]
    PRIORITY_LOW: _ClassVar[Priority]
    PRIORITY_BACKGROUND: _ClassVar[Priority]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class PhaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_STATE_UNSPECIFIED: _ClassVar[PhaseState]
    PHASE_STATE_PENDING: _ClassVar[PhaseState]
    PHASE_STATE_RUNNING: _ClassVar[PhaseState]
    PHASE_STATE_DONE: _ClassVar[PhaseState]
    PHASE_STATE_UNAVAILABLE: _ClassVar[PhaseState]

class WatchEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WATCH_EVENT_KIND_UNSPECIFIED: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_SNAPSHOT: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_QUEUE_POSITION: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_STARTED: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_PHASE_STARTED: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_PHASE_FINISHED: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_PROGRESS: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_PARTIAL_RESULT: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_DONE: _ClassVar[WatchEventKind]
    WATCH_EVENT_KIND_REQUEUED: _ClassVar[WatchEventKind]

class StreamContentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STREAM_CONTENT_KIND_UNSPECIFIED: _ClassVar[StreamContentKind]
    STREAM_CONTENT_KIND_TEXT: _ClassVar[StreamContentKind]
    STREAM_CONTENT_KIND_IMAGE: _ClassVar[StreamContentKind]
PRIORITY_UNSPECIFIED: Priority
PRIORITY_URGENT: Priority
PRIORITY_HIGH: Priority
PRIORITY_NORMAL: Priority
PRIORITY_LOW: Priority
PRIORITY_BACKGROUND: Priority
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
PHASE_STATE_UNSPECIFIED: PhaseState
PHASE_STATE_PENDING: PhaseState
PHASE_STATE_RUNNING: PhaseState
PHASE_STATE_DONE: PhaseState
PHASE_STATE_UNAVAILABLE: PhaseState
WATCH_EVENT_KIND_UNSPECIFIED: WatchEventKind
WATCH_EVENT_KIND_SNAPSHOT: WatchEventKind
WATCH_EVENT_KIND_QUEUE_POSITION: WatchEventKind
WATCH_EVENT_KIND_STARTED: WatchEventKind
WATCH_EVENT_KIND_PHASE_STARTED: WatchEventKind
WATCH_EVENT_KIND_PHASE_FINISHED: WatchEventKind
WATCH_EVENT_KIND_PROGRESS: WatchEventKind
WATCH_EVENT_KIND_PARTIAL_RESULT: WatchEventKind
WATCH_EVENT_KIND_DONE: WatchEventKind
WATCH_EVENT_KIND_REQUEUED: WatchEventKind
STREAM_CONTENT_KIND_UNSPECIFIED: StreamContentKind
STREAM_CONTENT_KIND_TEXT: StreamContentKind
STREAM_CONTENT_KIND_IMAGE: StreamContentKind

class AnalysisInput(_message.Message):
    __slots__ = ("data", "text", "upload", "content_type", "filename")
    DATA_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    text: str
    upload: str
    content_type: str
    filename: str
    def __init__(self, data: _Optional[bytes] = ..., text: _Optional[str] = ..., upload: _Optional[str] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class SubmitAnalysisRequest(_message.Message):
    __slots__ = ("analyzer", "input", "options", "priority", "request_id")
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    analyzer: str
    input: AnalysisInput
    options: _struct_pb2.Struct
    priority: Priority
    request_id: str
    def __init__(self, analyzer: _Optional[str] = ..., input: _Optional[_Union[AnalysisInput, _Mapping]] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class Phase(_message.Message):
    __slots__ = ("name", "start_percent", "end_percent", "state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_PERCENT_FIELD_NUMBER: _ClassVar[int]
    END_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    start_percent: int
    end_percent: int
    state: PhaseState
    def __init__(self, name: _Optional[str] = ..., start_percent: _Optional[int] = ..., end_percent: _Optional[int] = ..., state: _Optional[_Union[PhaseState, str]] = ...) -> None: ...

class PartialResult(_message.Message):
    __slots__ = ("index", "phase", "data")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    index: int
    phase: str
    data: _struct_pb2.Struct
    def __init__(self, index: _Optional[int] = ..., phase: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AnalysisMetadata(_message.Message):
    __slots__ = ("analyzer", "state", "priority", "phase", "percent", "phases", "queue_position", "estimated_start_time", "create_time", "start_time", "end_time", "owner", "attempt", "partial_results", "cancel_requested", "max_attempts", "next_retry_time", "last_error")
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_START_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RETRY_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    analyzer: str
    state: JobState
    priority: Priority
    phase: str
    percent: int
    phases: _containers.RepeatedCompositeFieldContainer[Phase]
    queue_position: int
    estimated_start_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    owner: str
    attempt: int
    partial_results: _containers.RepeatedCompositeFieldContainer[PartialResult]
    cancel_requested: bool
    max_attempts: int
    next_retry_time: _timestamp_pb2.Timestamp
    last_error: _status_pb2.Status
    def __init__(self, analyzer: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., priority: _Optional[_Union[Priority, str]] = ..., phase: _Optional[str] = ..., percent: _Optional[int] = ..., phases: _Optional[_Iterable[_Union[Phase, _Mapping]]] = ..., queue_position: _Optional[int] = ..., estimated_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ..., attempt: _Optional[int] = ..., partial_results: _Optional[_Iterable[_Union[PartialResult, _Mapping]]] = ..., cancel_requested: _Optional[bool] = ..., max_attempts: _Optional[int] = ..., next_retry_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("name", "content_type", "data", "size", "resource_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_type: str
    data: bytes
    size: int
    resource_name: str
    def __init__(self, name: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., size: _Optional[int] = ..., resource_name: _Optional[str] = ...) -> None: ...

class AnalysisResult(_message.Message):
    __slots__ = ("analyzer", "data", "artifacts")
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    analyzer: str
    data: _struct_pb2.Struct
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    def __init__(self, analyzer: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ...) -> None: ...

class WatchAnalysisRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class WatchAnalysisResponse(_message.Message):
    __slots__ = ("kind", "operation", "phase", "partial")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    kind: WatchEventKind
    operation: _operations_pb2.Operation
    phase: str
    partial: PartialResult
    def __init__(self, kind: _Optional[_Union[WatchEventKind, str]] = ..., operation: _Optional[_Union[_operations_pb2.Operation, _Mapping]] = ..., phase: _Optional[str] = ..., partial: _Optional[_Union[PartialResult, _Mapping]] = ...) -> None: ...

class PhasePlan(_message.Message):
    __slots__ = ("name", "end_percent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    END_PERCENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    end_percent: int
    def __init__(self, name: _Optional[str] = ..., end_percent: _Optional[int] = ...) -> None: ...

class ReportedJobSpec(_message.Message):
    __slots__ = ("kind", "phases", "owner", "request_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    phases: _containers.RepeatedCompositeFieldContainer[PhasePlan]
    owner: str
    request_id: str
    def __init__(self, kind: _Optional[str] = ..., phases: _Optional[_Iterable[_Union[PhasePlan, _Mapping]]] = ..., owner: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReportFailure(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ReportProgressRequest(_message.Message):
    __slots__ = ("name", "create", "phase", "phase_fraction", "partial_results", "result", "failure")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    create: ReportedJobSpec
    phase: str
    phase_fraction: float
    partial_results: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    result: AnalysisResult
    failure: ReportFailure
    def __init__(self, name: _Optional[str] = ..., create: _Optional[_Union[ReportedJobSpec, _Mapping]] = ..., phase: _Optional[str] = ..., phase_fraction: _Optional[float] = ..., partial_results: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., result: _Optional[_Union[AnalysisResult, _Mapping]] = ..., failure: _Optional[_Union[ReportFailure, _Mapping]] = ...) -> None: ...

class ReportProgressResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: _operations_pb2.Operation
    def __init__(self, operation: _Optional[_Union[_operations_pb2.Operation, _Mapping]] = ...) -> None: ...

class WorkRequest(_message.Message):
    __slots__ = ("id", "register", "heartbeat", "progress", "complete", "fail", "ping")
    ID_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    FAIL_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    id: str
    register: RegisterWorkerCommand
    heartbeat: HeartbeatCommand
    progress: JobProgressCommand
    complete: CompleteJobCommand
    fail: FailJobCommand
    ping: _common_pb2.PingCommand
    def __init__(self, id: _Optional[str] = ..., register: _Optional[_Union[RegisterWorkerCommand, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatCommand, _Mapping]] = ..., progress: _Optional[_Union[JobProgressCommand, _Mapping]] = ..., complete: _Optional[_Union[CompleteJobCommand, _Mapping]] = ..., fail: _Optional[_Union[FailJobCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ...) -> None: ...

class RegisterWorkerCommand(_message.Message):
    __slots__ = ("analyzers", "capacity")
    ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    analyzers: _containers.RepeatedScalarFieldContainer[str]
    capacity: int
    def __init__(self, analyzers: _Optional[_Iterable[str]] = ..., capacity: _Optional[int] = ...) -> None: ...

class HeartbeatCommand(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobProgressCommand(_message.Message):
    __slots__ = ("name", "phase", "phase_fraction", "partial_results")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    phase: str
    phase_fraction: float
    partial_results: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, name: _Optional[str] = ..., phase: _Optional[str] = ..., phase_fraction: _Optional[float] = ..., partial_results: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class CompleteJobCommand(_message.Message):
    __slots__ = ("name", "result")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    result: AnalysisResult
    def __init__(self, name: _Optional[str] = ..., result: _Optional[_Union[AnalysisResult, _Mapping]] = ...) -> None: ...

class FailJobCommand(_message.Message):
    __slots__ = ("name", "failure")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    failure: ReportFailure
    def __init__(self, name: _Optional[str] = ..., failure: _Optional[_Union[ReportFailure, _Mapping]] = ...) -> None: ...

class WorkResponse(_message.Message):
    __slots__ = ("command_id", "registered", "assigned", "revoked", "accepted", "error", "pong", "going_away")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    registered: WorkerRegisteredEvent
    assigned: JobAssignedEvent
    revoked: JobRevokedEvent
    accepted: CommandAcceptedEvent
    error: _common_pb2.ErrorEvent
    pong: _common_pb2.PongEvent
    going_away: _common_pb2.GoingAwayEvent
    def __init__(self, command_id: _Optional[str] = ..., registered: _Optional[_Union[WorkerRegisteredEvent, _Mapping]] = ..., assigned: _Optional[_Union[JobAssignedEvent, _Mapping]] = ..., revoked: _Optional[_Union[JobRevokedEvent, _Mapping]] = ..., accepted: _Optional[_Union[CommandAcceptedEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ...) -> None: ...

class WorkerRegisteredEvent(_message.Message):
    __slots__ = ("worker_id", "heartbeat_interval")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    heartbeat_interval: _duration_pb2.Duration
    def __init__(self, worker_id: _Optional[str] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class JobAssignedEvent(_message.Message):
    __slots__ = ("name", "analyzer", "input", "options", "phases", "attempt")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    name: str
    analyzer: str
    input: AnalysisInput
    options: _struct_pb2.Struct
    phases: _containers.RepeatedCompositeFieldContainer[Phase]
    attempt: int
    def __init__(self, name: _Optional[str] = ..., analyzer: _Optional[str] = ..., input: _Optional[_Union[AnalysisInput, _Mapping]] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., phases: _Optional[_Iterable[_Union[Phase, _Mapping]]] = ..., attempt: _Optional[int] = ...) -> None: ...

class JobRevokedEvent(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CommandAcceptedEvent(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AnalyzeStreamRequest(_message.Message):
    __slots__ = ("id", "start", "chunk", "status", "stop", "ping")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    id: str
    start: StartStreamCommand
    chunk: StreamChunkCommand
    status: StreamStatusCommand
    stop: StopStreamCommand
    ping: _common_pb2.PingCommand
    def __init__(self, id: _Optional[str] = ..., start: _Optional[_Union[StartStreamCommand, _Mapping]] = ..., chunk: _Optional[_Union[StreamChunkCommand, _Mapping]] = ..., status: _Optional[_Union[StreamStatusCommand, _Mapping]] = ..., stop: _Optional[_Union[StopStreamCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ...) -> None: ...

class StartStreamCommand(_message.Message):
    __slots__ = ("kind", "inactivity_timeout")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INACTIVITY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    kind: StreamContentKind
    inactivity_timeout: _duration_pb2.Duration
    def __init__(self, kind: _Optional[_Union[StreamContentKind, str]] = ..., inactivity_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamChunkCommand(_message.Message):
    __slots__ = ("text", "image")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: bytes
    def __init__(self, text: _Optional[str] = ..., image: _Optional[bytes] = ...) -> None: ...

class StreamStatusCommand(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopStreamCommand(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AnalyzeStreamResponse(_message.Message):
    __slots__ = ("command_id", "started", "result", "status", "stopped", "error", "pong", "going_away")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    started: StreamStartedEvent
    result: StreamResultEvent
    status: StreamStatusEvent
    stopped: StreamStoppedEvent
    error: _common_pb2.ErrorEvent
    pong: _common_pb2.PongEvent
    going_away: _common_pb2.GoingAwayEvent
    def __init__(self, command_id: _Optional[str] = ..., started: _Optional[_Union[StreamStartedEvent, _Mapping]] = ..., result: _Optional[_Union[StreamResultEvent, _Mapping]] = ..., status: _Optional[_Union[StreamStatusEvent, _Mapping]] = ..., stopped: _Optional[_Union[StreamStoppedEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ...) -> None: ...

class StreamStartedEvent(_message.Message):
    __slots__ = ("stream_id", "inactivity_timeout")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    INACTIVITY_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    inactivity_timeout: _duration_pb2.Duration
    def __init__(self, stream_id: _Optional[str] = ..., inactivity_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamResultEvent(_message.Message):
    __slots__ = ("chunk_index", "data")
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    chunk_index: int
    data: _struct_pb2.Struct
    def __init__(self, chunk_index: _Optional[int] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StreamStatusEvent(_message.Message):
    __slots__ = ("stream_id", "chunks", "bytes", "start_time", "last_chunk_time", "kind")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_CHUNK_TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    chunks: int
    bytes: int
    start_time: _timestamp_pb2.Timestamp
    last_chunk_time: _timestamp_pb2.Timestamp
    kind: StreamContentKind
    def __init__(self, stream_id: _Optional[str] = ..., chunks: _Optional[int] = ..., bytes: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_chunk_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[StreamContentKind, str]] = ...) -> None: ...

class StreamStoppedEvent(_message.Message):
    __slots__ = ("reason", "status", "summary")
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    reason: str
    status: StreamStatusEvent
    summary: _struct_pb2.Struct
    def __init__(self, reason: _Optional[str] = ..., status: _Optional[_Union[StreamStatusEvent, _Mapping]] = ..., summary: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
