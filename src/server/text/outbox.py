"""A Session's outbox: the bounded queue of events waiting to be sent to the client.

Backpressure in two steps: past `OUTBOX_SOFT` queued events the stream stops reading commands
(`wait_space`); events that timers still produce are queued up to `OUTBOX_HARD`, and beyond that
`put` refuses and records `overflowed` (the service ends the stream: the client is not reading).
Error and pong events the service must send are forced past the bound.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

OUTBOX_SOFT = 128  # stop reading commands while this many events wait to be sent (backpressure)
OUTBOX_HARD = 1_024  # timer-driven events beyond this end the stream: the client is not reading


class Outbox:
    """A Session's bounded queue of events waiting to be sent."""

    def __init__(self) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self.overflowed = False

    def put(self, item: Any, *, force: bool = False) -> bool:
        if len(self._items) >= OUTBOX_HARD and not force:
            self.overflowed = True
            return False
        self._items.append(item)
        self._ready.set()
        if len(self._items) >= OUTBOX_SOFT:
            self._space.clear()
        return True

    async def wait_space(self) -> None:
        while len(self._items) >= OUTBOX_SOFT:
            self._space.clear()
            await self._space.wait()

    async def get(self) -> Any:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if len(self._items) < OUTBOX_SOFT:
            self._space.set()
        return item
