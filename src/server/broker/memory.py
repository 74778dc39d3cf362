"""The in-memory broker: one process, forgets on restart (`--broker memory`, the tests' engine).

Everything lives in dicts on the event loop, so "atomic" is simply "no await
between append and broadcast". Expired state (channels, presence, key-value,
read marks) is purged lazily and by a small sweep on writes, so nothing grows
without bound. A restart loses everything: the next publish in a channel starts
a new epoch, so clients recovering with an old epoch get `recovered=False`.
"""

from __future__ import annotations

import heapq
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .base import DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL, DEFAULT_IDEMPOTENCY_TTL, Broker, Clock
from .local import LocalFanout, LocalPresence
from .model import CLOSED_UNAVAILABLE, HistoryResult, PresenceEntry, Publication, StreamPosition
from .replay import replay_after
from .subscription import Subscription
from .validate import check_channel, check_key, check_publish_args

MAX_READ_MARKS_PER_USER = 10_000
# How many expiry-heap entries one write may purge (amortises the sweep).
_SWEEP_BATCH = 64


@dataclass(slots=True)
class _Channel:
    epoch: str
    offset: int = 0
    history: deque[Publication] = field(default_factory=deque)
    history_ttl: float = DEFAULT_HISTORY_TTL
    expires_at: float = 0.0


@dataclass(slots=True)
class _Value:
    value: bytes
    expires_at: float | None


