"""The broker's vocabulary: its errors, why a subscription closed, stream positions, publications,
history answers and presence entries (plain data; the `Broker` interface is in base.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")


class BrokerError(Exception):
    """Base class of broker failures."""


class BrokerUnavailable(BrokerError):
    """The broker's backing store cannot be reached (Redis down). Callers map it to UNAVAILABLE."""


class SubscriptionClosed(BrokerError):
    """Raised by `Subscription.get()` once the subscription is closed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Why a subscription ended (`Subscription.closed_reason`).
CLOSED_BY_CALLER = "closed"
#: The consumer fell behind: its bounded queue filled. It must recover from history.
CLOSED_OVERFLOW = "overflow"
#: The broker lost its connection (Redis down) or was closed: publications may
#: have been missed. The consumer must end its stream with UNAVAILABLE so the
#: client reconnects and recovers from its last position.
CLOSED_UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """A point in a channel's stream: the offset of the last publication seen, in `epoch`.

    Offset 0 means "before the first publication of this epoch".
    """

    epoch: str
    offset: int


#: What a queued publication costs beyond its strings (object headers, the offset, the time...).
PUBLICATION_OVERHEAD = 64


@dataclass(frozen=True, slots=True)
class Publication:
    """One message in a channel, as stored in history and delivered live."""

    channel: str
    epoch: str
    offset: int
    data: bytes
    #: Unix time (seconds, broker clock) when it was published.
    time: float
    #: Small string metadata travelling with the publication (e.g. title, content type).
    meta: Mapping[str, str] = field(default_factory=dict)
    #: What it costs in a subscriber's queue (`publication_size`), computed once per publication
    #: rather than once per subscriber.
    size: int = field(init=False, repr=False, compare=False)
    #: Encodings of this publication made by its consumers (`encoded`), shared by every subscriber
    #: of this process: a publication delivered to many streams is serialized once.
    _encodings: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = len(self.data) + 2 * (len(self.channel) + len(self.epoch)) + PUBLICATION_OVERHEAD
        for key, value in self.meta.items():
            size += len(key) + (len(value) if value.isascii() else len(value.encode()))
        object.__setattr__(self, "size", size)

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.epoch, self.offset)

    def encoded(self, key: str, encode: Callable[[Publication], _T]) -> _T:
        """`encode(self)`, computed on the first call per `key` and cached on the publication.

        The engines hand the same Publication object to every local subscriber, so a consumer
        that sends it to many streams (the notification service) encodes it once. `encode` must
        depend on the publication alone, never on the subscriber.
        """
        cache = self._encodings
        if cache is None:
            cache = {}
            object.__setattr__(self, "_encodings", cache)
        elif key in cache:
            return cache[key]  # type: ignore[no-any-return]
        value = cache[key] = encode(self)
        return value


@dataclass(frozen=True, slots=True)
class HistoryResult:
    """The answer of `Broker.history` / `Broker.history_page`.

    `position` is the channel's current top (epoch and last offset; offset 0
    when nothing was published in this epoch). `recovered` is True when the
    request was answered completely (see `Broker.history`).
    """

    position: StreamPosition
    publications: list[Publication]
    recovered: bool = True


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One connection present in a channel."""

    client_id: str
    user_id: str
    #: Opaque application data (e.g. JSON with a name or a cursor).
    info: bytes
    #: Unix time (broker clock) after which the entry is gone unless refreshed.
    expires_at: float


def publication_size(pub: Publication) -> int:
    """Bytes a publication costs in a subscriber's queue: the whole message as a consumer sends it on
    (data, every meta string such as a title or body in UTF-8, channel and epoch as they appear in
    its id and fields, plus PUBLICATION_OVERHEAD), not just `data`."""
    return pub.size
