from __future__ import annotations

import pytest

from realtime.server.broker.memory import MemoryBroker
from realtime.server.broker.redis import RedisBroker
from realtime.server.conversation.cache import ReplyAudioCache, cache_key
from realtime.server.conversation.service import l2_for
from realtime.server.conversation.throttle import AudioPacer, IdleTimer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_l1_hits_and_bounded_lru() -> None:
    cache = ReplyAudioCache(max_bytes=10)
    assert await cache.get("a") == (None, "miss")
    await cache.put("a", b"12345")
    await cache.put("b", b"12345")
    assert await cache.get("a") == (b"12345", "l1")  # a is now the most recent
    await cache.put("c", b"123")
    assert await cache.get("b") == (None, "miss")  # b was the least recent
    assert cache.size_bytes <= 10
    await cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept
    assert await cache.get("huge") == (None, "miss")


def test_key_depends_on_everything() -> None:
    base = cache_key("hi", "en-us", 175, 16000, "espeak")
    assert base != cache_key("hi", "en-us", 175, 8000, "espeak")
    assert base != cache_key("hi", "en-gb", 175, 16000, "espeak")
    assert base != cache_key("hi!", "en-us", 175, 16000, "espeak")
    assert base == cache_key("hi", "en-us", 175, 16000, "espeak")


async def test_l2_on_a_shared_redis_broker(redis_url: str, redis_prefix: str) -> None:
    broker = RedisBroker(redis_url, prefix=redis_prefix)
    await broker.start()
    try:
        l2 = l2_for(broker)
        assert l2 is not None
        writer = ReplyAudioCache(1000, l2)
        await writer.put("k", b"audio")
        reader = ReplyAudioCache(1000, l2)  # another replica: empty L1
        assert await reader.get("k") == (b"audio", "l2")
        assert await reader.get("k") == (b"audio", "l1")
    finally:
        await broker.close()


async def test_no_l2_for_an_in_process_broker_and_l2_failures_are_misses() -> None:
    assert l2_for(MemoryBroker()) is None
    assert l2_for(None) is None

    class Broken:
        async def get(self, key: str) -> bytes | None:
            raise ConnectionError("down")

        async def set(self, key: str, value: bytes, ttl_s: float) -> None:
            raise ConnectionError("down")

    cache = ReplyAudioCache(100, Broken())
    await cache.put("k", b"v")  # the write to L2 fails quietly; L1 still has it
    assert await cache.get("k") == (b"v", "l1")
    assert await cache.get("other") == (None, "miss")


def test_pacer_allows_burst_then_real_time_factor() -> None:
    clock = Clock()
    pacer = AudioPacer(factor=2.0, burst_ms=100, clock=clock)
    assert pacer.add(100) == 0
    assert pacer.add(100) == pytest.approx(0.05)  # 100 ms over budget at 2x -> wait 50 ms
    clock.now += 0.05
    assert pacer.add(0) == pytest.approx(0, abs=1e-9)
    clock.now += 1.0
    assert pacer.add(1900) == 0  # 1 s later, about 2 s more audio is allowed at 2x
    assert AudioPacer(0, 0, clock).add(10_000) == 0  # factor 0 disables throttling


def test_idle_timer() -> None:
    clock = Clock()
    idle = IdleTimer(30, clock)
    clock.now += 29
    assert not idle.expired()
    idle.touch()
    clock.now += 29.5
    assert idle.remaining() == pytest.approx(0.5)
    clock.now += 1
    assert idle.expired()
