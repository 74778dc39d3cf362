"""The configured assistant over gRPC: per-call settings, tools, barge-in on a streamed reply,
an interrupted goodbye, and bad assistant input."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import duration_pb2

from realtime.server.testing import running_hub
from realtime.v1 import conversation_pb2 as pb
from tests.fake_llm import fake_llm
from tests.order_desk import order_desk

from .conversation_client import FAST, SERVICES, Session, end, goforward, start, text

ORDER_TOOL = pb.ToolDeclaration(
    name="get_order_status",
    description="Look up an order by its number",
    parameters_json=json.dumps({"type": "object", "properties": {"order_id": {"type": "string"}}}),
)


def tool_result(call_id: str, content: str, cid: str = "tr") -> pb.ConverseRequest:
    return pb.ConverseRequest(id=cid, tool_result=pb.ToolResultCommand(call_id=call_id, content=content))


def error_of(s: Session, cid: str) -> pb.ConverseResponse:
    return next(e for e in s.events if e.command_id == cid and e.WhichOneof("event") == "error")


async def test_barge_in_cancels_the_model_stream_and_tools_work_over_grpc(tmp_path: Path) -> None:
    async with fake_llm(token_delay_s=0.1) as fake:
        conf = {**FAST, "responder": "chat", "hosted_base_url": fake.base_url, "playback_lead_ms": 60}
        async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
            async with h.client("alice") as client:
                s = Session(client)
                assistant = pb.AssistantSettings(
                    system_prompt="You are the Acme order desk.",
                    greeting="Acme, hello.",
                    tools=[ORDER_TOOL],
                    tool_timeout=duration_pb2.Duration(seconds=5),
                    tool_filler="Let me look.",
                )
                s.send(start(assistant=assistant))
                await s.until(lambda e: e.WhichOneof("event") == "reply" and e.reply.responder == "greeting")
                s.send(tool_result("call_unknown", "{}", cid="early-result"))
                s.send(text("where is order 77"))
                call = (await s.until_kind("tool_call")).tool_call
                assert call.name == "get_order_status" and json.loads(call.arguments_json) == {
                    "order_id": "77"
                }
                assert call.deadline.seconds == 5
                s.send(tool_result(call.call_id, json.dumps({"order_id": "77", "status": "delivered"})))
                s.send(tool_result(call.call_id, "{}", cid="twice"))
                answer = await s.until(
                    lambda e: e.WhichOneof("event") == "reply" and e.reply.turn == call.turn
                )
                assert answer.reply.text == "Let me look. Order 77 is delivered. Anything else?"
                assert answer.reply.responder == "llm" and not answer.reply.fallback
                # A long streamed answer; the caller talks over its first sentence.
                s.send(text("tell me a story"))
                await s.until(
                    lambda e: e.WhichOneof("event") == "reply_segment" and "story" in e.reply_segment.text
                )
                await s.until_kind("reply_audio")
                seq = await s.send_audio(goforward(), pace_s=0.02)
                await s.until_kind("interrupted")
                await s.send_audio(b"\0" * 32_000, first_seq=seq, pace_s=0.02)
                await s.until(lambda e: e.WhichOneof("event") == "reply" and "forward" in e.reply.text)
                s.send(end())
                await s.finished(timeout=60)
    assert error_of(s, "early-result").error.reason == "UNKNOWN_TOOL_CALL"
    assert error_of(s, "twice").error.reason == "UNKNOWN_TOOL_CALL"
    assert fake.cancelled == 1  # the story's stream was closed mid-way by the barge-in
    stories = [r for r in s.of("reply") if "story" in r.text]
    assert not stories  # it never finished, so no full reply was sent
    # The model learned that the caller interrupted it.
    last = fake.requests[-1]["messages"]
    assert any("interrupted" in str(m.get("content")) for m in last if m["role"] == "assistant")


async def test_an_interrupted_goodbye_is_not_spoken_again(tmp_path: Path) -> None:
    conf = {**FAST, "playback_lead_ms": 60}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start(assistant=pb.AssistantSettings(max_turns=1)))
            await s.until_kind("ready")
            s.send(text("hello"))
            goodbye = (await s.until_kind("reply")).reply
            assert goodbye.should_terminate and goodbye.responder == "canned"
            await s.until_kind("reply_audio")
            seq = await s.send_audio(goforward(), pace_s=0.02)  # the caller talks over the goodbye
            await s.until_kind("interrupted")
            await s.send_audio(b"\0" * 32_000, first_seq=seq, pace_s=0.02)
            events = await s.finished(timeout=60)
    replies = s.of("reply")
    assert len(replies) == 2 and replies[1].text != goodbye.text and replies[1].should_terminate
    assert events[-1].ended.reason == pb.END_REASON_CONVERSATION_COMPLETE


async def test_bad_assistant_settings_over_grpc(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            huge = start(assistant=pb.AssistantSettings(system_prompt="x" * 20_000))
            huge.id = "huge"
            bad_schema = start(
                assistant=pb.AssistantSettings(tools=[pb.ToolDeclaration(name="t", parameters_json="[1, 2")])
            )
            bad_schema.id = "schema"
            s.send(huge, bad_schema, tool_result("nope", "{}", cid="before-start"))
            s.send(start())  # a good start is still accepted afterwards
            await s.until_kind("ready")
            s.send(tool_result("nope", "x" * 20_000, cid="too-big"))
            s.send(tool_result("nope", "{}", cid="unknown"))
            s.send(end())
            await s.finished()
    assert error_of(s, "huge").error.reason == "INVALID_ASSISTANT"
    assert "field:start.assistant.system_prompt" in error_of(s, "huge").error.metadata
    assert "field:start.assistant.tools[0].parameters_json" in error_of(s, "schema").error.metadata
    assert error_of(s, "before-start").error.reason == "NOT_STARTED"
    assert error_of(s, "too-big").error.reason == "TOOL_RESULT_TOO_LARGE"
    assert error_of(s, "unknown").error.reason == "UNKNOWN_TOOL_CALL"


async def test_the_docs_order_desk_example_runs(tmp_path: Path) -> None:
    async with fake_llm(token_delay_s=0.01) as fake:
        conf = {**FAST, "responder": "chat", "hosted_base_url": fake.base_url, "playback_lead_ms": 600_000}
        async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
            async with h.client("alice") as client:
                replies = await order_desk(client, ["where is order 42", "and order 99", "goodbye"])
    assert replies == [
        "Acme orders, how can I help?",
        "One moment, let me check. Order 42 is shipped. Anything else?",
        "One moment, let me check. Order 99 is not found. Anything else?",
        "Thank you for calling. Goodbye.",
    ]
