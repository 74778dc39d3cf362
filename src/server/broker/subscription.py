"""A consumer's live feed (`Subscription`) and the queue bytes several feeds may share (`ByteBudget`).

Created by `Broker.subscribe` (base.py); the engines deliver into it with `_deliver`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .model import CLOSED_BY_CALLER, CLOSED_OVERFLOW, Publication, SubscriptionClosed, publication_size

if TYPE_CHECKING:
    from .base import Broker

#: Default bound of one subscription's queue (publications, then bytes).
DEFAULT_QUEUE_SIZE = 1024
_NO_ITEMS: deque[Any] = deque(maxlen=0)  # shared stand-in until a subscription's first publication
DEFAULT_QUEUE_BYTES = 4 * 1024 * 1024


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
