"""Keeps the presence entries of this process's streams alive in the broker, and tells join/leave.

One loop for the whole process refreshes every entry every `ttl / 3` seconds
(cheaper than one timer per stream). An entry of a crashed process expires
after `ttl` on its own.

Join/leave events (for streams that subscribed with `join_leave`) travel on a side broker
channel per channel, `#presence:{channel}` (`#` never starts a channel name), without history.
A join is announced by the replica the connection is on. A leave too when the stream ends or
unsubscribes; when the replica died, its entries expire and every replica with a `join_leave`
subscriber on that channel notices at its next sweep (every `ttl / 3`). Whoever claims the key
`notify:left:{channel}:{client}` first announces the leave, so it is announced once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from ..broker.base import Broker, BrokerError, Publication

log = logging.getLogger("realtime.notifications")

EVENTS_PREFIX = "#presence:"
_LONGEST = 255 - len(EVENTS_PREFIX)  # a broker channel name has at most 255 characters
JOIN = "join"
LEAVE = "leave"


def events_channel(channel: str) -> str:
    """The broker channel carrying `channel`'s join/leave events (a digest for very long names)."""
    if len(channel) > _LONGEST:
        channel = hashlib.sha256(channel.encode()).hexdigest()
    return EVENTS_PREFIX + channel


def is_presence_event(pub: Publication) -> bool:
    return pub.channel.startswith(EVENTS_PREFIX)


def event_of(pub: Publication) -> tuple[str, str, str, str]:
    """(channel, JOIN or LEAVE, client id, user id) of a join/leave publication."""
    m = pub.meta
    return m.get("ch", ""), m.get("e", ""), m.get("c", ""), m.get("u", "")


class PresenceKeeper:
    def __init__(self, broker: Broker, ttl: float = 60.0) -> None:
        self._broker = broker
        self.ttl = ttl
        self._entries: dict[tuple[str, str], str] = {}
        #: Channels with local join_leave subscribers (how many), and who was present at the last sweep.
        self._watched: dict[str, int] = {}
        self._seen: dict[str, dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def add(self, channel: str, client_id: str, user_id: str) -> None:
        new = (channel, client_id) not in self._entries
        self._entries[(channel, client_id)] = user_id
        await self._broker.presence_add(channel, client_id, user_id=user_id, ttl=self.ttl)
        if new:
            await self._announce(channel, JOIN, client_id, user_id)

    async def remove(self, channel: str, client_id: str) -> None:
        user_id = self._entries.pop((channel, client_id), None)
        if user_id is not None:
            try:
                await self._broker.presence_remove(channel, client_id)
                await self._leave(channel, client_id, user_id)
            except BrokerError:
                pass  # expires on its own, and a sweep announces the leave

    def watch(self, channel: str) -> None:
        """A local stream wants `channel`'s join/leave events: sweep it for expired entries."""
        self._watched[channel] = self._watched.get(channel, 0) + 1

    def unwatch(self, channel: str) -> None:
        left = self._watched.get(channel, 0) - 1
        if left > 0:
            self._watched[channel] = left
        else:
            self._watched.pop(channel, None)
            self._seen.pop(channel, None)

    async def _announce(self, channel: str, change: str, client_id: str, user_id: str) -> None:
        await self._broker.publish(
            events_channel(channel),
            b"",
            meta={"ch": channel, "e": change, "c": client_id, "u": user_id},
            history_size=0,
            history_ttl=self.ttl,
        )

    async def _leave(self, channel: str, client_id: str, user_id: str) -> None:
        claim = f"notify:left:{channel}:{client_id}"
        if await self._broker.kv_set_if_absent(claim, b"1", ttl=3 * self.ttl):
            await self._announce(channel, LEAVE, client_id, user_id)

    async def sweep(self) -> None:
        """Announce the leave of entries that expired since the last sweep (a dead replica's)."""
        for channel in list(self._watched):
            present = await self._broker.presence(channel)
            now = {client: entry.user_id for client, entry in present.items()}
            before = self._seen.get(channel, {})
            if channel in self._watched:
                self._seen[channel] = now
            for client, user_id in before.items():
                if client not in now:
                    await self._leave(channel, client, user_id)

    async def refresh(self) -> None:
        for (channel, client_id), user_id in list(self._entries.items()):
            if (channel, client_id) in self._entries:
                await self._broker.presence_add(channel, client_id, user_id=user_id, ttl=self.ttl)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
                await self.sweep()
            except BrokerError as exc:
                log.warning("presence refresh failed: %s", exc)
