"""Keeps the presence entries of this process's streams alive in the broker.

One loop for the whole process refreshes every entry every `ttl / 3` seconds
(cheaper than one timer per stream). An entry of a crashed process expires
after `ttl` on its own.
"""

from __future__ import annotations

import asyncio
import logging

from ..broker.base import Broker, BrokerError

log = logging.getLogger("realtime.notifications")


class PresenceKeeper:
    def __init__(self, broker: Broker, ttl: float = 60.0) -> None:
        self._broker = broker
        self.ttl = ttl
        self._entries: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def add(self, channel: str, client_id: str, user_id: str) -> None:
        self._entries[(channel, client_id)] = user_id
        await self._broker.presence_add(channel, client_id, user_id=user_id, ttl=self.ttl)

    async def remove(self, channel: str, client_id: str) -> None:
        if self._entries.pop((channel, client_id), None) is not None:
            try:
                await self._broker.presence_remove(channel, client_id)
            except BrokerError:
                pass  # expires on its own

    async def refresh(self) -> None:
        for (channel, client_id), user_id in list(self._entries.items()):
            if (channel, client_id) in self._entries:
                await self._broker.presence_add(channel, client_id, user_id=user_id, ttl=self.ttl)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
            except BrokerError as exc:
                log.warning("presence refresh failed: %s", exc)
