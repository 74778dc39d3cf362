"""One notification stream's state: its channels, recovery and the live-merge filter.

Plain Python over the broker. The rule that makes subscribing while
publications flow lose and duplicate nothing: attach to live publications
FIRST, then read history, then drop live publications whose offset was already
covered (`_Channel.last`). The stream handler processes commands and live
publications one at a time, so the filter and command handling never interleave.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..broker.base import (
    CLOSED_OVERFLOW,
    Broker,
    ByteBudget,
    Publication,
    StreamPosition,
    Subscription,
    SubscriptionClosed,
)
from ..platform.auth import Principal
from ..platform.errors import HubError, failed_precondition, resource_exhausted, unavailable
from ..platform.streams import quiet
from .channels import ChannelConfig, validate_channel
from .policy import ChannelPolicy
from .presence import PresenceKeeper, events_channel, is_presence_event

MAX_SUBSCRIPTIONS_PER_USER = 100
#: A stream's join/leave channels until it asks for one (most never do: no empty set per stream).
_NO_CHANNELS: frozenset[str] = frozenset()

# Why a resume was not recovered (SubscribedEvent.not_recovered_reason).
RECOVERED = ""
EPOCH_CHANGED = "epoch_changed"
HISTORY_EXCEEDED = "history_exceeded"
OFFSET_AHEAD = "offset_ahead"


def not_recovered_reason(since: StreamPosition, top: StreamPosition) -> str:
    """Why `history(since=...)` answered recovered=False, from the channel's top alone."""
    if since.epoch != top.epoch:
        return EPOCH_CHANGED
    if since.offset > top.offset:
        return OFFSET_AHEAD
    return HISTORY_EXCEEDED


class SubscriptionCounter:
    """Distinct channels each user is subscribed to across this process's streams (the seed's
    100 per user). A second stream (device) on the same channels costs nothing more."""

    def __init__(self, limit: int = MAX_SUBSCRIPTIONS_PER_USER) -> None:
        self.limit = limit
        self._users: dict[str, dict[str, int]] = {}

    def acquire(self, user: str, channel: str) -> None:
        channels = self._users.setdefault(user, {})
        if channel not in channels and len(channels) >= self.limit:
            raise resource_exhausted(
                f"at most {self.limit} channel subscriptions per user", reason="TOO_MANY_SUBSCRIPTIONS"
            )
        channels[channel] = channels.get(channel, 0) + 1

    def release(self, user: str, channel: str) -> None:
        channels = self._users.get(user)
        if channels is None or channel not in channels:
            return
        if channels[channel] > 1:
            channels[channel] -= 1
        else:
            del channels[channel]
            if not channels:
                del self._users[user]

    def count(self, user: str) -> int:
        return len(self._users.get(user, ()))


class QueueBudgets:
    """One `ByteBudget` per user for the send queues of all that user's streams in this process:
    however many streams a user opens, their queued publications stay within `limit` bytes
    (0 disables the bound)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._users: dict[str, ByteBudget] = {}

    def acquire(self, user: str) -> ByteBudget | None:
        """The user's budget (None when `limit` is 0: no per-user bound)."""
        if self.limit <= 0:
            return None
        budget = self._users.get(user)
        if budget is None:
            budget = self._users[user] = ByteBudget(self.limit)
        budget.holders += 1
        return budget

    def release(self, user: str, budget: ByteBudget) -> None:
        budget.holders -= 1
        if budget.holders <= 0 and self._users.get(user) is budget:
            del self._users[user]

    def used(self, user: str) -> int:
        budget = self._users.get(user)
        return 0 if budget is None else budget.used


@dataclass(slots=True)
class _Channel:
    epoch: str
    #: Offsets <= last are covered (sent on this stream, or before the subscription started).
    last: int
    #: Offsets in (start, last] were sent live on this stream.
    start: int


@dataclass(frozen=True, slots=True)
class Subscribed:
    channel: str
    position: StreamPosition
    resumed: bool
    recovered: bool
    replay: list[Publication]
    #: With `resumed` and not `recovered`: EPOCH_CHANGED, HISTORY_EXCEEDED or OFFSET_AHEAD.
    reason: str = RECOVERED


