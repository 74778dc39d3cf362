"""Fair sharing of the text service's thread pool between users.

The pool has a few threads; a plain executor serves work first come, first served, so one user
sending a burst of 100,000-character FixText calls made everyone else wait behind it, and the
executor's queue had no bound. `FairPool` sits in front of the pool:

- it runs at most `slots` (the pool's threads) pieces of work at once and keeps the rest in one
  queue per user, served round-robin: another user's work is next whenever a thread frees up,
  however much one user queued;
- a user may have at most `per_user` pieces of work admitted (queued or running) at once;
  beyond it the call is refused with RESOURCE_EXHAUSTED, QuotaFailure and RetryInfo;
- at most `max_queued` pieces of work wait in all; beyond it RESOURCE_EXHAUSTED and RetryInfo.

Work that must not be refused (a Session document's computation: at most one per open document,
and documents are capped per user) is queued with `admit=False`: it is served in the same
round-robin but neither counted against nor refused by the two bounds.

`UserDocuments` bounds the other thing one user could multiply by opening many streams: the
Session documents they hold open.

Plain Python, event loop only.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from ..platform.errors import resource_exhausted

T = TypeVar("T")

#: What a refused caller is told to wait before retrying (seconds).
RETRY_AFTER = 1.0


@dataclass(slots=True)
class _Work:
    call: Callable[[], Any]
    done: asyncio.Future[Any]
    counted: bool


class FairPool:
    def __init__(self, executor: Executor, *, slots: int, per_user: int, max_queued: int) -> None:
        if slots <= 0:
            raise ValueError("slots must be positive")
        self._executor = executor
        self._slots = slots
        self.per_user = per_user
        self.max_queued = max_queued
        self._running = 0
        #: Per user, the work waiting for a thread; dict order is the round-robin order.
        self._queues: dict[str, deque[_Work]] = {}
        self._admitted: dict[str, int] = {}
        self._queued = 0  # counted work waiting (not running)

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def running(self) -> int:
        return self._running

    def admitted(self, user: str) -> int:
        return self._admitted.get(user, 0)

    async def run(self, user: str, call: Callable[[], T], *, admit: bool = True) -> T:
        """`call()` on a pool thread once it is this work's turn; its result."""
        if admit:
            self._admit(user)
        loop = asyncio.get_running_loop()
        work = _Work(call, loop.create_future(), admit)
        self._queues.setdefault(user, deque()).append(work)
        if admit:
            self._queued += 1
        try:
            self._dispatch()
            return await work.done  # type: ignore[no-any-return]
        finally:
            if not work.done.done():
                work.done.cancel()  # still queued: _dispatch skips it
            if admit:
                self._release(user)

    def _admit(self, user: str) -> None:
        held = self._admitted.get(user, 0)
        if self.per_user > 0 and held >= self.per_user:
            raise resource_exhausted(
                f"at most {self.per_user} text fixes per user may be queued or running at once; "
                "retry when one has finished",
                reason="TOO_MANY_IN_FLIGHT",
                retry_after=RETRY_AFTER,
                quota=[(f"user:{user}", f"text fixes in flight per user ({self.per_user})")],
            )
        if self.max_queued > 0 and self._running >= self._slots and self._queued >= self.max_queued:
            raise resource_exhausted(
                "the text service is busy: too much work is waiting; retry shortly",
                reason="OVERLOADED",
                retry_after=RETRY_AFTER,
                quota=[("service:text", f"queued text fixes ({self.max_queued})")],
            )
        self._admitted[user] = held + 1

    def _release(self, user: str) -> None:
        held = self._admitted.get(user, 0) - 1
        if held > 0:
            self._admitted[user] = held
        else:
            self._admitted.pop(user, None)

    def _next(self) -> _Work | None:
        """The next work to run: the first waiting piece of the user whose turn it is."""
        while self._queues:
            user = next(iter(self._queues))
            queue = self._queues.pop(user)
            work = queue.popleft()
            if queue:
                self._queues[user] = queue  # to the back of the round
            if work.counted:
                self._queued -= 1
            if not work.done.done():
                return work
        return None

    def _dispatch(self) -> None:
        while self._running < self._slots:
            work = self._next()
            if work is None:
                return
            self._running += 1
            running = asyncio.get_running_loop().run_in_executor(self._executor, work.call)
            running.add_done_callback(functools.partial(self._finished, work))

    def _finished(self, work: _Work, running: asyncio.Future[Any]) -> None:
        self._running -= 1
        if running.cancelled():  # the executor shut down
            work.done.cancel()
        else:
            exc = running.exception()  # retrieved even when nobody waits any more
            if not work.done.done():
                if exc is not None:
                    work.done.set_exception(exc)
                else:
                    work.done.set_result(running.result())
        self._dispatch()


class UserDocuments:
    """Documents each user has open across all their Session streams in this process. Per stream
    the cap is `MAX_DOCUMENTS`, but a user may open many streams: this bounds what one user holds
    (each document keeps up to 100k characters and its last fix). 0 disables the bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._users: dict[str, int] = {}

    def acquire(self, user: str) -> None:
        held = self._users.get(user, 0)
        if self.limit > 0 and held >= self.limit:
            raise resource_exhausted(
                f"at most {self.limit} documents may be open per user across all Session streams",
                reason="TOO_MANY_DOCUMENTS",
                quota=[(f"user:{user}", f"open text documents per user ({self.limit})")],
            )
        self._users[user] = held + 1

    def release(self, user: str) -> None:
        held = self._users.get(user, 0) - 1
        if held > 0:
            self._users[user] = held
        else:
            self._users.pop(user, None)

    def count(self, user: str) -> int:
        return self._users.get(user, 0)
