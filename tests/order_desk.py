"""The docs' example application: an order-status assistant that answers the model's tool calls.

    python -m tests.fake_llm --port 8090 &
    REALTIME_CONVERSATION_RESPONDER=chat \\
    REALTIME_CONVERSATION_HOSTED_BASE_URL=http://127.0.0.1:8090/v1 realtime-server &
    python -m tests.order_desk --token "$(realtime token --sub alice)" "where is order 42" "goodbye"
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator

from realtime.client import Client
from realtime.v1 import conversation_pb2 as pb
from realtime.v1 import conversation_pb2_grpc

ORDERS = {"42": "shipped", "77": "delivered"}
TOOL = pb.ToolDeclaration(
    name="get_order_status",
    description="Look up an order by its number",
    parameters_json=json.dumps(
        {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    ),
)


def lookup(arguments_json: str) -> str:
    """The application's own code: here a dictionary, in real life a database or an API."""
    order_id = str(json.loads(arguments_json).get("order_id", ""))
    return json.dumps({"order_id": order_id, "status": ORDERS.get(order_id, "not found")})


async def order_desk(client: Client, lines: list[str]) -> list[str]:
    """Says each line as a caller turn and returns the assistant's replies (greeting first)."""
    stub = client.stub(conversation_pb2_grpc.ConversationServiceStub)
    outbox: asyncio.Queue[pb.ConverseRequest | None] = asyncio.Queue()
    assistant = pb.AssistantSettings(
        system_prompt="You are the Acme order desk. Use get_order_status for order questions.",
        greeting="Acme orders, how can I help?",
        tools=[TOOL],
    )
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hz=8000)
    await outbox.put(pb.ConverseRequest(id="start", start=pb.StartCommand(format=fmt, assistant=assistant)))
    pending = list(lines)

    async def commands() -> AsyncIterator[pb.ConverseRequest]:
        while (cmd := await outbox.get()) is not None:
            yield cmd

    replies: list[str] = []
    async for event in stub.Converse(commands()):
        kind = event.WhichOneof("event")
        if kind == "tool_call":
            call = event.tool_call
            result = pb.ToolResultCommand(call_id=call.call_id, content=lookup(call.arguments_json))
            await outbox.put(pb.ConverseRequest(tool_result=result))
        elif kind == "reply":
            replies.append(event.reply.text)
            if pending:  # the next caller turn once the previous one is answered
                await outbox.put(pb.ConverseRequest(text=pb.TextCommand(text=pending.pop(0))))
            elif not event.reply.should_terminate:
                await outbox.put(pb.ConverseRequest(end=pb.EndCommand()))
        elif kind == "ended":
            break
    await outbox.put(None)
    return replies


async def main() -> None:
    parser = argparse.ArgumentParser(description="an order-status assistant over Converse")
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--token", required=True)
    parser.add_argument("lines", nargs="+", help="what the caller says, turn by turn")
    args = parser.parse_args()
    async with Client(args.server, token=args.token) as client:
        for reply in await order_desk(client, args.lines):
            print(reply)


if __name__ == "__main__":
    asyncio.run(main())
