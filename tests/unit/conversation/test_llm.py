"""The streamed language-model responder against the local fake: sentences, tools, fallbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from realtime.server.conversation import events as ev
from realtime.server.conversation.assistant import AssistantParams
from realtime.server.conversation.config import ConversationConfig
from realtime.server.conversation.conversation import Conversation, StartParams
from realtime.server.conversation.engines import Engines
from realtime.server.conversation.llm import SentenceSplitter, trim_history
from realtime.server.platform.errors import HubError
from tests.fake_llm import FakeLlm, fake_llm

ORDER_TOOL = (
    "get_order_status",
    "Look up an order by its number",
    json.dumps({"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}),
)


def test_sentences_are_cut_as_they_end() -> None:
    s = SentenceSplitter()
    out: list[str] = []
    for piece in ["Hello Dr. Smith", ", your order ", "is ready! It ", "costs 3.50 dollars."]:
        out += s.feed(piece)
    assert out == ["Hello Dr. Smith, your order is ready!"]
    assert s.feed(" Bye") == ["It costs 3.50 dollars."]
    assert s.flush() == ["Bye"] and s.flush() == []
    long = SentenceSplitter().feed("word " * 100)  # no end mark: cut at a space, bounded
    assert long and all(len(x) <= 240 for x in long)


def test_history_is_bounded_and_keeps_tool_pairs() -> None:
    system = {"role": "system", "content": "prompt"}
    messages = [system]
    for n in range(100):  # a long call: user, assistant tool call, tool result, assistant answer
        messages += [
            {"role": "user", "content": f"q{n}"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{n}"}]},
            {"role": "tool", "tool_call_id": f"c{n}", "content": "{}"},
            {"role": "assistant", "content": f"a{n}"},
        ]
        trim_history(messages, 10)
        assert len(messages) <= 11 and messages[0] is system
        assert messages[1]["role"] == "user"  # never a tool result without its call
    assert messages[-1]["content"] == "a99"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLlm]:
    async with fake_llm(token_delay_s=0.03) as f:
        yield f


def config_for(fake: FakeLlm, **kw: object) -> ConversationConfig:
    return ConversationConfig.load(
        {
            "responder": "chat",
            "hosted_base_url": fake.base_url,
            "stt_workers": 1,
            "stt_decoders_per_worker": 1,
            "idle_timeout_s": 0,
            "first_token_timeout_s": 2.0,
            **kw,
        }
    )


async def until(conv: Conversation, match: type, seen: list[ev.Event], timeout: float = 20) -> ev.Event:
    async with asyncio.timeout(timeout):
        while True:
            event = await conv.next_event()
            assert event is not None, [type(e).__name__ for e in seen]
            seen.append(event)
            if isinstance(event, match):
                return event


class FakeTime:
    """Reply audio is paced by the conversation's sleep: jump instead of playing in real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


async def test_six_turns_streamed_with_a_tool_call(fake: FakeLlm) -> None:
    config = config_for(fake)
    engines = Engines(config)
    t = FakeTime()
    conv = Conversation(engines, config, clock=t.clock, sleep=t.sleep)
    params = StartParams(
        sample_rate=8000,
        assistant=AssistantParams(
            system_prompt="You are the order desk of Acme.",
            greeting="Acme orders, hello!",
            tools=[ORDER_TOOL],
        ),
    )
    seen: list[ev.Event] = []
    replies: list[str] = []
    try:
        await conv.start("s", params)
        greeting = await until(conv, ev.Reply, seen)
        assert isinstance(greeting, ev.Reply) and greeting.text == "Acme orders, hello!"
        for words in ("hello there", "tell me a story", "where is order 42", "thanks", "one more thing"):
            await conv.text(words)
            while True:
                event = await until(conv, (ev.Reply, ev.ToolCall), seen)  # type: ignore[arg-type]
                if isinstance(event, ev.ToolCall):
                    assert event.name == "get_order_status" and json.loads(event.arguments_json) == {
                        "order_id": "42"
                    }
                    await conv.tool_result(
                        event.call_id, json.dumps({"order_id": "42", "status": "shipped"}), False
                    )
                    continue
                assert isinstance(event, ev.Reply) and event.responder == "llm" and not event.should_terminate
                replies.append(event.text)
                break
        await conv.text("ok goodbye")
        last = await until(conv, ev.Ended, seen)
        assert isinstance(last, ev.Ended) and last.reason == "CONVERSATION_COMPLETE"
    finally:
        await conv.close()
        await engines.close()
    assert replies[0] == "I heard hello there. What else can I do for you?"
    assert replies[1].startswith("This is sentence number 1 of a long story.")
    assert replies[2] == "One moment, let me check. Order 42 is shipped. Anything else?"
    final = [e for e in seen if isinstance(e, ev.Reply)][-1]
    assert final.text == "Thank you for calling. Goodbye." and final.should_terminate
    # The story was spoken sentence by sentence: its first audio came before its full text.
    story_turn = 1_000_002
    kinds = [
        type(e).__name__
        for e in seen
        if getattr(e, "turn", None) == story_turn and not isinstance(e, ev.Status)
    ]
    assert kinds.index("ReplyAudio") < kinds.index("Reply")
    segments = [e for e in seen if isinstance(e, ev.ReplySegment) and e.turn == story_turn]
    assert len(segments) == 15
    # The model saw the system prompt, the tool and its result.
    bodies = fake.requests
    assert bodies[0]["messages"][0]["content"].startswith("You are the order desk of Acme.")
    assert bodies[0]["tools"][0]["function"]["name"] == "get_order_status"
    tool_msgs = [m for b in bodies for m in b["messages"] if m["role"] == "tool"]
    assert tool_msgs and "shipped" in tool_msgs[0]["content"]


