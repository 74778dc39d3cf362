import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from realtime.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DocumentRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_ROLE_UNSPECIFIED: _ClassVar[DocumentRole]
    DOCUMENT_ROLE_OWNER: _ClassVar[DocumentRole]
    DOCUMENT_ROLE_EDITOR: _ClassVar[DocumentRole]
    DOCUMENT_ROLE_VIEWER: _ClassVar[DocumentRole]

class ParticipantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTICIPANT_STATUS_UNSPECIFIED: _ClassVar[ParticipantStatus]
    PARTICIPANT_STATUS_VIEWING: _ClassVar[ParticipantStatus]
    PARTICIPANT_STATUS_EDITING: _ClassVar[ParticipantStatus]
    PARTICIPANT_STATUS_IDLE: _ClassVar[ParticipantStatus]

class LeaseReleaseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEASE_RELEASE_REASON_UNSPECIFIED: _ClassVar[LeaseReleaseReason]
    LEASE_RELEASE_REASON_RELEASED: _ClassVar[LeaseReleaseReason]
    LEASE_RELEASE_REASON_EXPIRED: _ClassVar[LeaseReleaseReason]
    LEASE_RELEASE_REASON_HOLDER_LEFT: _ClassVar[LeaseReleaseReason]
    LEASE_RELEASE_REASON_BROKEN_BY_OWNER: _ClassVar[LeaseReleaseReason]
    LEASE_RELEASE_REASON_ELEMENT_DELETED: _ClassVar[LeaseReleaseReason]

class ParticipantLeftReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTICIPANT_LEFT_REASON_UNSPECIFIED: _ClassVar[ParticipantLeftReason]
    PARTICIPANT_LEFT_REASON_LEFT: _ClassVar[ParticipantLeftReason]
    PARTICIPANT_LEFT_REASON_DISCONNECTED: _ClassVar[ParticipantLeftReason]
    PARTICIPANT_LEFT_REASON_PRESENCE_EXPIRED: _ClassVar[ParticipantLeftReason]
    PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED: _ClassVar[ParticipantLeftReason]
DOCUMENT_ROLE_UNSPECIFIED: DocumentRole
DOCUMENT_ROLE_OWNER: DocumentRole
DOCUMENT_ROLE_EDITOR: DocumentRole
DOCUMENT_ROLE_VIEWER: DocumentRole
PARTICIPANT_STATUS_UNSPECIFIED: ParticipantStatus
PARTICIPANT_STATUS_VIEWING: ParticipantStatus
PARTICIPANT_STATUS_EDITING: ParticipantStatus
PARTICIPANT_STATUS_IDLE: ParticipantStatus
LEASE_RELEASE_REASON_UNSPECIFIED: LeaseReleaseReason
LEASE_RELEASE_REASON_RELEASED: LeaseReleaseReason
LEASE_RELEASE_REASON_EXPIRED: LeaseReleaseReason
LEASE_RELEASE_REASON_HOLDER_LEFT: LeaseReleaseReason
LEASE_RELEASE_REASON_BROKEN_BY_OWNER: LeaseReleaseReason
LEASE_RELEASE_REASON_ELEMENT_DELETED: LeaseReleaseReason
PARTICIPANT_LEFT_REASON_UNSPECIFIED: ParticipantLeftReason
PARTICIPANT_LEFT_REASON_LEFT: ParticipantLeftReason
PARTICIPANT_LEFT_REASON_DISCONNECTED: ParticipantLeftReason
PARTICIPANT_LEFT_REASON_PRESENCE_EXPIRED: ParticipantLeftReason
PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED: ParticipantLeftReason

class DocumentInfo(_message.Message):
    __slots__ = ("document_id", "title", "owner", "members", "version", "created_at", "your_role", "participant_count")
    class MembersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: DocumentRole
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[DocumentRole, str]] = ...) -> None: ...
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    YOUR_ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_COUNT_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    title: str
    owner: str
    members: _containers.ScalarMap[str, DocumentRole]
    version: int
    created_at: _timestamp_pb2.Timestamp
    your_role: DocumentRole
    participant_count: int
    def __init__(self, document_id: _Optional[str] = ..., title: _Optional[str] = ..., owner: _Optional[str] = ..., members: _Optional[_Mapping[str, DocumentRole]] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., your_role: _Optional[_Union[DocumentRole, str]] = ..., participant_count: _Optional[int] = ...) -> None: ...

