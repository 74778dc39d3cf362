"""In-process fan-out and presence, shared by the engines that live in one process.

The memory and SQLite engines both deliver publications to the subscriptions of
THIS process (there are no other replicas to reach) and both keep presence in
memory (presence is ephemeral: it describes who is connected now, which a
restart ends anyway). Redis has its own versions of both.
"""

from __future__ import annotations

from .model import PresenceEntry, Publication
from .subscription import Subscription
from .validate import check_channel, check_key


class LocalFanout:
    """Live subscriptions of this process, by channel. Call everything on the event loop."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def attach(self, sub: Subscription, channels: list[str]) -> None:
        for channel in channels:
            check_channel(channel)
            self._subs.setdefault(channel, set()).add(sub)

    def detach(self, sub: Subscription, channels: list[str]) -> None:
        for channel in channels:
            subs = self._subs.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[channel]

    def deliver(self, pub: Publication) -> None:
        """Hand `pub` to every subscription of its channel; one that overflows is dropped."""
        subs = self._subs.get(pub.channel)
        if subs:
            for sub in list(subs):
                sub._deliver(pub)
                if sub.closed:  # overflowed: it gets nothing more (it must recover from history)
                    subs.discard(sub)

    def count(self, channel: str) -> int:
        return len(self._subs.get(channel, ()))

    def close_all(self, reason: str) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub._close(reason)
        self._subs.clear()


class LocalPresence:
    """Presence entries by channel, purged when read (and by `purge`/`sweep`)."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, PresenceEntry]] = {}

    def add(self, channel: str, client_id: str, user_id: str, info: bytes, ttl: float, now: float) -> float:
        """Add or refresh an entry; returns when it expires."""
        check_channel(channel)
        check_key(client_id, "client_id")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        expires = now + ttl
        self._entries.setdefault(channel, {})[client_id] = PresenceEntry(
            client_id, user_id, bytes(info), expires
        )
        return expires

    def remove(self, channel: str, client_id: str) -> None:
        entries = self._entries.get(channel)
        if entries is not None:
            entries.pop(client_id, None)
            if not entries:
                del self._entries[channel]

    def purge(self, channel: str, now: float) -> dict[str, PresenceEntry]:
        """Drop the channel's expired entries; returns the live ones (the stored dict)."""
        entries = self._entries.get(channel)
        if entries is None:
            return {}
        for cid in [c for c, e in entries.items() if e.expires_at <= now]:
            del entries[cid]
        if not entries:
            del self._entries[channel]
        return entries

    def sweep(self, now: float) -> None:
        for channel in list(self._entries):
            self.purge(channel, now)

    def get(self, channel: str, now: float) -> dict[str, PresenceEntry]:
        check_channel(channel)
        return dict(self.purge(channel, now))