class MemoryBroker(Broker):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self._channels: dict[str, _Channel] = {}
        self._fanout = LocalFanout()
        self._presence = LocalPresence()
        self._kv: dict[str, _Value] = {}
        self._marks: dict[str, OrderedDict[str, float]] = {}
        # (expires_at, kind, key): candidates for purging; checked against current state when popped.
        self._expiry: list[tuple[float, str, str]] = []
        self._closed = False

    @property
    def engine(self) -> str:
        return "memory"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._set_healthy(False)
        self._fanout.close_all(CLOSED_UNAVAILABLE)

    # -- expiry ----------------------------------------------------------------
    def _schedule(self, expires_at: float, kind: str, key: str) -> None:
        heapq.heappush(self._expiry, (expires_at, kind, key))
        self._sweep()

    def _sweep(self) -> None:
        now = self.clock()
        for _ in range(_SWEEP_BATCH):
            if not self._expiry or self._expiry[0][0] > now:
                return
            _, kind, key = heapq.heappop(self._expiry)
            if kind == "ch":
                self._live_channel(key, now)
            elif kind == "kv":
                self._live_value(key, now)
            elif kind == "pr":
                self._presence.purge(key, now)
            elif kind == "rd":
                self._live_marks(key, now)

    def _live_channel(self, channel: str, now: float) -> _Channel | None:
        ch = self._channels.get(channel)
        if ch is not None and ch.expires_at <= now:
            del self._channels[channel]
            return None
        return ch

    def _live_value(self, key: str, now: float) -> _Value | None:
        v = self._kv.get(key)
        if v is not None and v.expires_at is not None and v.expires_at <= now:
            del self._kv[key]
            return None
        return v

    def _live_marks(self, user: str, now: float) -> OrderedDict[str, float] | None:
        marks = self._marks.get(user)
        if marks is None:
            return None
        for mid in [m for m, exp in marks.items() if exp <= now]:
            del marks[mid]
        if not marks:
            del self._marks[user]
            return None
        return marks

    # -- publications ------------------------------------------------------------
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
        check_publish_args(channel, history_size, history_ttl, idempotency_key, idempotency_ttl)
        now = self.clock()
        meta = dict(meta or {})
        idem = f"\x00idem:{channel}:{idempotency_key}" if idempotency_key else None
        if idem is not None:
            seen = self._live_value(idem, now)
            if seen is not None:
                epoch, _, offset = seen.value.decode().rpartition(":")
                return Publication(channel, epoch, int(offset), bytes(data), now, meta), True
        ch = self._live_channel(channel, now)
        if ch is None:
            ch = self._channels[channel] = _Channel(epoch=secrets.token_hex(4))
        ch.offset += 1
        ch.history_ttl = history_ttl
        ch.expires_at = now + history_ttl
        pub = Publication(channel, ch.epoch, ch.offset, bytes(data), now, meta)
        if history_size > 0:
            ch.history.append(pub)
            while len(ch.history) > history_size:
                ch.history.popleft()
        else:
            ch.history.clear()
        self._schedule(ch.expires_at, "ch", channel)
        if idem is not None:
            self._kv[idem] = _Value(f"{ch.epoch}:{ch.offset}".encode(), now + idempotency_ttl)
            self._schedule(now + idempotency_ttl, "kv", idem)
        self._fanout.deliver(pub)
        return pub, False

    def _kept(self, ch: _Channel, now: float) -> list[Publication]:
        oldest = now - ch.history_ttl
        while ch.history and ch.history[0].time < oldest:
            ch.history.popleft()
        return list(ch.history)

    async def history(
        self, channel: str, *, since: StreamPosition | None = None, limit: int | None = None
    ) -> HistoryResult:
        check_channel(channel)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        now = self.clock()
        ch = self._live_channel(channel, now)
        if ch is None:
            # No state: a fresh epoch is only minted by a publish; report an empty top.
            top = StreamPosition("", 0)
            if since is None:
                return HistoryResult(top, [], True)
            return HistoryResult(top, [], since.offset == 0 and since.epoch == "")
        top = StreamPosition(ch.epoch, ch.offset)
        kept = self._kept(ch, now)
        if since is None:
            if limit == 0:
                return HistoryResult(top, [], True)
            return HistoryResult(top, kept if limit is None else kept[-limit:], True)
        return HistoryResult(top, *replay_after(kept, top, since, limit))

    async def history_page(
        self, channel: str, *, before_offset: int | None = None, limit: int = 50
    ) -> HistoryResult:
        check_channel(channel)
        if limit < 0:
            raise ValueError("limit must be >= 0")
        now = self.clock()
        ch = self._live_channel(channel, now)
        if ch is None:
            return HistoryResult(StreamPosition("", 0), [], True)
        kept = self._kept(ch, now)
        page = [p for p in reversed(kept) if before_offset is None or p.offset < before_offset][:limit]
        return HistoryResult(StreamPosition(ch.epoch, ch.offset), page, True)

    async def remove_history(self, channel: str) -> None:
        check_channel(channel)
        self._channels.pop(channel, None)

    # -- live subscriptions -------------------------------------------------------
    async def _attach(self, sub: Subscription, channels: list[str]) -> None:
        self._fanout.attach(sub, channels)

    async def _detach(self, sub: Subscription, channels: list[str]) -> None:
        self._fanout.detach(sub, channels)

    def subscriber_count(self, channel: str) -> int:
        return self._fanout.count(channel)

    # -- presence -------------------------------------------------------------------
    async def presence_add(
        self, channel: str, client_id: str, *, user_id: str, info: bytes = b"", ttl: float = 60.0
    ) -> None:
        expires = self._presence.add(channel, client_id, user_id, info, ttl, self.clock())
        self._schedule(expires, "pr", channel)

    async def presence_remove(self, channel: str, client_id: str) -> None:
        self._presence.remove(channel, client_id)

    async def presence(self, channel: str) -> dict[str, PresenceEntry]:
        return self._presence.get(channel, self.clock())

    # -- key-value -------------------------------------------------------------------
    def _put(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive (or None for no expiry)")
        expires = None if ttl is None else now + ttl
        self._kv[key] = _Value(bytes(value), expires)
        if expires is not None:
            self._schedule(expires, "kv", key)

    async def kv_get(self, key: str) -> bytes | None:
        check_key(key)
        v = self._live_value(key, self.clock())
        return None if v is None else v.value

    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_key(key)
        self._put(key, value, ttl, self.clock())

    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        check_key(key)
        now = self.clock()
        if self._live_value(key, now) is not None:
            return False
        self._put(key, value, ttl, now)
        return True

    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        check_key(key)
        now = self.clock()
        v = self._live_value(key, now)
        if v is None or v.value != expected:
            return False
        self._put(key, value, ttl, now)
        return True

    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        check_key(key)
        v = self._live_value(key, self.clock())
        if v is None or v.value != expected:
            return False
        del self._kv[key]
        return True

    async def kv_delete(self, key: str) -> bool:
        check_key(key)
        v = self._live_value(key, self.clock())
        if v is None:
            return False
        del self._kv[key]
        return True

    # -- read marks --------------------------------------------------------------------
    async def mark_read_ids(
        self, user_id: str, ids: Iterable[str], *, ttl: float = DEFAULT_HISTORY_TTL
    ) -> set[str]:
        check_key(user_id, "user_id")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = self.clock()
        marks = self._live_marks(user_id, now)
        if marks is None:
            marks = self._marks[user_id] = OrderedDict()
        new: set[str] = set()
        expires = now + ttl
        for mid in ids:
            if mid not in marks:
                new.add(mid)
            marks[mid] = expires
            marks.move_to_end(mid)
        while len(marks) > MAX_READ_MARKS_PER_USER:
            marks.popitem(last=False)
        self._schedule(expires, "rd", user_id)
        return new

    async def read_marks(self, user_id: str, ids: Iterable[str]) -> set[str]:
        check_key(user_id, "user_id")
        now = self.clock()
        marks = self._marks.get(user_id)
        if marks is None:
            return set()
        return {mid for mid in ids if marks.get(mid, 0.0) > now}