class DocumentElement(_message.Message):
    __slots__ = ("element_id", "parent_id", "kind", "position", "properties", "created_by", "created_version")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_VERSION_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    parent_id: str
    kind: str
    position: str
    properties: _containers.MessageMap[str, _struct_pb2.Value]
    created_by: str
    created_version: int
    def __init__(self, element_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., kind: _Optional[str] = ..., position: _Optional[str] = ..., properties: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., created_by: _Optional[str] = ..., created_version: _Optional[int] = ...) -> None: ...

class DocumentSnapshot(_message.Message):
    __slots__ = ("document_id", "version", "elements")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    elements: _containers.RepeatedCompositeFieldContainer[DocumentElement]
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ..., elements: _Optional[_Iterable[_Union[DocumentElement, _Mapping]]] = ...) -> None: ...

class DocumentOperation(_message.Message):
    __slots__ = ("client_seq", "create", "delete", "set", "move", "edit_text")
    CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    EDIT_TEXT_FIELD_NUMBER: _ClassVar[int]
    client_seq: int
    create: CreateElement
    delete: DeleteElement
    set: SetProperty
    move: MoveElement
    edit_text: EditText
    def __init__(self, client_seq: _Optional[int] = ..., create: _Optional[_Union[CreateElement, _Mapping]] = ..., delete: _Optional[_Union[DeleteElement, _Mapping]] = ..., set: _Optional[_Union[SetProperty, _Mapping]] = ..., move: _Optional[_Union[MoveElement, _Mapping]] = ..., edit_text: _Optional[_Union[EditText, _Mapping]] = ...) -> None: ...

