"""Per-user limits that hold across worker processes and replicas sharing a broker.

Built only from broker primitives every engine has (presence entries with a TTL and the
key-value store's compare-and-set), so no engine needs new code:

- Open streams: each open stream is a presence entry in `limits:streams:<hash of user>` with a
  lease TTL this process refreshes. Opening adds the entry FIRST and then counts the
  entries; over the cap, it removes its own entry and refuses. Two processes racing for
  the last slot may both refuse, never both admit: the cap holds. A crashed worker's
  entries expire after `LEASE_TTL`.
- Call rate: one token bucket per user in the key-value store (`limits:rate:<hash of user>`),
  updated by compare-and-set. A process borrows tokens in chunks (about 50 ms of the
  rate) and spends them locally, so a call costs a broker round trip once per chunk, not
  per call. Over-admission is bounded by one chunk per process.

A single process on an embedded engine never builds this class: the in-memory limiters
of `limits.py` are the fast path there (no round trip at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from itertools import count
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import HubError, resource_exhausted, unavailable

if TYPE_CHECKING:
    from ..broker.base import Broker
    from ..config import Settings

log = logging.getLogger("realtime.limits")

LEASE_TTL = 30.0
CAS_ATTEMPTS = 32


@runtime_checkable
class TokenBuckets(Protocol):
    """A broker that updates a key-value token bucket in one step (Redis: one script), where the
    generic way costs a read and a compare-and-set round trip each."""

    async def take_tokens(
        self, key: str, want: int, rate: float, burst: int, ttl: float
    ) -> tuple[int, float]: ...


class SharedLimits:
    """Rate and open-stream limits per user, shared through the broker."""

    def __init__(self, broker: Broker, instance: str, rate: float, burst: int, max_streams: int) -> None:
        self._broker = broker
        self._instance = instance
        self.rate = rate
        self.burst = max(1, burst)
        self.max_streams = max_streams
        self.chunk = max(1, min(int(rate * 0.05), self.burst // 10)) if rate > 0 else 0
        self._local: dict[str, int] = {}
        self._borrowing: dict[str, asyncio.Future[None]] = {}
        self._leases: dict[str, str] = {}  # lease id -> user, refreshed while the stream is open
        self._ids = count()
        self._pending: set[asyncio.Task[None]] = set()
        self._buckets = broker if isinstance(broker, TokenBuckets) else None

    @classmethod
    def for_broker(cls, broker: Broker, settings: Settings) -> SharedLimits | None:
        """Shared limits when the broker is shared between processes (Redis), else None."""
        if broker.engine in ("memory", "sqlite"):
            return None
        import os
        import uuid

        return cls(
            broker,
            f"{os.getpid()}-{uuid.uuid4().hex[:8]}",
            settings.rate_limit,
            settings.rate_burst,
            settings.max_streams_per_user,
        )

    # -- rate -------------------------------------------------------------------
    async def acquire(self, user: str) -> None:
        """Take one call token or raise RESOURCE_EXHAUSTED (RATE_LIMIT_EXCEEDED) with RetryInfo."""
        if self.rate <= 0:
            return
        for _ in range(3):
            left = self._local.get(user, 0)
            if left > 0:
                if left == 1:
                    del self._local[user]
                else:
                    self._local[user] = left - 1
                return
            pending = self._borrowing.get(user)
            if pending is not None:
                await asyncio.shield(pending)
                continue
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._borrowing[user] = future
            try:
                got, wait = await self._borrow(user, self.chunk)
            except HubError:
                raise
            except Exception as exc:  # BrokerUnavailable: the limit cannot be checked
                raise _limits_unavailable(exc) from exc
            finally:
                del self._borrowing[user]
                future.set_result(None)
            if got:
                self._local[user] = self._local.get(user, 0) + got
                continue
            raise resource_exhausted(
                f"rate limit exceeded: {self.rate:g} calls/s with bursts of {self.burst} "
                f"(across every hub process); retry in {wait:.3f}s",
                reason="RATE_LIMIT_EXCEEDED",
                retry_after=wait,
            )
        raise resource_exhausted(
            "rate limit exceeded: too many calls waiting for tokens; retry shortly",
            reason="RATE_LIMIT_EXCEEDED",
            retry_after=0.05,
        )

    async def _borrow(self, user: str, want: int) -> tuple[int, float]:
        """Take up to `want` tokens from the shared bucket: (tokens taken, seconds to wait if none)."""
        key = f"limits:rate:{_slug(user)}"
        ttl = self.burst / self.rate + LEASE_TTL
        if self._buckets is not None:
            return await self._buckets.take_tokens(key, want, self.rate, self.burst, ttl)
        for _ in range(CAS_ATTEMPTS):
            raw = await self._broker.kv_get(key)
            now = self._broker.clock()
            tokens = float(self.burst)
            if raw is not None:
                stored, _, updated = raw.decode().partition(" ")
                tokens = min(self.burst, float(stored) + max(0.0, now - float(updated)) * self.rate)
            take = min(want, math.floor(tokens + 1e-4))  # the stored time is rounded to 1 us
            if take <= 0:
                return 0, (1 - tokens) / self.rate
            value = f"{tokens - take:.6f} {now:.6f}".encode()
            if raw is None:
                done = await self._broker.kv_set_if_absent(key, value, ttl=ttl)
            else:
                done = await self._broker.kv_compare_and_set(key, raw, value, ttl=ttl)
            if done:
                return take, 0.0
        return 0, 0.05  # lost every race: many processes spending this user's bucket at once

    # -- open streams ---------------------------------------------------------------
    async def open_stream(self, user: str) -> str | None:
        """Hold one of the user's stream slots: the lease id for `close_stream`, or raise
        RESOURCE_EXHAUSTED when the user already has `max_streams` open on every process."""
        if self.max_streams <= 0:
            return None
        lease = f"{self._instance}:{next(self._ids)}"
        channel = f"limits:streams:{_slug(user)}"
        try:
            await self._broker.presence_add(channel, lease, user_id=user, ttl=LEASE_TTL)
        except Exception as exc:
            raise _limits_unavailable(exc) from exc
        self._leases[lease] = user
        try:
            open_now = len(await self._broker.presence(channel))
        except BaseException as exc:
            self.close_stream(lease)
            if isinstance(exc, Exception):
                raise _limits_unavailable(exc) from exc
            raise
        if open_now > self.max_streams:
            # Given back before answering, not in the background: a refused open must not hold a
            # slot that makes the caller's (or another process's) next open fail too.
            self._leases.pop(lease, None)
            await self._release(user, lease)
            raise resource_exhausted(
                f"too many open streams: {open_now - 1} of {self.max_streams} allowed per user "
                "(across every hub process); close one first",
                reason="RATE_LIMIT_EXCEEDED",
                retry_after=1.0,
            )
        return lease

    def close_stream(self, lease: str) -> None:
        """Give the slot back (in the background: the call's end must not wait for the broker)."""
        user = self._leases.pop(lease, None)
        if user is None:
            return
        task = asyncio.get_running_loop().create_task(self._release(user, lease))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _release(self, user: str, lease: str) -> None:
        try:
            await self._broker.presence_remove(f"limits:streams:{_slug(user)}", lease)
        except Exception as exc:  # the lease expires on its own after LEASE_TTL
            log.warning("could not release a stream slot of %s: %s", user, exc)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` s) until every slot given back has reached the broker; the
        hub calls it at shutdown, before closing the broker, so a drained worker leaves no slots."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._pending:
                    await asyncio.gather(*list(self._pending))

    def open_streams(self) -> int:
        """Stream slots this process holds now."""
        return len(self._leases)

    async def run(self) -> None:
        """Refresh this process's stream leases until cancelled (a crashed process's expire)."""
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            for lease, user in list(self._leases.items()):
                if lease not in self._leases:
                    continue  # closed while an earlier refresh was in flight
                try:
                    await self._broker.presence_add(
                        f"limits:streams:{_slug(user)}", lease, user_id=user, ttl=LEASE_TTL
                    )
                except Exception as exc:
                    log.warning("could not refresh stream slots: %s", exc)
                    break


def _slug(user: str) -> str:
    """A user id as a channel/key part: any `sub` (spaces, 10 KB) maps to 32 hex digits."""
    return hashlib.blake2b(user.encode(), digest_size=16).hexdigest()


def _limits_unavailable(exc: Exception) -> HubError:
    return unavailable(
        f"per-user limits cannot be checked: the broker is unavailable ({exc}); retry shortly",
        reason="BROKER_UNAVAILABLE",
        retry_after=1.0,
    )
