"""Per-user quotas on publishing into open namespaces, counted in the broker's key-value store.

Every count is a sliding window kept in ONE key-value entry (a few time slots and their totals),
updated with compare-and-set, so it holds across replicas on any engine without a new broker
method. The sum over the window is an upper bound of what it measures: history keeps nothing
older than its TTL, so the bytes published into a channel in the last TTL bound the bytes its
history holds, whatever trimming happens inside the broker.

Quotas (each a `NotificationsConfig` setting; 0 disables it):

- `user_publish_bytes` per `quota_window`: what one user publishes (all open channels);
- `user_channels` per history TTL: channels one user creates (publishes into first);
- `channel_history_bytes`: what one channel's history can hold;
- `namespace_history_bytes`: what all the channels of one open namespace can hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..broker.base import Broker
from ..platform.errors import Code, HubError, resource_exhausted
from .channels import NamespaceConfig, namespace_of
from .config import NotificationsConfig

#: Slots per window: the bound overcounts by at most one slot (1/SLOTS of the window).
SLOTS = 12
#: Compare-and-set attempts before a contended counter gives up (ABORTED: retry). Within a process
#: updates of one key take turns (a lock), so only other replicas contend; a failed attempt waits
#: a random moment (full jitter, at most ~0.5 s in all) before the next.
MAX_TRIES = 12
PREFIX = "notify:quota:"
_MAX = 2**62  # the limit of a forced charge


@dataclass(frozen=True, slots=True)
class Charge:
    key: str
    amount: int
    window: float


def _decode(raw: bytes | None) -> dict[int, int]:
    if raw is None:
        return {}
    try:
        return {int(slot): int(total) for slot, total in json.loads(raw)}
    except (ValueError, TypeError):
        return {}  # unreadable: start over rather than lock the user out


def _encode(slots: dict[int, int]) -> bytes:
    return json.dumps(sorted(slots.items()), separators=(",", ":")).encode()


class WindowCounter:
    """Amounts charged within the last `window` seconds, in one key-value entry per key."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # only keys being updated right now

    @contextlib.asynccontextmanager
    async def _turn(self, key: str) -> AsyncIterator[None]:
        lock, users = self._turns.get(key, (asyncio.Lock(), 0))
        self._turns[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[key]
            if users == 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, users - 1)

    async def charge(self, key: str, amount: int, limit: int, window: float) -> tuple[bool, float]:
        """Add `amount` unless the window's total would exceed `limit` (a refund, `amount < 0`,
        always applies). Returns (charged, seconds until the oldest counted slot leaves)."""
        async with self._turn(key):
            return await self._charge(key, amount, limit, window)

    async def _charge(self, key: str, amount: int, limit: int, window: float) -> tuple[bool, float]:
        """Add `amount` unless the window's total would exceed `limit` (a refund, `amount < 0`,
        always applies). Returns (charged, seconds until the oldest counted slot leaves)."""
        width = window / SLOTS
        for attempt in range(MAX_TRIES):
            now = self._broker.clock()
            current = math.floor(now / width)
            raw = await self._broker.kv_get(key)
            slots = {s: t for s, t in _decode(raw).items() if s > current - SLOTS - 1 and t > 0}
            total = sum(slots.values())
            if amount > 0 and total + amount > limit:
                oldest = min(slots) if slots else current
                return False, max((oldest + SLOTS + 1) * width - now, 0.0)
            if amount >= 0:
                slots[current] = slots.get(current, 0) + amount
            else:  # a refund takes back from the newest slots first
                left = -amount
                for slot in sorted(slots, reverse=True):
                    take = min(left, slots[slot])
                    slots[slot] -= take
                    left -= take
                slots = {s: t for s, t in slots.items() if t > 0}
            value, ttl = _encode(slots), window + 2 * width
            if raw is None:
                done = await self._broker.kv_set_if_absent(key, value, ttl=ttl)
            else:
                done = await self._broker.kv_compare_and_set(key, raw, value, ttl=ttl)
            if done:
                return True, 0.0
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))  # another replica won the race
        raise HubError(
            Code.ABORTED, "quota counter contended; retry", reason="QUOTA_CONTENDED", retry_after=0.1
        )


def content_bytes(title: str, body: str, data: bytes, content_type: str) -> int:
    return len(title.encode()) + len(body.encode()) + len(data) + len(content_type)


class PublishQuotas:
    """Charges one ordinary user's publication into an open channel against every quota, all or
    nothing: when one is exhausted the ones already charged are refunded."""

    def __init__(self, broker: Broker, config: NotificationsConfig) -> None:
        self._broker = broker
        self._config = config
        self._counter = WindowCounter(broker)

    async def charge(
        self, user: str, channel: str, size: int, ns: NamespaceConfig, *, force: bool = False
    ) -> None:
        """Charge one publication; `force` counts it even past the limits (it was published
        already: the count must stay true so the next publications are refused)."""
        c = self._config
        checks = [
            (f"{PREFIX}user-bytes:{user}", size, c.user_publish_bytes, c.quota_window, f"user:{user}",
             f"at most {c.user_publish_bytes} bytes published per {c.quota_window:g} s"),
            (f"{PREFIX}channel-bytes:{channel}", size, c.channel_history_bytes, ns.history_ttl,
             f"channel:{channel}", f"at most {c.channel_history_bytes} bytes of history in one channel"),
            (f"{PREFIX}namespace-bytes:{namespace_of(channel)}", size, c.namespace_history_bytes,
             ns.history_ttl, f"namespace:{namespace_of(channel)}",
             f"at most {c.namespace_history_bytes} bytes of history in the namespace"),
        ]  # fmt: skip
        done: list[Charge] = []
        try:
            for key, amount, limit, window, subject, what in checks:
                if limit <= 0:
                    continue
                ok, retry = await self._counter.charge(key, amount, _MAX if force else limit, window)
                if not ok:
                    raise _exceeded(subject, what, retry)
                done.append(Charge(key, amount, window))
            await self._creates(user, channel, ns, force)
        except BaseException:
            for charge in done:
                await self._counter.charge(charge.key, -charge.amount, 0, charge.window)
            raise

    async def _creates(self, user: str, channel: str, ns: NamespaceConfig, force: bool) -> None:
        """The first publisher of a channel (within its history TTL) is charged for creating it."""
        limit = self._config.user_channels
        if limit <= 0:
            return
        owner = f"{PREFIX}owner:{channel}"
        if not await self._broker.kv_set_if_absent(owner, user.encode(), ttl=ns.history_ttl):
            return
        ok, retry = await self._counter.charge(
            f"{PREFIX}user-channels:{user}", 1, _MAX if force else limit, ns.history_ttl
        )
        if not ok:
            await self._broker.kv_compare_and_delete(owner, user.encode())
            raise _exceeded(
                f"user:{user}", f"at most {limit} channels created per {ns.history_ttl:g} s", retry
            )


def _exceeded(subject: str, description: str, retry: float) -> HubError:
    err = resource_exhausted(
        f"quota exceeded: {description}",
        reason="QUOTA_EXCEEDED",
        retry_after=retry,
        quota=[(subject, description)],
    )
    err.metadata = {"subject": subject}
    return err