class CreateElement(_message.Message):
    __slots__ = ("element_id", "parent_id", "kind", "position", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    parent_id: str
    kind: str
    position: str
    properties: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, element_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., kind: _Optional[str] = ..., position: _Optional[str] = ..., properties: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class DeleteElement(_message.Message):
    __slots__ = ("element_id",)
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    def __init__(self, element_id: _Optional[str] = ...) -> None: ...

class SetProperty(_message.Message):
    __slots__ = ("element_id", "key", "value")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    key: str
    value: _struct_pb2.Value
    def __init__(self, element_id: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class MoveElement(_message.Message):
    __slots__ = ("element_id", "parent_id", "position")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    parent_id: str
    position: str
    def __init__(self, element_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., position: _Optional[str] = ...) -> None: ...

class EditText(_message.Message):
    __slots__ = ("element_id", "key", "components")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    key: str
    components: _containers.RepeatedCompositeFieldContainer[TextEditComponent]
    def __init__(self, element_id: _Optional[str] = ..., key: _Optional[str] = ..., components: _Optional[_Iterable[_Union[TextEditComponent, _Mapping]]] = ...) -> None: ...

class TextEditComponent(_message.Message):
    __slots__ = ("retain", "insert", "delete")
    RETAIN_FIELD_NUMBER: _ClassVar[int]
    INSERT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    retain: int
    insert: str
    delete: int
    def __init__(self, retain: _Optional[int] = ..., insert: _Optional[str] = ..., delete: _Optional[int] = ...) -> None: ...

class AppliedOperation(_message.Message):
    __slots__ = ("version", "author", "client_id", "operation", "applied_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    author: str
    client_id: str
    operation: DocumentOperation
    applied_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., author: _Optional[str] = ..., client_id: _Optional[str] = ..., operation: _Optional[_Union[DocumentOperation, _Mapping]] = ..., applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DocumentParticipant(_message.Message):
    __slots__ = ("session_id", "user_id", "display_name", "color", "status", "selected_element_id", "role", "client_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SELECTED_ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    display_name: str
    color: str
    status: ParticipantStatus
    selected_element_id: str
    role: DocumentRole
    client_id: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., color: _Optional[str] = ..., status: _Optional[_Union[ParticipantStatus, str]] = ..., selected_element_id: _Optional[str] = ..., role: _Optional[_Union[DocumentRole, str]] = ..., client_id: _Optional[str] = ...) -> None: ...

class ElementLease(_message.Message):
    __slots__ = ("element_id", "holder_session_id", "holder_user_id", "holder_name", "expires_at")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    holder_session_id: str
    holder_user_id: str
    holder_name: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, element_id: _Optional[str] = ..., holder_session_id: _Optional[str] = ..., holder_user_id: _Optional[str] = ..., holder_name: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CollaborateRequest(_message.Message):
    __slots__ = ("id", "join", "op", "presence", "cursor", "acquire_lease", "release_lease", "leave", "ping")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    ACQUIRE_LEASE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_LEASE_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    id: str
    join: JoinDocumentCommand
    op: SubmitOperationsCommand
    presence: SetPresenceCommand
    cursor: MoveCursorCommand
    acquire_lease: AcquireLeaseCommand
    release_lease: ReleaseLeaseCommand
    leave: LeaveDocumentCommand
    ping: _common_pb2.PingCommand
    def __init__(self, id: _Optional[str] = ..., join: _Optional[_Union[JoinDocumentCommand, _Mapping]] = ..., op: _Optional[_Union[SubmitOperationsCommand, _Mapping]] = ..., presence: _Optional[_Union[SetPresenceCommand, _Mapping]] = ..., cursor: _Optional[_Union[MoveCursorCommand, _Mapping]] = ..., acquire_lease: _Optional[_Union[AcquireLeaseCommand, _Mapping]] = ..., release_lease: _Optional[_Union[ReleaseLeaseCommand, _Mapping]] = ..., leave: _Optional[_Union[LeaveDocumentCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ...) -> None: ...

class JoinDocumentCommand(_message.Message):
    __slots__ = ("document_id", "client_id", "since_version", "display_name", "color")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    client_id: str
    since_version: int
    display_name: str
    color: str
    def __init__(self, document_id: _Optional[str] = ..., client_id: _Optional[str] = ..., since_version: _Optional[int] = ..., display_name: _Optional[str] = ..., color: _Optional[str] = ...) -> None: ...

class SubmitOperationsCommand(_message.Message):
    __slots__ = ("base_version", "operations")
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    base_version: int
    operations: _containers.RepeatedCompositeFieldContainer[DocumentOperation]
    def __init__(self, base_version: _Optional[int] = ..., operations: _Optional[_Iterable[_Union[DocumentOperation, _Mapping]]] = ...) -> None: ...

class SetPresenceCommand(_message.Message):
    __slots__ = ("status", "selected_element_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SELECTED_ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    status: ParticipantStatus
    selected_element_id: str
    def __init__(self, status: _Optional[_Union[ParticipantStatus, str]] = ..., selected_element_id: _Optional[str] = ...) -> None: ...

class MoveCursorCommand(_message.Message):
    __slots__ = ("element_id", "x", "y", "text_offset")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    TEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    x: float
    y: float
    text_offset: int
    def __init__(self, element_id: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., text_offset: _Optional[int] = ...) -> None: ...

class AcquireLeaseCommand(_message.Message):
    __slots__ = ("element_id",)
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    def __init__(self, element_id: _Optional[str] = ...) -> None: ...

class ReleaseLeaseCommand(_message.Message):
    __slots__ = ("element_id", "force")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    force: bool
    def __init__(self, element_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class LeaveDocumentCommand(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CollaborateResponse(_message.Message):
    __slots__ = ("command_id", "joined", "applied", "rejected", "presence", "cursor", "lease_granted", "lease_denied", "lease_released", "participant_joined", "participant_left", "error", "going_away", "pong", "duplicate", "left")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LEASE_GRANTED_FIELD_NUMBER: _ClassVar[int]
    LEASE_DENIED_FIELD_NUMBER: _ClassVar[int]
    LEASE_RELEASED_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_JOINED_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_LEFT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    joined: JoinedDocumentEvent
    applied: OperationsAppliedEvent
    rejected: OperationsRejectedEvent
    presence: PresenceChangedEvent
    cursor: CursorMovedEvent
    lease_granted: LeaseGrantedEvent
    lease_denied: LeaseDeniedEvent
    lease_released: LeaseReleasedEvent
    participant_joined: ParticipantJoinedEvent
    participant_left: ParticipantLeftEvent
    error: _common_pb2.ErrorEvent
    going_away: _common_pb2.GoingAwayEvent
    pong: _common_pb2.PongEvent
    duplicate: DuplicateOperationsEvent
    left: LeftDocumentEvent
    def __init__(self, command_id: _Optional[str] = ..., joined: _Optional[_Union[JoinedDocumentEvent, _Mapping]] = ..., applied: _Optional[_Union[OperationsAppliedEvent, _Mapping]] = ..., rejected: _Optional[_Union[OperationsRejectedEvent, _Mapping]] = ..., presence: _Optional[_Union[PresenceChangedEvent, _Mapping]] = ..., cursor: _Optional[_Union[CursorMovedEvent, _Mapping]] = ..., lease_granted: _Optional[_Union[LeaseGrantedEvent, _Mapping]] = ..., lease_denied: _Optional[_Union[LeaseDeniedEvent, _Mapping]] = ..., lease_released: _Optional[_Union[LeaseReleasedEvent, _Mapping]] = ..., participant_joined: _Optional[_Union[ParticipantJoinedEvent, _Mapping]] = ..., participant_left: _Optional[_Union[ParticipantLeftEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., duplicate: _Optional[_Union[DuplicateOperationsEvent, _Mapping]] = ..., left: _Optional[_Union[LeftDocumentEvent, _Mapping]] = ...) -> None: ...

class JoinedDocumentEvent(_message.Message):
    __slots__ = ("document_id", "version", "snapshot", "replay", "recovered", "participants", "leases", "role", "session_id", "last_client_seq")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    snapshot: DocumentSnapshot
    replay: _containers.RepeatedCompositeFieldContainer[AppliedOperation]
    recovered: bool
    participants: _containers.RepeatedCompositeFieldContainer[DocumentParticipant]
    leases: _containers.RepeatedCompositeFieldContainer[ElementLease]
    role: DocumentRole
    session_id: str
    last_client_seq: int
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ..., snapshot: _Optional[_Union[DocumentSnapshot, _Mapping]] = ..., replay: _Optional[_Iterable[_Union[AppliedOperation, _Mapping]]] = ..., recovered: _Optional[bool] = ..., participants: _Optional[_Iterable[_Union[DocumentParticipant, _Mapping]]] = ..., leases: _Optional[_Iterable[_Union[ElementLease, _Mapping]]] = ..., role: _Optional[_Union[DocumentRole, str]] = ..., session_id: _Optional[str] = ..., last_client_seq: _Optional[int] = ...) -> None: ...

class OperationsAppliedEvent(_message.Message):
    __slots__ = ("operations",)
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[AppliedOperation]
    def __init__(self, operations: _Optional[_Iterable[_Union[AppliedOperation, _Mapping]]] = ...) -> None: ...

class OperationsRejectedEvent(_message.Message):
    __slots__ = ("operations",)
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[RejectedOperation]
    def __init__(self, operations: _Optional[_Iterable[_Union[RejectedOperation, _Mapping]]] = ...) -> None: ...

class RejectedOperation(_message.Message):
    __slots__ = ("client_seq", "code", "reason", "message", "lease")
    CLIENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    client_seq: int
    code: int
    reason: str
    message: str
    lease: ElementLease
    def __init__(self, client_seq: _Optional[int] = ..., code: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., lease: _Optional[_Union[ElementLease, _Mapping]] = ...) -> None: ...

class PresenceChangedEvent(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: DocumentParticipant
    def __init__(self, participant: _Optional[_Union[DocumentParticipant, _Mapping]] = ...) -> None: ...

class CursorMovedEvent(_message.Message):
    __slots__ = ("session_id", "user_id", "element_id", "x", "y", "text_offset")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    TEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    element_id: str
    x: float
    y: float
    text_offset: int
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., element_id: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., text_offset: _Optional[int] = ...) -> None: ...

class LeaseGrantedEvent(_message.Message):
    __slots__ = ("lease",)
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: ElementLease
    def __init__(self, lease: _Optional[_Union[ElementLease, _Mapping]] = ...) -> None: ...

class LeaseDeniedEvent(_message.Message):
    __slots__ = ("element_id", "held_by")
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_BY_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    held_by: ElementLease
    def __init__(self, element_id: _Optional[str] = ..., held_by: _Optional[_Union[ElementLease, _Mapping]] = ...) -> None: ...

class LeaseReleasedEvent(_message.Message):
    __slots__ = ("lease", "reason", "broken_by")
    LEASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BROKEN_BY_FIELD_NUMBER: _ClassVar[int]
    lease: ElementLease
    reason: LeaseReleaseReason
    broken_by: str
    def __init__(self, lease: _Optional[_Union[ElementLease, _Mapping]] = ..., reason: _Optional[_Union[LeaseReleaseReason, str]] = ..., broken_by: _Optional[str] = ...) -> None: ...

class ParticipantJoinedEvent(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: DocumentParticipant
    def __init__(self, participant: _Optional[_Union[DocumentParticipant, _Mapping]] = ...) -> None: ...

class ParticipantLeftEvent(_message.Message):
    __slots__ = ("session_id", "user_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    reason: ParticipantLeftReason
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., reason: _Optional[_Union[ParticipantLeftReason, str]] = ...) -> None: ...

class DuplicateOperationsEvent(_message.Message):
    __slots__ = ("client_seqs", "version", "absorbed_client_seqs")
    CLIENT_SEQS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ABSORBED_CLIENT_SEQS_FIELD_NUMBER: _ClassVar[int]
    client_seqs: _containers.RepeatedScalarFieldContainer[int]
    version: int
    absorbed_client_seqs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, client_seqs: _Optional[_Iterable[int]] = ..., version: _Optional[int] = ..., absorbed_client_seqs: _Optional[_Iterable[int]] = ...) -> None: ...

class LeftDocumentEvent(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...

class CreateDocumentRequest(_message.Message):
    __slots__ = ("document_id", "title")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    title: str
    def __init__(self, document_id: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class CreateDocumentResponse(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: DocumentInfo
    def __init__(self, document: _Optional[_Union[DocumentInfo, _Mapping]] = ...) -> None: ...

class GetDocumentRequest(_message.Message):
    __slots__ = ("document_id", "version")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    version: int
    def __init__(self, document_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetDocumentResponse(_message.Message):
    __slots__ = ("document", "snapshot")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    document: DocumentInfo
    snapshot: DocumentSnapshot
    def __init__(self, document: _Optional[_Union[DocumentInfo, _Mapping]] = ..., snapshot: _Optional[_Union[DocumentSnapshot, _Mapping]] = ...) -> None: ...

class ListDocumentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDocumentsResponse(_message.Message):
    __slots__ = ("documents", "next_page_token")
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[DocumentInfo]
    next_page_token: str
    def __init__(self, documents: _Optional[_Iterable[_Union[DocumentInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteDocumentRequest(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...

class DeleteDocumentResponse(_message.Message):
    __slots__ = ("document_id",)
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    def __init__(self, document_id: _Optional[str] = ...) -> None: ...

class ShareDocumentRequest(_message.Message):
    __slots__ = ("document_id", "user_id", "role")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    user_id: str
    role: DocumentRole
    def __init__(self, document_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[DocumentRole, str]] = ...) -> None: ...

class ShareDocumentResponse(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: DocumentInfo
    def __init__(self, document: _Optional[_Union[DocumentInfo, _Mapping]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("document_id", "page_size", "page_token")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    page_size: int
    page_token: str
    def __init__(self, document_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DocumentVersion(_message.Message):
    __slots__ = ("version", "author", "client_id", "applied_at", "summary", "operation")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    version: int
    author: str
    client_id: str
    applied_at: _timestamp_pb2.Timestamp
    summary: str
    operation: DocumentOperation
    def __init__(self, version: _Optional[int] = ..., author: _Optional[str] = ..., client_id: _Optional[str] = ..., applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ..., operation: _Optional[_Union[DocumentOperation, _Mapping]] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token", "current_version", "oldest_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DocumentVersion]
    next_page_token: str
    current_version: int
    oldest_version: int
    def __init__(self, versions: _Optional[_Iterable[_Union[DocumentVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., current_version: _Optional[int] = ..., oldest_version: _Optional[int] = ...) -> None: ...