class NotificationSession:
    # Slots: one per open stream (an idle stream should cost little).
    __slots__ = (
        "_broker",
        "_budget",
        "_budgets",
        "_channels",
        "_config",
        "_counter",
        "_join_leave",
        "_policy",
        "_presence",
        "_sub",
        "client_id",
        "who",
    )

    def __init__(
        self,
        broker: Broker,
        policy: ChannelPolicy,
        who: Principal,
        client_id: str,
        *,
        config: ChannelConfig,
        counter: SubscriptionCounter,
        presence: PresenceKeeper,
        max_queue_bytes: int,
        max_queue_items: int = 10_000,
        budgets: QueueBudgets | None = None,
    ) -> None:
        self._broker = broker
        self._policy = policy
        self.who = who
        self.client_id = client_id
        self._config = config
        self._counter = counter
        self._presence = presence
        self._channels: dict[str, _Channel] = {}
        #: Channels whose join/leave events this stream receives.
        self._join_leave: frozenset[str] = _NO_CHANNELS
        self._budgets = budgets
        self._budget = None if budgets is None else budgets.acquire(who.subject)
        try:
            self._sub = broker.subscribe(
                maxsize=max_queue_items, max_bytes=max_queue_bytes, on_close=_cut_off, budget=self._budget
            )
        except BaseException:
            self._release_budget()
            raise

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    async def subscribe(
        self, channel: str, since: StreamPosition | None, join_leave: bool = False
    ) -> Subscribed:
        validate_channel(channel)
        await self._policy.check_read(self.who, channel)
        if join_leave and not self._config.for_channel(channel).presence:
            raise failed_precondition(
                f"channel {channel!r} does not track presence: no join/leave events",
                reason="NO_PRESENCE",
            )
        if join_leave and channel not in self._join_leave:
            # Before joining, so the stream sees its own join like everyone else's.
            await self._sub.add(events_channel(channel))
            self._join_leave = self._join_leave | {channel}
            self._presence.watch(channel)
        state = self._channels.get(channel)
        if state is None:
            self._counter.acquire(self.who.subject, channel)
            try:
                await self._sub.add(channel)
            except BaseException:
                self._counter.release(self.who.subject, channel)
                raise
        try:
            return await self._start(channel, since, state)
        except BaseException:
            if state is None:
                self._channels.pop(channel, None)
                self._counter.release(self.who.subject, channel)
                await self._sub.remove(channel)
                await self._stop_join_leave(channel)
            raise

    async def _start(self, channel: str, since: StreamPosition | None, state: _Channel | None) -> Subscribed:
        if since is None:
            top = (await self._broker.history(channel, limit=0)).position
            if state is None:
                self._channels[channel] = _Channel(top.epoch, top.offset, top.offset)
                await self._join(channel)
            else:
                top = StreamPosition(state.epoch, max(state.last, top.offset))
            return Subscribed(channel, top, False, False, [])
        if not since.epoch and since.offset == 0:
            # The position of a channel that had no publication yet: everything of its current
            # epoch is what was missed.
            since = StreamPosition((await self._broker.history(channel, limit=0)).position.epoch, 0)
        res = await self._broker.history(channel, since=since)
        top = res.position
        replay = res.publications if res.recovered else []
        if state is None:
            start = since.offset if res.recovered else top.offset
            self._channels[channel] = _Channel(top.epoch, top.offset, start)
            await self._join(channel)
        elif state.epoch == top.epoch and res.recovered:
            # Already receiving it live: replay only what this stream has not sent, then widen the
            # sent interval (start, last] to cover the replay.
            replay = [p for p in replay if not state.start < p.offset <= state.last]
            if since.offset <= state.last:
                state.start = min(state.start, since.offset)
            else:
                state.start = since.offset
            state.last = max(state.last, top.offset)
        elif state.epoch != top.epoch:
            start = since.offset if res.recovered else top.offset
            state.epoch, state.last, state.start = top.epoch, top.offset, start
        # Same epoch but not recovered: nothing replayed; queued live publications still go out.
        reason = RECOVERED if res.recovered else not_recovered_reason(since, top)
        return Subscribed(channel, top, True, res.recovered, replay, reason)

    async def _join(self, channel: str) -> None:
        if self._config.for_channel(channel).presence:
            await self._presence.add(channel, self.client_id, self.who.subject)

    async def unsubscribe(self, channel: str) -> bool:
        """False when the stream was not subscribed to `channel`."""
        validate_channel(channel)
        if self._channels.pop(channel, None) is None:
            return False
        self._counter.release(self.who.subject, channel)
        await self._sub.remove(channel)
        await self._stop_join_leave(channel)
        await self._presence.remove(channel, self.client_id)
        return True

    async def _stop_join_leave(self, channel: str) -> None:
        if channel in self._join_leave:
            self._join_leave = self._join_leave - {channel} or _NO_CHANNELS
            self._presence.unwatch(channel)
            await self._sub.remove(events_channel(channel))

    def accept(self, pub: Publication) -> bool:
        """Whether a live publication goes out on this stream (and note it as sent)."""
        if is_presence_event(pub):
            return True  # only channels subscribed with join_leave deliver them
        state = self._channels.get(pub.channel)
        if state is None:
            return False
        if pub.epoch != state.epoch:
            # The channel's history was lost (new epoch): its offsets restart.
            state.epoch, state.start, state.last = pub.epoch, pub.offset - 1, pub.offset
            return True
        if pub.offset <= state.last:
            return False
        state.last = pub.offset
        return True

    @property
    def queued(self) -> int:
        """Live publications waiting (some may still be filtered out by `take`)."""
        return self._sub.queued

    def ready(self) -> asyncio.Future[None]:
        """Done once `take()` has something (or the feed ended), or `command_arrived` woke it."""
        return self._sub.ready()

    def take(self) -> Publication | None:
        """The next live publication to send on this stream, or None for now. Raises the stream's
        final error once its feed ended (SLOW_CONSUMER / BROKER_UNAVAILABLE, with resume positions)."""
        while True:
            try:
                pub = self._sub.get_nowait()
            except SubscriptionClosed as closed:
                raise session_error(closed.reason, self.positions()) from None
            if pub is None or self.accept(pub):
                return pub

    def positions(self) -> dict[str, StreamPosition]:
        """Per channel, the position to resume from: the last offset this stream covered."""
        return {ch: StreamPosition(st.epoch, st.last) for ch, st in self._channels.items()}

    def command_arrived(self, read: asyncio.Future[Any]) -> None:
        """Done-callback of the stream's pending command read: wake the stream loop, which waits
        on the subscription alone."""
        quiet(read)
        self._sub.wake()

    async def close(self) -> None:
        channels = list(self._channels)
        self._channels.clear()
        for channel in self._join_leave:
            self._presence.unwatch(channel)
        self._join_leave = _NO_CHANNELS
        for channel in channels:
            self._counter.release(self.who.subject, channel)
        try:
            await self._sub.close()
        finally:
            self._sub.discard()  # what was queued leaves the user's budget with the stream
            self._release_budget()
        for channel in channels:
            await self._presence.remove(channel, self.client_id)

    def _release_budget(self) -> None:
        if self._budgets is not None and self._budget is not None:
            self._budgets.release(self.who.subject, self._budget)
            self._budget = None


def _cut_off(sub: Subscription) -> None:
    """A consumer that fell behind resumes from history: free its queue at once rather than
    holding it until its stalled stream is read again."""
    if sub.closed_reason == CLOSED_OVERFLOW:
        sub.discard()


def session_error(reason: str, positions: dict[str, StreamPosition] | None = None) -> HubError:
    """How a stream ends when its broker subscription closed under it. ErrorInfo metadata
    `position:{channel}` = `{epoch}:{offset}` says where to resume each channel from."""
    if reason == CLOSED_OVERFLOW:
        err = resource_exhausted(
            "the stream's send queue is full (slow consumer); reconnect and resume from the last offset",
            reason="SLOW_CONSUMER",
        )
    else:
        err = unavailable(
            "the broker connection was lost; reconnect and resume from the last offset",
            reason="BROKER_UNAVAILABLE",
            retry_after=1.0,
        )
    err.metadata = {f"position:{ch}": f"{p.epoch}:{p.offset}" for ch, p in (positions or {}).items()}
    return err
