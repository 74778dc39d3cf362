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
    _local: dict[str, set[Subscription]]
    _confirms: dict[str, deque[asyncio.Future[None]]]
    _conn: Any
    _send_lock: asyncio.Lock
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
            await self._send_subscribe(channel)

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
            for sub in list(subs):
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
                if not subs:
                    continue
                epoch, offset, payload = msg[2].split(b":", 2)
                pub = decode_payload(channel, epoch.decode(), int(offset), payload)
                for sub in list(subs):
                    sub._deliver(pub)
                    if sub.closed:  # overflowed: it gets nothing more (it must recover from history)
                        subs.discard(sub)
            elif kind == b"subscribe":
                self._confirmed(msg[1].decode()[strip:])
            elif kind == b"pong":
                self._pong()

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

    async def _send_subscribe(self, channel: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirms.setdefault(channel, deque()).append(fut)
        async with self._send_lock:
            await self._conn.send_command("SUBSCRIBE", self._pubsub_name(channel), check_health=False)
        return fut

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
                    self._local[channel] = {sub}
                    waits.append(await self._send_subscribe(channel))
                else:
                    subs.add(sub)
                    pending = self._confirms.get(channel)
                    if pending:  # someone else's SUBSCRIBE is in flight: wait for it too
                        waits.append(pending[-1])
            if waits:
                async with asyncio.timeout(10.0):
                    await asyncio.gather(*(asyncio.shield(w) for w in waits))
        except (RedisError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"cannot subscribe: {exc}") from exc

    async def _detach(self, sub: Subscription, channels: list[str]) -> None:
        for channel in channels:
            subs = self._local.get(channel)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._local[channel]
                if self._connected.is_set():
                    with contextlib.suppress(RedisError, OSError):
                        async with self._send_lock:
                            await self._conn.send_command(
                                "UNSUBSCRIBE", self._pubsub_name(channel), check_health=False
                            )

    def subscriber_count(self, channel: str) -> int:
        return len(self._local.get(channel, ()))
