"""Reply audio cache: identical (text, voice, rate, sample rate) speech is synthesised once.

L1 is in memory, least-recently-used, bounded in bytes. L2 is the broker's key-value store
when one is configured (shared by replicas); it is optional and its failures are only
misses, never errors for the caller.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger("realtime.conversation")


class KeyValue(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...


def cache_key(text: str, voice: str, rate_wpm: int, sample_rate: int, engine: str) -> str:
    digest = hashlib.sha256(f"{engine}\0{voice}\0{rate_wpm}\0{sample_rate}\0{text}".encode()).hexdigest()
    return f"conversation:tts:{digest[:40]}"


class ReplyAudioCache:
    def __init__(self, max_bytes: int, l2: KeyValue | None = None, ttl_s: float = 7200) -> None:
        self.max_bytes = max_bytes
        self.l2 = l2
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> tuple[bytes | None, str]:
        """(audio or None, where it came from: "l1", "l2" or "miss")."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found, "l1"
        if self.l2 is not None:
            try:
                value = await self.l2.get(key)
            except Exception:
                log.warning("reply cache L2 read failed", exc_info=True)
                value = None
            if value is not None:
                self._put_l1(key, value)
                return value, "l2"
        return None, "miss"

    async def put(self, key: str, value: bytes) -> None:
        self._put_l1(key, value)
        if self.l2 is not None:
            try:
                await self.l2.set(key, value, self.ttl_s)
            except Exception:
                log.warning("reply cache L2 write failed", exc_info=True)

    def _put_l1(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._items[key] = value
        self._bytes += len(value)
        while self._bytes > self.max_bytes:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= len(evicted)
