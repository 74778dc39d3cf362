"""The live half of the Redis broker: ONE pub/sub connection per process, shared by every local
subscription, its supervision (PING, loss, reconnect) and the publication payload format.

`Subscription.add` returns only after Redis confirmed the SUBSCRIBE, so anything published
afterwards is delivered. A lost connection (Redis down, no PONG) flips `healthy` to False and
closes every subscription with `CLOSED_UNAVAILABLE`; a reconnect loop restores health.
`RedisBroker` (redis.py) owns the connections and the state declared here, and the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .base import Broker
from .model import CLOSED_UNAVAILABLE, BrokerUnavailable, Publication
from .subscription import Subscription
from .validate import check_channel

log = logging.getLogger("realtime.broker")


def encode_payload(data: bytes, now: float, meta: Mapping[str, str]) -> bytes:
    header = json.dumps({"t": now, "m": dict(meta)}, separators=(",", ":")).encode()
    return header + b"\n" + data


def decode_payload(channel: str, epoch: str, offset: int, payload: bytes) -> Publication:
    header, _, data = payload.partition(b"\n")
    head = json.loads(header)
    return Publication(channel, epoch, offset, data, float(head["t"]), head.get("m") or {})


class RedisPubSub(Broker):
    """Live delivery for `RedisBroker`, which sets up every attribute declared here."""

    url: str
    prefix: str
    _pool: aioredis.BlockingConnectionPool
    _redis: aioredis.Redis
    #: Per channel its local subscriptions: the Subscription itself while it is the only one (most
    #: `user:{id}` channels: a set of one costs ~220 bytes per stream), a set from the second on.
    _local: dict[str, Subscription | set[Subscription]]
    _confirms: dict[str, deque[asyncio.Future[None]]]
    _conn: Any
    _send_lock: asyncio.Lock
    #: Channels (and their confirmation futures) to SUBSCRIBE at the end of this loop turn.
    _subscribing: list[tuple[str, str, asyncio.Future[None] | None]]
    _sending: set[asyncio.Task[None]]
    _reader: asyncio.Task[None] | None
    _connected: asyncio.Event
    _closed: bool
    _ping_interval: float
    _ping_timeout: float
    _ping_sent: float | None
    _reconnect_delay: float
    pongs_received: int

    def _pubsub_name(self, channel: str) -> bytes:
        return f"{self.prefix}pub:{channel}".encode()

    async def _connect_pubsub(self) -> None:
        conn: Any = self._pool.connection_class(**self._pool.connection_kwargs)
        await conn.connect()
        self._conn = conn
        self._ping_sent = None
        self._reader = asyncio.get_running_loop().create_task(self._read(conn), name="redis-pubsub-reader")
        self._connected.set()
        # Channels attached while we were away (none after a loss: all subscriptions were closed).
        for channel in list(self._local):
            self._send_subscribe(channel)

    async def _supervise(self) -> None:
        """Ping the pub/sub connection; on loss mark unhealthy, close subscriptions, reconnect."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            assert self._reader is not None
            done, _ = await asyncio.wait({self._reader}, timeout=self._ping_interval)
            lost = bool(done)
            if not lost:
                # A closed socket is noticed at once by the reader; the PING catches a silent peer.
                # Generous timeout: a busy event loop must not look like a dead Redis.
                if self._ping_sent is not None:
                    lost = loop.time() - self._ping_sent > self._ping_timeout
                else:
                    self._ping_sent = loop.time()
                    try:
                        async with self._send_lock:
                            await self._conn.send_command("PING", check_health=False)
                    except (RedisError, OSError) as exc:
                        log.warning("PING on the pub/sub connection failed: %s", exc)
                        lost = True
            if not lost:
                continue
            reason = (
                self._reader.exception()
                if self._reader.done() and not self._reader.cancelled()
                else "no PONG"
            )
            log.error("lost the Redis pub/sub connection (%s); subscriptions closed until it is back", reason)
            self._connected.clear()
            self._reader.cancel()
            # asyncio.wait, not `await reader`: suppressing the reader's CancelledError would also
            # swallow OUR cancellation by close(), and the loop below would run forever.
            await asyncio.wait({self._reader})
            with contextlib.suppress(Exception):
                await self._conn.disconnect(nowait=True)
            self._set_healthy(False)
            self._drop_subscriptions()
            while not self._closed:
                await asyncio.sleep(self._reconnect_delay)
                try:
                    await self._redis.ping()
                    await self._connect_pubsub()
                except (RedisError, OSError) as exc:
                    log.debug("Redis still unavailable: %s", exc)
                    continue
                break
            if self._closed:
                return
            log.info("Redis pub/sub connection restored")
            self._set_healthy(True)

    def _drop_subscriptions(self) -> None:
        local, self._local = self._local, {}
        for subs in local.values():
            for sub in list(subs) if isinstance(subs, set) else (subs,):
                sub.channels.clear()
                sub._close(CLOSED_UNAVAILABLE)
        confirms, self._confirms = self._confirms, {}
        for waiting in confirms.values():
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(BrokerUnavailable("Redis pub/sub connection lost"))

    async def _read(self, conn: Any) -> None:
        strip = len(self.prefix) + 4  # "pub:"
        while True:
            msg = await conn.read_response(timeout=math.inf)
            if not isinstance(msg, list) or not msg:
                if msg in (b"PONG", "PONG"):  # PING answered outside subscribed mode
                    self._pong()
                continue
            kind = msg[0]
            if kind == b"message":
                channel = msg[1].decode()[strip:]
                subs = self._local.get(channel)
                if subs:
                    epoch, offset, payload = msg[2].split(b":", 2)
                    self._dispatch(
                        channel, subs, decode_payload(channel, epoch.decode(), int(offset), payload)
                    )
            elif kind == b"subscribe":
                self._confirmed(msg[1].decode()[strip:])
            elif kind == b"pong":
                self._pong()

    def _dispatch(self, channel: str, subs: Subscription | set[Subscription], pub: Publication) -> None:
        if not isinstance(subs, set):
            subs._deliver(pub)  # once closed (overflow) a no-op until its owner detaches it
            return
        for sub in list(subs):
            sub._deliver(pub)
            if sub.closed:  # overflowed: it gets nothing more (it must recover from history)
                subs.discard(sub)
        if len(subs) == 1:
            (self._local[channel],) = subs

    def _forget(self, channel: str, sub: Subscription) -> bool:
        """Take `sub` off `channel`; True when that left the channel without local subscriptions
        (the caller may UNSUBSCRIBE)."""
        subs = self._local.get(channel)
        if subs is sub:
            del self._local[channel]
            return True
        if isinstance(subs, set):
            subs.discard(sub)
            if len(subs) == 1:
                (self._local[channel],) = subs
            elif not subs:
                del self._local[channel]
                return True
        return False

    def _confirmed(self, channel: str) -> None:
        waiting = self._confirms.get(channel)
        if waiting:
            fut = waiting.popleft()
            if not waiting:  # no empty deque (~600 bytes) left behind per channel ever subscribed
                del self._confirms[channel]
            if not fut.done():
                fut.set_result(None)

    def _pong(self) -> None:
        self._ping_sent = None
        self.pongs_received += 1

    def _send_subscribe(self, channel: str) -> asyncio.Future[None]:
        """SUBSCRIBE `channel`: done once Redis confirmed it. The channels asked for in one loop
        turn go out as ONE command (a reconnect storm subscribes hundreds of `user:{id}` per turn)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirms.setdefault(channel, deque()).append(fut)
        self._queue_pubsub("SUBSCRIBE", channel, fut)
        return fut

    def _queue_pubsub(self, command: str, channel: str, fut: asyncio.Future[None] | None) -> None:
        """(UN)SUBSCRIBE commands go out in the order asked, at the end of the loop turn, one
        command per run of the same kind (an UNSUBSCRIBE never overtakes an earlier SUBSCRIBE)."""
        if not self._subscribing:
            asyncio.get_running_loop().call_soon(self._flush_subscribes)
        self._subscribing.append((command, channel, fut))

    def _flush_subscribes(self) -> None:
        batch, self._subscribing = self._subscribing, []
        task = asyncio.get_running_loop().create_task(self._send_subscribes(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_subscribes(self, batch: list[tuple[str, str, asyncio.Future[None] | None]]) -> None:
        runs: list[tuple[str, list[bytes]]] = []
        for command, channel, _ in batch:
            if not runs or runs[-1][0] != command:
                runs.append((command, []))
            runs[-1][1].append(self._pubsub_name(channel))
        try:
            async with self._send_lock:
                for command, names in runs:
                    await self._conn.send_command(command, *names, check_health=False)
        except (RedisError, OSError) as exc:
            for _, _, fut in batch:  # the reader's loss handling fails them too; first one wins
                if fut is not None and not fut.done():
                    fut.set_exception(BrokerUnavailable(f"cannot subscribe: {exc}"))

    # -- live subscriptions ----------------------------------------------------------
    async def _attach(self, sub: Subscription, channels: list[str]) -> None:
        if not self.healthy or not self._connected.is_set():
            raise BrokerUnavailable("Redis pub/sub connection is down")
        waits: list[asyncio.Future[None]] = []
        try:
            for channel in channels:
                check_channel(channel)
                subs = self._local.get(channel)
                if subs is None:
                    self._local[channel] = sub
                    waits.append(self._send_subscribe(channel))
                else:
                    if isinstance(subs, set):
                        subs.add(sub)
                    elif subs is not sub:
                        self._local[channel] = {subs, sub}
                    pending = self._confirms.get(channel)
                    if pending:  # someone else's SUBSCRIBE is in flight: wait for it too
                        waits.append(pending[-1])
            if waits:
                async with asyncio.timeout(10.0):
                    # Shielded: a confirmation may be shared with other subscriptions.
                    if len(waits) == 1:
                        await asyncio.shield(waits[0])
                    else:
                        await asyncio.gather(*(asyncio.shield(w) for w in waits))
        except (RedisError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot subscribe: {exc}") from exc

    async def _detach(self, sub: Subscription, channels: list[str]) -> None:
        for channel in channels:
            if self._forget(channel, sub) and self._connected.is_set():
                self._queue_pubsub("UNSUBSCRIBE", channel, None)

    def subscriber_count(self, channel: str) -> int:
        subs = self._local.get(channel)
        return len(subs) if isinstance(subs, set) else int(subs is not None)
