import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from realtime.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_LEVEL_UNSPECIFIED: _ClassVar[NotificationLevel]
    NOTIFICATION_LEVEL_INFO: _ClassVar[NotificationLevel]
    NOTIFICATION_LEVEL_SUCCESS: _ClassVar[NotificationLevel]
    NOTIFICATION_LEVEL_WARNING: _ClassVar[NotificationLevel]
    NOTIFICATION_LEVEL_ERROR: _ClassVar[NotificationLevel]

class NotRecoveredReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOT_RECOVERED_REASON_UNSPECIFIED: _ClassVar[NotRecoveredReason]
    NOT_RECOVERED_REASON_EPOCH_CHANGED: _ClassVar[NotRecoveredReason]
    NOT_RECOVERED_REASON_HISTORY_EXCEEDED: _ClassVar[NotRecoveredReason]
    NOT_RECOVERED_REASON_OFFSET_AHEAD: _ClassVar[NotRecoveredReason]

class PresenceChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRESENCE_CHANGE_UNSPECIFIED: _ClassVar[PresenceChange]
    PRESENCE_CHANGE_JOIN: _ClassVar[PresenceChange]
    PRESENCE_CHANGE_LEAVE: _ClassVar[PresenceChange]

class UnsubscribeReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNSUBSCRIBE_REASON_UNSPECIFIED: _ClassVar[UnsubscribeReason]
    UNSUBSCRIBE_REASON_CLIENT: _ClassVar[UnsubscribeReason]
    UNSUBSCRIBE_REASON_SERVER: _ClassVar[UnsubscribeReason]

class MarkReadStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARK_READ_STATUS_UNSPECIFIED: _ClassVar[MarkReadStatus]
    MARK_READ_STATUS_MARKED: _ClassVar[MarkReadStatus]
    MARK_READ_STATUS_ALREADY_READ: _ClassVar[MarkReadStatus]
    MARK_READ_STATUS_INVALID_ID: _ClassVar[MarkReadStatus]
    MARK_READ_STATUS_NOT_FOUND: _ClassVar[MarkReadStatus]
    MARK_READ_STATUS_PERMISSION_DENIED: _ClassVar[MarkReadStatus]
NOTIFICATION_LEVEL_UNSPECIFIED: NotificationLevel
NOTIFICATION_LEVEL_INFO: NotificationLevel
NOTIFICATION_LEVEL_SUCCESS: NotificationLevel
NOTIFICATION_LEVEL_WARNING: NotificationLevel
NOTIFICATION_LEVEL_ERROR: NotificationLevel
NOT_RECOVERED_REASON_UNSPECIFIED: NotRecoveredReason
NOT_RECOVERED_REASON_EPOCH_CHANGED: NotRecoveredReason
NOT_RECOVERED_REASON_HISTORY_EXCEEDED: NotRecoveredReason
NOT_RECOVERED_REASON_OFFSET_AHEAD: NotRecoveredReason
PRESENCE_CHANGE_UNSPECIFIED: PresenceChange
PRESENCE_CHANGE_JOIN: PresenceChange
PRESENCE_CHANGE_LEAVE: PresenceChange
UNSUBSCRIBE_REASON_UNSPECIFIED: UnsubscribeReason
UNSUBSCRIBE_REASON_CLIENT: UnsubscribeReason
UNSUBSCRIBE_REASON_SERVER: UnsubscribeReason
MARK_READ_STATUS_UNSPECIFIED: MarkReadStatus
MARK_READ_STATUS_MARKED: MarkReadStatus
MARK_READ_STATUS_ALREADY_READ: MarkReadStatus
MARK_READ_STATUS_INVALID_ID: MarkReadStatus
MARK_READ_STATUS_NOT_FOUND: MarkReadStatus
MARK_READ_STATUS_PERMISSION_DENIED: MarkReadStatus

