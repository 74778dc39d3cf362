"""One session's outgoing events: a bounded queue for edits, coalesced slots for cursors.

- Events (applied operations, presence, leases...) are queued in order, at most
  `max_events`. A reader that falls that far behind is cut off (`closed` =
  "overflow"): its stream ends with RESOURCE_EXHAUSTED and the client recovers
  with `since_version`. Nothing is silently dropped while the stream lives.
- Cursors never queue: one slot per participant holds the latest position
  (latest wins). A slot is sent at most once per `cursor_interval` and goes
  before queued events, so cursors never wait behind a burst of edits, and a
  slow reader gets fewer cursor updates, never a longer queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from .events import AppliedBatch, Cursor, Event

OVERFLOW = "overflow"


class Outbox:
    def __init__(
        self,
        *,
        max_events: int = 1000,
        cursor_interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_events = max_events
        self.cursor_interval = cursor_interval
        self.clock = clock
        self.events: deque[Event] = deque()
        self.cursors: dict[str, Cursor] = {}
        self._cursor_sent: dict[str, float] = {}
        self.closed: str | None = None
        self._wake = asyncio.Event()
        self.cursors_coalesced = 0

    def put(self, event: Event) -> bool:
        if self.closed is not None:
            return False
        if len(self.events) >= self.max_events:
            self.close(OVERFLOW)
            return False
        self.events.append(event)
        self._wake.set()
        return True

    def put_cursor(self, key: str, cursor: Cursor) -> None:
        if self.closed is not None:
            return
        if key in self.cursors:
            self.cursors_coalesced += 1
        self.cursors[key] = cursor
        self._wake.set()

    def forget_cursor(self, key: str) -> None:
        self.cursors.pop(key, None)
        self._cursor_sent.pop(key, None)

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wake.set()

    def poll(self) -> Event | None:
        """The next event due now, or None (then `next_cursor_due` says when a cursor will be)."""
        if self.closed == OVERFLOW:
            return None
        now = self.clock()
        for key in self.cursors:
            if now - self._cursor_sent.get(key, float("-inf")) >= self.cursor_interval:
                self._cursor_sent[key] = now
                return self.cursors.pop(key)
        if self.events:
            return self.events.popleft()
        return None

    def take_applied(self, recipient: str, limit: int = 256) -> list[AppliedBatch]:
        """Pop the queued applied batches at the head that others caused (at most `limit`
        operations), so a reader that fell behind gets them in one message."""
        out: list[AppliedBatch] = []
        count = 0
        while self.events:
            head = self.events[0]
            if not isinstance(head, AppliedBatch) or head.origin == recipient:
                break
            count += len(head.operations)
            if out and count > limit:
                break
            out.append(head)
            self.events.popleft()
        return out

    def next_cursor_due(self) -> float | None:
        if not self.cursors:
            return None
        return min(self._cursor_sent.get(k, float("-inf")) + self.cursor_interval for k in self.cursors)

    async def get(self) -> Event | None:
        """Wait for the next event; None once closed (after draining, unless overflowed)."""
        while True:
            self._wake.clear()
            event = self.poll()
            if event is not None:
                return event
            if self.closed is not None:
                return None
            due = self.next_cursor_due()
            if due is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), max(due - self.clock(), 0.001))
                except TimeoutError:
                    pass
