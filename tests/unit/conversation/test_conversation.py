"""A conversation with a fake clock: pacing and idle timeouts without real waiting."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from realtime.server.conversation import events as ev
from realtime.server.conversation.config import ConversationConfig
from realtime.server.conversation.conversation import Conversation, ConversationManager, StartParams
from realtime.server.conversation.engines import Engines
from realtime.server.conversation.metrics import ConversationMetrics
from realtime.server.platform.errors import HubError


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


CONFIG = ConversationConfig.load({"stt_prestart": False, "max_turns": 5, "max_conversations": 1})


async def collect(conv: Conversation, until: type, timeout: float = 10) -> list[ev.Event]:
    seen: list[ev.Event] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await conv.next_event()
            assert event is not None, seen
            seen.append(event)
            if isinstance(event, until) and (not isinstance(event, ev.ReplyAudio) or event.last):
                return seen


async def test_repeated_reply_is_served_from_the_cache() -> None:
    registry = CollectorRegistry()
    engines = Engines(CONFIG, ConversationMetrics(registry))
    t = FakeTime()
    # The fake sleep jumps time at once, so an idle watchdog sleeping beside it would fire.
    config = ConversationConfig.load({**CONFIG.__dict__, "idle_timeout_s": 0})
    conv = Conversation(engines, config, clock=t.clock, sleep=t.sleep)
    conv.open()
    try:
        await conv.start("s", StartParams(sample_rate=8000))
        for _ in range(3):  # "unknown" has two lines: the third reply repeats the second
            await conv.text("hello there")
            events = await collect(conv, ev.ReplyAudio)
        latency = next(e for e in events if isinstance(e, ev.Latency))
        assert latency.stages_ms["tts"] == 0  # a cache hit costs no synthesis time
    finally:
        await conv.close()
        await engines.close()

    def sample(result: str) -> float:
        return registry.get_sample_value("realtime_conversation_reply_cache_total", {"result": result}) or 0

    assert (sample("miss"), sample("l1")) == (2, 1)
    assert registry.get_sample_value("realtime_conversation_turns_total") == 3


async def test_idle_conversation_ends_after_the_timeout() -> None:
    engines = Engines(CONFIG)
    t = FakeTime()
    conv = Conversation(engines, CONFIG, clock=t.clock, sleep=t.sleep)
    start = t.now
    conv.open()
    try:
        events = await collect(conv, ev.Ended)
    finally:
        await conv.close()
        await engines.close()
    assert isinstance(events[-1], ev.Ended) and events[-1].reason == "IDLE_TIMEOUT"
    assert t.now - start >= CONFIG.idle_timeout_s
    assert await conv.next_event() is None


async def test_manager_limits_live_conversations() -> None:
    engines = Engines(CONFIG)
    manager = ConversationManager(engines, CONFIG)
    first = manager.open()
    try:
        try:
            manager.open()
            raise AssertionError("second conversation accepted")
        except HubError as err:
            assert err.reason == "CONVERSATION_LIMIT" and err.retry_after
        await manager.close(first)
        second = manager.open()
        await manager.close(second)
    finally:
        await manager.close(first)
        await engines.close()
