"""The broker interface: the one seam through which services share state.

Three engines implement it with the same contract (one contract test suite runs
against all three):

- `SqliteBroker` (broker/sqlite.py): one process, durable; the `make run` default.
- `MemoryBroker` (broker/memory.py): one process, forgets on restart (tests).
- `RedisBroker` (broker/redis.py): several hub replicas share one Redis.

Services never talk to Redis directly; they ask a `Broker`. Plain Python: no
grpc, no generated messages.

Concepts (modelled on centrifuge's Broker / PresenceManager):

- A *channel* is a string such as ``general``, ``user:alice``, ``doc:42``.
- Every publication in a channel gets the next *offset* (1, 2, 3...) of the
  channel's *epoch*. The epoch is an opaque string that changes when the
  channel's history is lost (memory broker restart, Redis key expiry or
  flush, channel expiry); offsets from another epoch are void. The SQLite
  engine stores the epoch, so a restart keeps it.
- Publishing appends to the channel's history and broadcasts to live
  subscribers in ONE atomic step per channel, so offsets have no gaps and
  every subscriber sees publications in offset order.
- History keeps the last `history_size` publications of a channel for at most
  `history_ttl` seconds.
- Time-dependent behaviour (TTLs, presence expiry, history age) reads the
  broker's injectable clock (`clock`, seconds as float, default `time.time`);
  tests move a fake clock instead of sleeping. Every engine honours it (the
  Redis engine passes "now" into its scripts and keeps real key expiry only as
  garbage collection).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")

Clock = Callable[[], float]

#: Defaults for channel history (the seeds: last 1,000 messages, 24 h retention).
DEFAULT_HISTORY_SIZE = 1000
DEFAULT_HISTORY_TTL = 24 * 3600.0
#: How long an idempotency key remembers a publication by default.
DEFAULT_IDEMPOTENCY_TTL = 300.0
#: Default bound of one subscription's queue (publications, then bytes).
DEFAULT_QUEUE_SIZE = 1024
_NO_ITEMS: deque[Any] = deque(maxlen=0)  # shared stand-in until a subscription's first publication
DEFAULT_QUEUE_BYTES = 4 * 1024 * 1024


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


class ByteBudget:
    """Queue bytes shared by several subscriptions (e.g. all of one user's streams in a process).

    A subscription given a budget also closes with `CLOSED_OVERFLOW` when a publication would take
    the budget's `used` past `limit`, so the sum of their queues stays within `limit`.
    """

    __slots__ = ("holders", "limit", "used")

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("a byte budget must be positive")
        self.limit = limit
        self.used = 0
        #: Subscriptions (or sessions) sharing it; its owner forgets it at zero.
        self.holders = 0


class Subscription:
    """One consumer's live feed of publications from a set of channels.

    Created by `Broker.subscribe`. Publications of all its channels arrive in
    one bounded queue, each channel in offset order. The queue is bounded by
    count (`maxsize`) and by bytes (`max_bytes`, counted with `publication_size`:
    data, meta, channel and epoch); when a publication does not
    fit, the subscription closes with `CLOSED_OVERFLOW` (the consumer must
    recover from history; nothing is silently dropped while it stays open).
    When the broker loses its backing connection every subscription closes with
    `CLOSED_UNAVAILABLE`.

    `get()` returns the next publication and raises `SubscriptionClosed` once
    the subscription is closed and the publications queued before closing are
    drained. `async for pub in sub` iterates until closed (without raising).
    """

    def __init__(
        self,
        broker: Broker,
        *,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        max_bytes: int = DEFAULT_QUEUE_BYTES,
        on_close: Callable[[Subscription], None] | None = None,
        budget: ByteBudget | None = None,
    ) -> None:
        if maxsize <= 0 or max_bytes <= 0:
            raise ValueError("subscription bounds must be positive")
        self._broker = broker
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        # A plain deque plus one waiter future (not an asyncio.Queue): an idle subscription costs
        # little, and a stream handler can wait on `ready()` beside its other futures without a task.
        # The deque is made on the first publication: an empty one holds a 64-slot block (~600 B),
        # and most subscriber streams sit idle.
        self._items: deque[Publication] = _NO_ITEMS
        self._waiter: asyncio.Future[None] | None = None
        self._bytes = 0
        self._budget = budget
        self._on_close = on_close
        self.channels: set[str] = set()
        self.closed_reason: str | None = None

    # -- consumer side -------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    @property
    def queued(self) -> int:
        """Publications waiting in the queue."""
        return len(self._items)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def ready(self) -> asyncio.Future[None]:
        """A future that is done once `get_nowait()` has a publication or the subscription closed.

        One consumer per subscription: await it directly or with `asyncio.wait`. If the awaiting
        task is cancelled, the future is cancelled with it and the next call makes a fresh one.
        """
        if self._items or self.closed:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def wake(self) -> None:
        """Complete the current `ready()` future without a publication (e.g. to notice shutdown)."""
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def add(self, *channels: str) -> None:
        """Start receiving live publications of `channels` (idempotent per channel).

        Returns once the broker delivers publications of those channels to this
        subscription: anything published after `add` returns is delivered.
        """
        if self.closed:
            raise SubscriptionClosed(self.closed_reason or CLOSED_BY_CALLER)
        new = [c for c in channels if c not in self.channels]
        if new:
            self.channels.update(new)
            await self._broker._attach(self, new)

    async def remove(self, *channels: str) -> None:
        """Stop receiving `channels`; publications already queued stay queued."""
        gone = [c for c in channels if c in self.channels]
        if gone:
            self.channels.difference_update(gone)
            await self._broker._detach(self, gone)

    async def get(self) -> Publication:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            await asyncio.shield(self.ready())

    def get_nowait(self) -> Publication | None:
        """The next queued publication, or None when the queue is empty.

        Raises `SubscriptionClosed` once closed and drained (publications queued before the close
        are handed out first)."""
        if self._items:
            item = self._items.popleft()
            size = publication_size(item)
            self._bytes -= size
            if self._budget is not None:
                self._budget.used -= size
            return item
        if self.closed:
            raise SubscriptionClosed(self.closed_reason or CLOSED_BY_CALLER)
        return None

    async def __aiter__(self) -> AsyncIterator[Publication]:
        while True:
            try:
                yield await self.get()
            except SubscriptionClosed:
                return

    def discard(self) -> int:
        """Drop every queued publication (a consumer cut off for falling behind resumes from history
        instead, so its queue need not be kept); returns how many were dropped."""
        dropped = len(self._items)
        if dropped:
            self._items = _NO_ITEMS
        if self._budget is not None:
            self._budget.used -= self._bytes
        self._bytes = 0
        return dropped

    async def close(self) -> None:
        """Unsubscribe from every channel and end the feed (idempotent)."""
        if self.channels:
            channels = list(self.channels)
            self.channels.clear()
            await self._broker._detach(self, channels)
        self._close(CLOSED_BY_CALLER)

    # -- engine side ---------------------------------------------------
    def _deliver(self, pub: Publication) -> None:
        """Called by the engine, on the event loop, for each live publication."""
        if self.closed:
            return
        size = publication_size(pub)
        budget = self._budget
        if (
            len(self._items) + 1 > self._maxsize
            or self._bytes + size > self._max_bytes
            or (budget is not None and budget.used + size > budget.limit)
        ):
            self._close(CLOSED_OVERFLOW)
            return
        self._bytes += size
        if budget is not None:
            budget.used += size
        if self._items is _NO_ITEMS:
            self._items = deque()
        self._items.append(pub)
        self._wake()

    def _close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed_reason = reason
        self._wake()
        if self._on_close is not None:
            self._on_close(self)


class Broker(ABC):
    """The shared-state engine. All methods are coroutines safe to call concurrently.

    Methods raise `BrokerUnavailable` when the backing store cannot be reached
    and `ValueError` on invalid arguments (empty channel, negative size...).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.time
        self._health_callbacks: list[Callable[[bool], None]] = []
        self._healthy = True

    # -- lifecycle and health -------------------------------------------
    @abstractmethod
    async def start(self) -> None:
        """Connect (Redis) / start background work. Raises `BrokerUnavailable` if unreachable."""

    @abstractmethod
    async def close(self) -> None:
        """Close every subscription (`CLOSED_UNAVAILABLE`) and release connections. Idempotent."""

    @property
    def healthy(self) -> bool:
        """False while the backing store is unreachable (then subscriptions have been closed)."""
        return self._healthy

    def on_health_change(self, callback: Callable[[bool], None]) -> None:
        """Call `callback(healthy)` on the event loop each time `healthy` flips."""
        self._health_callbacks.append(callback)

    def _set_healthy(self, healthy: bool) -> None:
        if healthy == self._healthy:
            return
        self._healthy = healthy
        for callback in list(self._health_callbacks):
            callback(healthy)

    @property
    @abstractmethod
    def engine(self) -> str:
        """'memory', 'sqlite' or 'redis'."""

    @property
    def durable(self) -> bool:
        """True when history, key-value state and read marks survive a restart of this process.

        Services use it to tell the truth at startup: re-queue what the engine kept, or say it is gone.
        """
        return False

    # -- publications -----------------------------------------------------
    @abstractmethod
    async def publish(
        self,
        channel: str,
        data: bytes,
        *,
        meta: Mapping[str, str] | None = None,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_ttl: float = DEFAULT_HISTORY_TTL,
        idempotency_key: str | None = None,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
    ) -> tuple[Publication, bool]:
        """Append `data` to the channel's history and broadcast it, atomically.

        In one step per channel: take the next offset of the channel's epoch
        (starting a new epoch if the channel has none), append to history
        (trimmed to the newest `history_size` entries; `history_size=0` keeps
        no history but still numbers and broadcasts), refresh the history's
        expiry to `history_ttl`, and deliver to every live subscriber of the
        channel on every replica. Subscribers see offsets in order, no gaps.

        With `idempotency_key`, a second publish with the same key (per
        channel) within `idempotency_ttl` is not appended nor delivered again;
        it returns the first publication's position (with this call's data).

        Returns `(publication, duplicate)`: the stored publication and whether
        the call was an idempotent repeat.
        """

    @abstractmethod
    async def history(
        self, channel: str, *, since: StreamPosition | None = None, limit: int | None = None
    ) -> HistoryResult:
        """Publications of `channel` in offset order, plus the channel's current position.

        - `since=None`: the newest `limit` publications kept (all kept when
          `limit is None`; none with `limit=0`, which just reads the position).
          `recovered` is True.
        - `since` given (recovery): exactly the publications with offset greater
          than `since.offset`, in order, and `recovered=True`; OR no
          publications and `recovered=False` when that cannot be answered
          completely: the epoch differs, a needed publication was trimmed
          (size or age), `since.offset` is beyond the top, or more than `limit`
          publications are missing. Never a partial replay.

        Entries older than the channel's `history_ttl` (broker clock) count as trimmed.
        """

    @abstractmethod
    async def history_page(
        self, channel: str, *, before_offset: int | None = None, limit: int = 50
    ) -> HistoryResult:
        """Page backwards through history: up to `limit` publications with offset <
        `before_offset` (newest first; `None` = from the top). For listing UIs."""

    @abstractmethod
    async def remove_history(self, channel: str) -> None:
        """Forget the channel's history and position (the next publish starts a new epoch)."""

    # -- live subscriptions -----------------------------------------------
    def subscribe(
        self,
        *,
        maxsize: int = DEFAULT_QUEUE_SIZE,
        max_bytes: int = DEFAULT_QUEUE_BYTES,
        on_close: Callable[[Subscription], None] | None = None,
        budget: ByteBudget | None = None,
    ) -> Subscription:
        """A new, empty subscription; add channels with `await sub.add(...)`.

        Recovery without loss or duplicates: `await sub.add(ch)` FIRST, then
        `history(ch, since=pos)`, then drop live publications whose offset is
        <= the last offset replayed from history. With `budget`, the queue also counts against
        a byte budget shared with other subscriptions (see `ByteBudget`).
        """
        if not self.healthy:
            raise BrokerUnavailable("broker is unavailable")
        return Subscription(self, maxsize=maxsize, max_bytes=max_bytes, on_close=on_close, budget=budget)

    @abstractmethod
    async def _attach(self, sub: Subscription, channels: list[str]) -> None:
        """Engine hook: start routing `channels` to `sub` (called by `Subscription.add`)."""

    @abstractmethod
    async def _detach(self, sub: Subscription, channels: list[str]) -> None:
        """Engine hook: stop routing `channels` to `sub`."""

    @abstractmethod
    def subscriber_count(self, channel: str) -> int:
        """Live subscriptions to `channel` in THIS process (for stats)."""

    # -- presence ---------------------------------------------------------------
    @abstractmethod
    async def presence_add(
        self, channel: str, client_id: str, *, user_id: str, info: bytes = b"", ttl: float = 60.0
    ) -> None:
        """Add or refresh `client_id` in the channel's presence; it expires `ttl` seconds
        from now (broker clock) unless refreshed by calling again."""

    @abstractmethod
    async def presence_remove(self, channel: str, client_id: str) -> None:
        """Remove `client_id` from the channel's presence (no error if absent)."""

    @abstractmethod
    async def presence(self, channel: str) -> dict[str, PresenceEntry]:
        """Unexpired entries of the channel, by client id (expired ones are purged)."""

    # -- key-value with TTL (leases, idempotency keys, job state) -------------
    # `ttl=None` means no expiry. Keys are free-form strings; services prefix
    # them with their name ("analysis:job:42"). Values are bytes.
    @abstractmethod
    async def kv_get(self, key: str) -> bytes | None:
        """The value, or None if absent or expired."""

    @abstractmethod
    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Set unconditionally (replacing value and TTL)."""

    @abstractmethod
    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Set only if absent or expired; True when set (a lease was acquired)."""

    @abstractmethod
    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        """Replace value and TTL only if the current value equals `expected`
        (lease refresh, state transitions); True when replaced."""

    @abstractmethod
    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        """Delete only if the current value equals `expected` (lease release); True when deleted."""

    @abstractmethod
    async def kv_delete(self, key: str) -> bool:
        """Delete; True if a live value was there."""

    # -- read marks ------------------------------------------------------------
    async def mark_read(self, user_id: str, ids: Iterable[str], *, ttl: float = DEFAULT_HISTORY_TTL) -> int:
        """Record that `user_id` has read the notifications `ids`; each mark is kept
        for `ttl` seconds (at most 10,000 newest marks per user). Returns how
        many were new."""
        return len(await self.mark_read_ids(user_id, ids, ttl=ttl))

    @abstractmethod
    async def mark_read_ids(
        self, user_id: str, ids: Iterable[str], *, ttl: float = DEFAULT_HISTORY_TTL
    ) -> set[str]:
        """`mark_read`, returning which of `ids` were not marked before. Atomic: of several calls
        marking the same id at once (any replica), exactly one gets it back."""

    @abstractmethod
    async def read_marks(self, user_id: str, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the user has marked read (and are not expired)."""