async def test_tool_timeout_unknown_call_and_first_token_fallback(fake: FakeLlm) -> None:
    config = config_for(fake, first_token_timeout_s=0.5)
    engines = Engines(config)
    conv = Conversation(engines, config)
    params = StartParams(
        sample_rate=8000, assistant=AssistantParams(tools=[ORDER_TOOL], tool_timeout_s=0.3, tool_filler="")
    )
    seen: list[ev.Event] = []
    try:
        await conv.start("s", params)
        with pytest.raises(HubError) as err:
            await conv.tool_result("call_nope", "{}", False)
        assert err.value.reason == "UNKNOWN_TOOL_CALL"
        await conv.text("order 7 please")
        call = await until(conv, ev.ToolCall, seen)
        assert isinstance(call, ev.ToolCall)
        reply = await until(conv, ev.Reply, seen)  # nobody answers the tool: it times out
        assert isinstance(reply, ev.Reply) and "timed out" in reply.text
        assert any(isinstance(e, ev.Status) and e.reason == "TOOL_TIMEOUT" for e in seen)
        with pytest.raises(HubError):  # too late: the call is no longer pending
            await conv.tool_result(call.call_id, "{}", False)
        fake.mode = "slow"  # no first token in time: the canned responder answers, and says so
        await conv.text("hello")
        fallback = await until(conv, ev.Reply, seen)
        assert isinstance(fallback, ev.Reply) and fallback.responder == "canned" and fallback.fallback
        assert any(isinstance(e, ev.Status) and e.reason == "ENGINE_FALLBACK" for e in seen)
    finally:
        await conv.close()
        await engines.close()


@pytest.mark.parametrize(
    ("assistant", "field"),
    [
        (AssistantParams(system_prompt="x" * 9000), "start.assistant.system_prompt"),
        (AssistantParams(tools=[("bad name!", "", "")]), "start.assistant.tools[0].name"),
        (AssistantParams(tools=[("t", "", "{not json")]), "start.assistant.tools[0].parameters_json"),
        (AssistantParams(tools=[("t", "", '{"type": "array"}')]), "start.assistant.tools[0].parameters_json"),
        (
            AssistantParams(tools=[("t", "", '{"type": "object", "properties": {}, "required": ["x"]}')]),
            "start.assistant.tools[0].parameters_json",
        ),
        (AssistantParams(tools=[ORDER_TOOL, ORDER_TOOL]), "start.assistant.tools[1].name"),
        (AssistantParams(tools=[(f"t{i}", "", "") for i in range(40)]), "start.assistant.tools"),
        (AssistantParams(max_turns=-1), "start.assistant.max_turns"),
        (AssistantParams(tool_timeout_s=3600), "start.assistant.tool_timeout"),
    ],
)
async def test_bad_assistant_settings_are_invalid_argument(assistant: AssistantParams, field: str) -> None:
    config = ConversationConfig.load({"idle_timeout_s": 0})
    engines = Engines(config)
    conv = Conversation(engines, config)
    try:
        with pytest.raises(HubError) as err:
            await conv.start("s", StartParams(assistant=assistant))
        assert err.value.code.name == "INVALID_ARGUMENT" and err.value.reason == "INVALID_ASSISTANT"
        assert field in [v.field for v in err.value.violations]
        assert not conv.started
    finally:
        await conv.close()
        await engines.close()


async def test_a_call_to_an_undeclared_tool_is_refused_to_the_model(fake: FakeLlm) -> None:
    config = config_for(fake)
    engines = Engines(config)
    conv = Conversation(engines, config)
    other = ("lookup_weather", "", "")  # declared, but the model calls get_order_status
    seen: list[ev.Event] = []
    try:
        await conv.start("s", StartParams(sample_rate=8000, assistant=AssistantParams(tools=[other])))
        await conv.text("where is order 5")
        reply = await until(conv, ev.Reply, seen)
    finally:
        await conv.close()
        await engines.close()
    assert not any(isinstance(e, ev.ToolCall) for e in seen)  # the application is not asked
    assert any(isinstance(e, ev.Status) and e.reason == "UNKNOWN_TOOL" for e in seen)
    assert isinstance(reply, ev.Reply) and "unknown tool 'get_order_status'" in reply.text
