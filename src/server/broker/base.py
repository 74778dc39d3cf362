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

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping

# The vocabulary lives in model.py and subscription.py; services import all of it from here.
from .model import (
    CLOSED_BY_CALLER,
    CLOSED_OVERFLOW,
    CLOSED_UNAVAILABLE,
    PUBLICATION_OVERHEAD,
    BrokerError,
    BrokerUnavailable,
    HistoryResult,
    PresenceEntry,
    Publication,
    StreamPosition,
    SubscriptionClosed,
    publication_size,
)
from .subscription import DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_SIZE, ByteBudget, Subscription

__all__ = [
    "CLOSED_BY_CALLER",
    "CLOSED_OVERFLOW",
    "CLOSED_UNAVAILABLE",
    "DEFAULT_HISTORY_SIZE",
    "DEFAULT_HISTORY_TTL",
    "DEFAULT_IDEMPOTENCY_TTL",
    "DEFAULT_QUEUE_BYTES",
    "DEFAULT_QUEUE_SIZE",
    "PUBLICATION_OVERHEAD",
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "ByteBudget",
    "Clock",
    "HistoryResult",
    "PresenceEntry",
    "Publication",
    "StreamPosition",
    "Subscription",
    "SubscriptionClosed",
    "publication_size",
]

Clock = Callable[[], float]

#: Defaults for channel history (the seeds: last 1,000 messages, 24 h retention).
DEFAULT_HISTORY_SIZE = 1000
DEFAULT_HISTORY_TTL = 24 * 3600.0
#: How long an idempotency key remembers a publication by default.
DEFAULT_IDEMPOTENCY_TTL = 300.0


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
