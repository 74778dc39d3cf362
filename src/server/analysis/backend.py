"""Where jobs live: a small key-value-with-TTL plus publish/listen interface, two engines.

- `MemoryBackend`: one process (no broker configured). Listeners are local.
- `BrokerBackend`: through the hub's broker (`realtime.server.broker.Broker`):
  with the Redis engine every replica shares the queue, jobs, leases and
  events; progress also reaches notification subscribers and dashboards.

The scheduler needs nothing else: queue and indexes are JSON documents updated
with compare-and-set, leases are keys with a TTL renewed by compare-and-set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..platform.errors import unavailable

Clock = Callable[[], float]

#: Bound of one listener's queue; a listener that falls further behind is told to resync.
LISTEN_QUEUE = 256


class ListenerOverflow(Exception):
    """The listener fell behind and events were lost: reload the state and listen again."""


class Listener(ABC):
    """Events of one channel, in publish order."""

    @abstractmethod
    async def get(self) -> bytes:
        """The next event; raises ListenerOverflow when events were lost."""


class Backend(ABC):
    """Key-value with TTL (seconds on the backend's clock) and per-channel publish/listen."""

    #: True when other processes share the state (Redis): poll it, trust no local shortcut.
    shared: bool = False
    #: True when queued and running jobs survive a restart of this process (broker.durable).
    durable: bool = False
    #: The engine's name for logs ("memory", "redis", ...).
    engine: str = "memory"

    @abstractmethod
    async def kv_get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None: ...

    @abstractmethod
    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool: ...

    @abstractmethod
    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool: ...

    @abstractmethod
    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool: ...

    @abstractmethod
    async def kv_delete(self, key: str) -> bool: ...

    @abstractmethod
    async def publish(
        self, channel: str, data: bytes, *, history: int = 0, meta: Mapping[str, str] | None = None
    ) -> None:
        """Deliver `data` to the channel's listeners (keeping `history` entries where supported).

        `meta` travels with the publication on the broker (the notifications service reads
        title "t", body "b", content type "ct", level "l" and publisher "p" from it)."""

    @abstractmethod
    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[Listener]:
        """Listen to `channel`; events published after entering are delivered."""


@dataclass(slots=True)
class _Value:
    data: bytes
    expires: float | None


class _LocalListener(Listener):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(LISTEN_QUEUE)
        self.overflowed = False

    def deliver(self, data: bytes) -> None:
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> bytes:
        if self.overflowed and self.queue.empty():
            self.overflowed = False
            raise ListenerOverflow()
        return await self.queue.get()


class MemoryBackend(Backend):
    """In-process engine; `clock` drives TTLs so tests can expire leases without sleeping."""

    shared = False

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._kv: dict[str, _Value] = {}
        self._listeners: dict[str, set[_LocalListener]] = {}
        self._sets = 0

    def _live(self, key: str) -> _Value | None:
        value = self._kv.get(key)
        if value is not None and value.expires is not None and value.expires <= self.clock():
            del self._kv[key]
            return None
        return value

    def _put(self, key: str, data: bytes, ttl: float | None) -> None:
        self._kv[key] = _Value(data, None if ttl is None else self.clock() + ttl)
        self._sets += 1
        if self._sets % 1024 == 0:  # sweep expired keys now and then to bound memory
            now = self.clock()
            for k in [k for k, v in self._kv.items() if v.expires is not None and v.expires <= now]:
                del self._kv[k]

    async def kv_get(self, key: str) -> bytes | None:
        value = self._live(key)
        return None if value is None else value.data

    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        self._put(key, value, ttl)

    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        current = self._live(key)
        if current is None or current.data != expected:
            return False
        self._put(key, value, ttl)
        return True

    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        current = self._live(key)
        if current is None or current.data != expected:
            return False
        del self._kv[key]
        return True

    async def kv_delete(self, key: str) -> bool:
        return self._kv.pop(key, None) is not None and True

    async def publish(
        self, channel: str, data: bytes, *, history: int = 0, meta: Mapping[str, str] | None = None
    ) -> None:
        for listener in list(self._listeners.get(channel, ())):
            listener.deliver(data)

    @contextlib.asynccontextmanager
    async def _listen(self, channel: str) -> AsyncIterator[Listener]:
        listener = _LocalListener()
        self._listeners.setdefault(channel, set()).add(listener)
        try:
            yield listener
        finally:
            group = self._listeners.get(channel)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[channel]

    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[Listener]:
        return self._listen(channel)


class _BrokerListener(Listener):
    def __init__(self, sub: Any) -> None:
        self._sub = sub

    async def get(self) -> bytes:
        from ..broker import SubscriptionClosed

        try:
            pub = await self._sub.get()
        except SubscriptionClosed as exc:
            raise ListenerOverflow(exc.reason) from None
        return bytes(pub.data)


class BrokerBackend(Backend):
    """Through the hub's broker (memory or Redis engine). A broker that cannot reach its
    store raises `BrokerError`; callers get UNAVAILABLE (retryable) instead."""

    def __init__(self, broker: Any) -> None:
        self.broker = broker
        self.shared = broker.engine != "memory"
        self.durable = bool(broker.durable)
        self.engine = str(broker.engine)

    @property
    def clock(self) -> Clock:
        clock: Clock = self.broker.clock
        return clock

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from ..broker import BrokerError

        try:
            return await getattr(self.broker, method)(*args, **kwargs)
        except BrokerError as exc:
            raise unavailable(f"the analysis store is unavailable: {exc}", retry_after=1.0) from exc

    async def kv_get(self, key: str) -> bytes | None:
        value: bytes | None = await self._call("kv_get", key)
        return value

    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._call("kv_set", key, value, ttl=ttl)

    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        return bool(await self._call("kv_set_if_absent", key, value, ttl=ttl))

    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        return bool(await self._call("kv_compare_and_set", key, expected, value, ttl=ttl))

    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        return bool(await self._call("kv_compare_and_delete", key, expected))

    async def kv_delete(self, key: str) -> bool:
        return bool(await self._call("kv_delete", key))

    async def publish(
        self, channel: str, data: bytes, *, history: int = 0, meta: Mapping[str, str] | None = None
    ) -> None:
        await self._call("publish", channel, data, meta=meta, history_size=history, history_ttl=3600.0)

    @contextlib.asynccontextmanager
    async def _listen(self, channel: str) -> AsyncIterator[Listener]:
        from ..broker import BrokerError

        try:
            sub = self.broker.subscribe(maxsize=LISTEN_QUEUE)
            await sub.add(channel)
        except BrokerError as exc:
            raise unavailable(f"the analysis store is unavailable: {exc}", retry_after=1.0) from exc
        try:
            yield _BrokerListener(sub)
        finally:
            await sub.close()

    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[Listener]:
        return self._listen(channel)
