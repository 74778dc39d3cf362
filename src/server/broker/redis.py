"""The Redis broker: several hub replicas share state through one Redis (`--broker redis://...`).

- Publish is one Lua script (lua/publish.lua): bump the channel offset, XADD to
  a capped stream (MAXLEN) with expiry, PUBLISH, all in one step.
- Live delivery (redis_pubsub.py): ONE pub/sub connection per process, shared by every local
  subscription. `Subscription.add` returns only after Redis confirmed the
  SUBSCRIBE, so anything published afterwards is delivered.
- A lost pub/sub connection (Redis down, no PONG) flips `healthy` to False and
  closes every subscription with `CLOSED_UNAVAILABLE` (streams end UNAVAILABLE
  and clients recover): never silent loss while health stays green. A
  reconnect loop restores health.
- Small commands (key-value, presence, token buckets, channel positions) go out pipelined,
  one pipeline in flight (redis_batch.py): a reconnect storm's opens share round trips.
- Time checks (presence, key-value, read marks, history age) use the broker
  clock passed into the scripts; real key expiry is only garbage collection.

Key layout (all under `prefix`): `ch:{channel}:m` meta hash, `ch:{channel}:s`
history stream, `ch:{channel}:i:{key}` idempotency, `pr:{channel}:h|z`
presence, `kv:{key}`, `rd:{user}` read marks, pub/sub channel `pub:{channel}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL, DEFAULT_IDEMPOTENCY_TTL, Clock
from .memory import MAX_READ_MARKS_PER_USER
from .model import (
    BrokerUnavailable,
    HistoryResult,
    PresenceEntry,
    Publication,
    StreamPosition,
)
from .redis_batch import Batcher
from .redis_pubsub import RedisPubSub, decode_payload, encode_payload
from .replay import replay_after
from .subscription import Subscription
from .validate import check_channel, check_key, check_publish_args

log = logging.getLogger("realtime.broker")

T = TypeVar("T")
_LUA = Path(__file__).with_name("lua")
_SCRIPTS = (
    "publish",
    "presence_add",
    "presence_get",
    "kv_get",
    "kv_set",
    "kv_delete",
    "mark_read",
    "take_tokens",
)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisBroker(RedisPubSub):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "rt:",
        clock: Clock | None = None,
        ping_interval: float = 2.0,
        ping_timeout: float | None = None,
        reconnect_delay: float = 0.5,
        connect_timeout: float = 3.0,
        max_connections: int = 32,
    ) -> None:
        super().__init__(clock)
        self.url = url
        self.prefix = prefix
        self._ping_interval = ping_interval
        self._reconnect_delay = reconnect_delay
        # A bounded pool that makes callers WAIT for a free connection: thousands of streams
        # subscribing at once must queue, not fail with "Too many connections".
        self._pool = aioredis.BlockingConnectionPool.from_url(
            # RESP2: pub/sub messages arrive as plain replies on our own reader (RESP3 would push them).
            url,
            max_connections=max_connections,
            timeout=20,
            socket_connect_timeout=connect_timeout,
            socket_timeout=10.0,
            protocol=2,
        )
        # One retry: a pooled connection may be stale after a Redis restart.
        self._redis = aioredis.Redis(
            connection_pool=self._pool,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._scripts = {n: self._redis.register_script((_LUA / f"{n}.lua").read_text()) for n in _SCRIPTS}
        # Small commands (key-value, presence, channel positions) issued in one loop turn go to
        # Redis as one pipeline: a reconnect storm's opens share round trips (redis_batch.py).
        self._batch = Batcher(self._redis)
        self._local: dict[str, Subscription | set[Subscription]] = {}
        self._confirms: dict[str, deque[asyncio.Future[None]]] = {}
        self._conn: Any = None
        self._send_lock = asyncio.Lock()
        self._subscribing: list[tuple[str, str, asyncio.Future[None] | None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._ping_sent: float | None = None
        self.pongs_received = 0  # answered pings on the pub/sub connection (diagnostics and tests)
        self._ping_timeout = ping_timeout if ping_timeout is not None else max(15.0, 5 * ping_interval)

    @property
    def engine(self) -> str:
        return "redis"

    @property
    def durable(self) -> bool:
        return True

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        """Connect the pub/sub connection; raise `BrokerUnavailable` when Redis does not answer."""
        try:
            await self._redis.ping()
            await self._connect_pubsub()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="redis-pubsub")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in (self._supervisor, self._reader):
            if task is not None:
                task.cancel()
        tasks = {t for t in (self._supervisor, self._reader) if t is not None}
        if tasks:
            done, stuck = await asyncio.wait(tasks, timeout=5.0)
            for task in done:  # collect failures so asyncio does not log them as never retrieved
                if not task.cancelled() and task.exception() is not None:
                    log.debug("Redis broker task %s ended with %r", task.get_name(), task.exception())
            if stuck:  # never hang a shutdown on a wedged task
                log.warning("Redis broker tasks did not stop in 5 s: %s", [t.get_name() for t in stuck])
        await self._batch.close()
        if self._sending:  # (UN)SUBSCRIBEs on their way out
            await asyncio.wait(list(self._sending), timeout=5.0)
        self._drop_subscriptions()
        try:
            async with asyncio.timeout(5.0):  # a dead or wedged Redis must not hold up shutdown
                if self._conn is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._conn.disconnect()
                await self._redis.aclose()
                await self._pool.disconnect()
        except TimeoutError:
            log.warning("closing the Redis connections took over 5 s; abandoned them")
        self._set_healthy(False)

    # -- commands ----------------------------------------------------------------------
    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BrokerUnavailable(f"Redis unavailable: {exc}") from exc

    def _script(self, name: str, keys: list[Any], args: list[Any]) -> Awaitable[Any]:
        """Run one of the broker's Lua scripts in the next pipeline (see `Batcher`)."""
        return self._batch.script(self._scripts[name], keys, args)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

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
        base = f"{self.prefix}ch:{channel}"
        keys = [f"{base}:m", f"{base}:s", f"{base}:i:{idempotency_key or ''}"]
        args: list[Any] = [
            self._pubsub_name(channel),
            encode_payload(bytes(data), now, meta),
            history_size,
            _ms(history_ttl),
            secrets.token_hex(4),
            _ms(idempotency_ttl) if idempotency_key else 0,
        ]
        epoch, offset, dup = await self._call(lambda: self._scripts["publish"](keys=keys, args=args))
        return Publication(channel, epoch.decode(), int(offset), bytes(data), now, meta), bool(dup)

    async def _read_history(
        self, channel: str, read: Callable[[Any, str], None] | None
    ) -> tuple[StreamPosition | None, list[Publication]]:
        """The channel's top and (via `read`, queued in the same MULTI) history entries, oldest first."""
        base = f"{self.prefix}ch:{channel}"

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hmget(f"{base}:m", "e", "o", "t")
                if read is not None:
                    read(pipe, f"{base}:s")
                return await pipe.execute()  # type: ignore[no-any-return]

        (epoch, offset, ttl), *rest = await self._call(run)
        entries = rest[0] if rest else []
        if epoch is None:
            return None, []
        top = StreamPosition(epoch.decode(), int(offset))
        pubs = []
        oldest = self.clock() - int(ttl) / 1000.0
        for entry_id, fields in entries:
            pub = decode_payload(channel, top.epoch, int(entry_id.split(b"-")[0]), fields[b"p"])
            pubs.append(pub)
        pubs.sort(key=lambda p: p.offset)
        # Entries older than the channel's history ttl count as trimmed.
        while pubs and pubs[0].time < oldest:
            pubs.pop(0)
        return top, pubs

    async def history(
        self, channel: str, *, since: StreamPosition | None = None, limit: int | None = None
    ) -> HistoryResult:
        check_channel(channel)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        if since is None:
            if limit is None:
                top, pubs = await self._read_history(channel, lambda p, k: p.xrange(k))
            elif limit == 0:
                top, pubs = await self._top(channel), []
            else:
                top, pubs = await self._read_history(channel, lambda p, k: p.xrevrange(k, count=limit))
            return HistoryResult(top or StreamPosition("", 0), pubs, True)
        count = None if limit is None else limit + 1
        top, pubs = await self._read_history(
            channel, lambda p, k: p.xrange(k, min=f"({max(since.offset, 0)}-0", count=count)
        )
        if top is None:
            return HistoryResult(StreamPosition("", 0), [], since.offset == 0 and since.epoch == "")
        return HistoryResult(top, *replay_after(pubs, top, since, limit))

    async def _top(self, channel: str) -> StreamPosition | None:
        """The channel's position, read in the next pipeline; reads of one channel queued in the
        same loop turn share one HMGET (each was queued after its caller's live subscription)."""
        key = f"{self.prefix}ch:{channel}:m"
        # Shielded: several callers may await the one shared read; one cancelled must not cancel it.
        epoch, offset = await self._call(
            lambda: asyncio.shield(self._batch.read(key, "HMGET", key, "e", "o"))
        )
        return None if epoch is None else StreamPosition(epoch.decode(), int(offset))

    async def history_page(
        self, channel: str, *, before_offset: int | None = None, limit: int = 50
    ) -> HistoryResult:
        check_channel(channel)
        if limit < 0:
            raise ValueError("limit must be >= 0")
        top_id = "+" if before_offset is None else f"({max(before_offset, 1)}-0"
        read = (lambda p, k: p.xrevrange(k, max=top_id, count=limit)) if limit else None
        top, pubs = await self._read_history(channel, read)
        return HistoryResult(top or StreamPosition("", 0), list(reversed(pubs))[:limit], True)

    async def remove_history(self, channel: str) -> None:
        check_channel(channel)
        base = f"{self.prefix}ch:{channel}"
        await self._call(lambda: self._redis.delete(f"{base}:m", f"{base}:s"))

    # -- presence ---------------------------------------------------------------------
    def _presence_keys(self, channel: str) -> list[str]:
        return [f"{self.prefix}pr:{channel}:h", f"{self.prefix}pr:{channel}:z"]

    async def presence_add(
        self, channel: str, client_id: str, *, user_id: str, info: bytes = b"", ttl: float = 60.0
    ) -> None:
        check_channel(channel)
        check_key(client_id, "client_id")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        entry = json.dumps({"u": user_id}).encode() + b"\n" + bytes(info)
        expires = self._now_ms() + _ms(ttl)
        keys = self._presence_keys(channel)
        await self._call(
            lambda: self._script("presence_add", keys, [client_id, entry, expires, _ms(ttl) + 1000])
        )

    async def presence_remove(self, channel: str, client_id: str) -> None:
        h, z = self._presence_keys(channel)

        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(h, client_id)
                pipe.zrem(z, client_id)
                await pipe.execute()

        await self._call(run)

    async def presence(self, channel: str) -> dict[str, PresenceEntry]:
        check_channel(channel)
        keys = self._presence_keys(channel)
        flat = await self._call(lambda: self._script("presence_get", keys, [self._now_ms()]))
        out: dict[str, PresenceEntry] = {}
        for i in range(0, len(flat), 3):
            cid = flat[i].decode()
            header, _, info = flat[i + 2].partition(b"\n")
            out[cid] = PresenceEntry(cid, json.loads(header)["u"], info, float(flat[i + 1]) / 1000.0)
        return out

    # -- key-value ----------------------------------------------------------------------
    def _kv_key(self, key: str) -> str:
        return f"{self.prefix}kv:{key}"

    async def _kv_set(self, mode: str, key: str, value: bytes, ttl: float | None, expected: bytes) -> bool:
        check_key(key)
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive (or None for no expiry)")
        now = self._now_ms()
        expires = 0 if ttl is None else now + _ms(ttl)
        gc = 0 if ttl is None else _ms(ttl) + 1000
        args: list[Any] = [mode, bytes(value), expires, gc, now, bytes(expected)]
        keys = [self._kv_key(key)]
        return bool(await self._call(lambda: self._script("kv_set", keys, args)))

    async def kv_get(self, key: str) -> bytes | None:
        check_key(key)
        keys = [self._kv_key(key)]
        value = await self._call(lambda: self._script("kv_get", keys, [self._now_ms()]))
        return None if value is None else bytes(value)

    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._kv_set("set", key, value, ttl, b"")

    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        return await self._kv_set("nx", key, value, ttl, b"")

    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        return await self._kv_set("cas", key, value, ttl, expected)

    async def _kv_delete(self, mode: str, key: str, expected: bytes) -> bool:
        check_key(key)
        keys = [self._kv_key(key)]
        args: list[Any] = [mode, self._now_ms(), bytes(expected)]
        return bool(await self._call(lambda: self._script("kv_delete", keys, args)))

    async def take_tokens(
        self, key: str, want: int, rate: float, burst: int, ttl: float
    ) -> tuple[int, float]:
        """Take up to `want` tokens from the token bucket kept under key-value `key` (refilled at
        `rate`/s up to `burst`) in ONE script: (tokens taken, seconds to wait when none were).
        The bucket is the same entry `kv_get` / `kv_compare_and_set` see (see take_tokens.lua)."""
        check_key(key)
        now = self.clock()
        args: list[Any] = [int(now * 1000), f"{now:.6f}", want, repr(float(rate)), burst, _ms(ttl)]
        keys = [self._kv_key(key)]
        got, wait = await self._call(lambda: self._script("take_tokens", keys, args))
        return int(got), float(wait)

    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        return await self._kv_delete("cad", key, expected)

    async def kv_delete(self, key: str) -> bool:
        return await self._kv_delete("del", key, b"")

    # -- read marks -----------------------------------------------------------------------
    async def mark_read_ids(
        self, user_id: str, ids: Iterable[str], *, ttl: float = DEFAULT_HISTORY_TTL
    ) -> set[str]:
        check_key(user_id, "user_id")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        ids = list(ids)
        if not ids:
            return set()
        now = self._now_ms()
        keys = [f"{self.prefix}rd:{user_id}"]
        args: list[Any] = [now, now + _ms(ttl), MAX_READ_MARKS_PER_USER, _ms(ttl) + 1000, *ids]
        new = await self._call(lambda: self._scripts["mark_read"](keys=keys, args=args))
        return {m.decode() if isinstance(m, bytes) else str(m) for m in new}

    async def read_marks(self, user_id: str, ids: Iterable[str]) -> set[str]:
        check_key(user_id, "user_id")
        ids = list(ids)
        if not ids:
            return set()
        now = self._now_ms()
        scores = await self._call(lambda: self._redis.zmscore(f"{self.prefix}rd:{user_id}", ids))
        return {mid for mid, score in zip(ids, scores, strict=True) if score is not None and score > now}