class Notification(_message.Message):
    __slots__ = ("id", "channel", "position", "time", "title", "body", "data", "content_type", "level", "read", "publisher")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    id: str
    channel: str
    position: _common_pb2.StreamPosition
    time: _timestamp_pb2.Timestamp
    title: str
    body: str
    data: bytes
    content_type: str
    level: NotificationLevel
    read: bool
    publisher: str
    def __init__(self, id: _Optional[str] = ..., channel: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., level: _Optional[_Union[NotificationLevel, str]] = ..., read: _Optional[bool] = ..., publisher: _Optional[str] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("id", "subscribe", "unsubscribe", "mark_read", "ping", "accept_batches")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    MARK_READ_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_BATCHES_FIELD_NUMBER: _ClassVar[int]
    id: str
    subscribe: SubscribeCommand
    unsubscribe: UnsubscribeCommand
    mark_read: MarkReadCommand
    ping: _common_pb2.PingCommand
    accept_batches: bool
    def __init__(self, id: _Optional[str] = ..., subscribe: _Optional[_Union[SubscribeCommand, _Mapping]] = ..., unsubscribe: _Optional[_Union[UnsubscribeCommand, _Mapping]] = ..., mark_read: _Optional[_Union[MarkReadCommand, _Mapping]] = ..., ping: _Optional[_Union[_common_pb2.PingCommand, _Mapping]] = ..., accept_batches: _Optional[bool] = ...) -> None: ...

class SubscribeCommand(_message.Message):
    __slots__ = ("channel", "since", "join_leave")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    JOIN_LEAVE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    since: _common_pb2.StreamPosition
    join_leave: bool
    def __init__(self, channel: _Optional[str] = ..., since: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., join_leave: _Optional[bool] = ...) -> None: ...

class UnsubscribeCommand(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    def __init__(self, channel: _Optional[str] = ...) -> None: ...

class MarkReadCommand(_message.Message):
    __slots__ = ("notification_ids",)
    NOTIFICATION_IDS_FIELD_NUMBER: _ClassVar[int]
    notification_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, notification_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("command_id", "subscribed", "notification", "unsubscribed", "marked_read", "pong", "error", "going_away", "presence", "batch")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    MARKED_READ_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    subscribed: SubscribedEvent
    notification: Notification
    unsubscribed: UnsubscribedEvent
    marked_read: MarkedReadEvent
    pong: _common_pb2.PongEvent
    error: _common_pb2.ErrorEvent
    going_away: _common_pb2.GoingAwayEvent
    presence: PresenceEvent
    batch: NotificationBatch
    def __init__(self, command_id: _Optional[str] = ..., subscribed: _Optional[_Union[SubscribedEvent, _Mapping]] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ..., unsubscribed: _Optional[_Union[UnsubscribedEvent, _Mapping]] = ..., marked_read: _Optional[_Union[MarkedReadEvent, _Mapping]] = ..., pong: _Optional[_Union[_common_pb2.PongEvent, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ..., presence: _Optional[_Union[PresenceEvent, _Mapping]] = ..., batch: _Optional[_Union[NotificationBatch, _Mapping]] = ...) -> None: ...

class NotificationBatch(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ...) -> None: ...

class ListenRequest(_message.Message):
    __slots__ = ("channels", "since", "accept_batches")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_BATCHES_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[ListenChannel]
    since: _common_pb2.StreamPosition
    accept_batches: bool
    def __init__(self, channels: _Optional[_Iterable[_Union[ListenChannel, _Mapping]]] = ..., since: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., accept_batches: _Optional[bool] = ...) -> None: ...

class ListenChannel(_message.Message):
    __slots__ = ("channel", "since", "join_leave")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    JOIN_LEAVE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    since: _common_pb2.StreamPosition
    join_leave: bool
    def __init__(self, channel: _Optional[str] = ..., since: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., join_leave: _Optional[bool] = ...) -> None: ...

class ListenResponse(_message.Message):
    __slots__ = ("subscribed", "notification", "presence", "going_away", "batch")
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    GOING_AWAY_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    subscribed: SubscribedEvent
    notification: Notification
    presence: PresenceEvent
    going_away: _common_pb2.GoingAwayEvent
    batch: NotificationBatch
    def __init__(self, subscribed: _Optional[_Union[SubscribedEvent, _Mapping]] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ..., presence: _Optional[_Union[PresenceEvent, _Mapping]] = ..., going_away: _Optional[_Union[_common_pb2.GoingAwayEvent, _Mapping]] = ..., batch: _Optional[_Union[NotificationBatch, _Mapping]] = ...) -> None: ...

class SubscribedEvent(_message.Message):
    __slots__ = ("channel", "position", "resumed", "recovered", "not_recovered_reason")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    NOT_RECOVERED_REASON_FIELD_NUMBER: _ClassVar[int]
    channel: str
    position: _common_pb2.StreamPosition
    resumed: bool
    recovered: bool
    not_recovered_reason: NotRecoveredReason
    def __init__(self, channel: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., resumed: _Optional[bool] = ..., recovered: _Optional[bool] = ..., not_recovered_reason: _Optional[_Union[NotRecoveredReason, str]] = ...) -> None: ...

class PresenceEvent(_message.Message):
    __slots__ = ("channel", "change", "client_id", "user_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    change: PresenceChange
    client_id: str
    user_id: str
    def __init__(self, channel: _Optional[str] = ..., change: _Optional[_Union[PresenceChange, str]] = ..., client_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class UnsubscribedEvent(_message.Message):
    __slots__ = ("channel", "reason")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    channel: str
    reason: UnsubscribeReason
    def __init__(self, channel: _Optional[str] = ..., reason: _Optional[_Union[UnsubscribeReason, str]] = ...) -> None: ...

class MarkedReadEvent(_message.Message):
    __slots__ = ("newly_read", "results")
    NEWLY_READ_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    newly_read: int
    results: _containers.RepeatedCompositeFieldContainer[MarkReadResult]
    def __init__(self, newly_read: _Optional[int] = ..., results: _Optional[_Iterable[_Union[MarkReadResult, _Mapping]]] = ...) -> None: ...

class MarkReadResult(_message.Message):
    __slots__ = ("notification_id", "status", "description")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    status: MarkReadStatus
    description: str
    def __init__(self, notification_id: _Optional[str] = ..., status: _Optional[_Union[MarkReadStatus, str]] = ..., description: _Optional[str] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("channel", "title", "body", "data", "content_type", "level", "request_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    title: str
    body: str
    data: bytes
    content_type: str
    level: NotificationLevel
    request_id: str
    def __init__(self, channel: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., data: _Optional[bytes] = ..., content_type: _Optional[str] = ..., level: _Optional[_Union[NotificationLevel, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("id", "position", "duplicate")
    ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    position: _common_pb2.StreamPosition
    duplicate: bool
    def __init__(self, id: _Optional[str] = ..., position: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("channel", "unread_only", "page_size", "page_token")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    UNREAD_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    channel: str
    unread_only: bool
    page_size: int
    page_token: str
    def __init__(self, channel: _Optional[str] = ..., unread_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "next_page_token")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    next_page_token: str
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MarkReadRequest(_message.Message):
    __slots__ = ("notification_ids",)
    NOTIFICATION_IDS_FIELD_NUMBER: _ClassVar[int]
    notification_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, notification_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MarkReadResponse(_message.Message):
    __slots__ = ("newly_read", "results")
    NEWLY_READ_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    newly_read: int
    results: _containers.RepeatedCompositeFieldContainer[MarkReadResult]
    def __init__(self, newly_read: _Optional[int] = ..., results: _Optional[_Iterable[_Union[MarkReadResult, _Mapping]]] = ...) -> None: ...

class GetChannelStatsRequest(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    def __init__(self, channel: _Optional[str] = ...) -> None: ...

class GetChannelStatsResponse(_message.Message):
    __slots__ = ("channel", "subscribers", "present", "publications_last_minute", "history_size", "position")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    PUBLICATIONS_LAST_MINUTE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_SIZE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    channel: str
    subscribers: int
    present: int
    publications_last_minute: int
    history_size: int
    position: _common_pb2.StreamPosition
    def __init__(self, channel: _Optional[str] = ..., subscribers: _Optional[int] = ..., present: _Optional[int] = ..., publications_last_minute: _Optional[int] = ..., history_size: _Optional[int] = ..., position: _Optional[_Union[_common_pb2.StreamPosition, _Mapping]] = ...) -> None: ...

class GetPresenceRequest(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: str
    def __init__(self, channel: _Optional[str] = ...) -> None: ...

class GetPresenceResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ChannelPresenceEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[ChannelPresenceEntry, _Mapping]]] = ...) -> None: ...

class ChannelPresenceEntry(_message.Message):
    __slots__ = ("client_id", "user_id", "expires_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    user_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., user_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
