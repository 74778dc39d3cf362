"""The Session stream through a real hub: debounce, results per version, bad commands, shutdown."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from realtime.server.testing import TestHub
from realtime.v1 import common_pb2, text_pb2, text_pb2_grpc

from .text_support import Session, edit, text_hub


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with text_hub(tmp_path) as h:
        yield h


def seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


async def test_burst_is_debounced_into_one_result(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        # A long debounce: nothing computes while typing; half-closing computes what is pending.
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=seconds(5)))
        opened = await s.next()
        assert opened.command_id == "o" and opened.opened.debounce.ToNanoseconds() == 5_000_000_000
        typed = "akunl"  # one word, no word end typed: only the debounce (or half-closing) computes
        for v in range(1, len(typed) + 1):
            await s.send(id=f"k{v}", edit=edit("d", v, typed[:v]))
        await s.call.done_writing()
        superseded = await s.next()
        assert list(superseded.superseded.versions) == list(range(1, len(typed)))
        assert superseded.superseded.reason == text_pb2.SUPERSEDED_REASON_DEBOUNCED
        result = await s.next()
        assert result.command_id == f"k{len(typed)}"
        assert (result.result.version, result.result.fix.text) == (len(typed), "שלומך")
        assert await s.call.read() is grpc.aio.EOF
        assert await s.call.code() == grpc.StatusCode.OK


async def test_a_completed_word_is_fixed_without_waiting_for_the_debounce(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        # The longest debounce (10 s) and a 9 s read timeout: a result can only come from the word end.
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=seconds(10)))
        await s.next()
        typed = "akuo nv?"
        for v in range(1, len(typed) + 1):
            await s.send(id=f"k{v}", edit=edit("d", v, typed[:v]))
        texts = {}
        async with asyncio.timeout(9):
            while len(typed) not in texts:
                event = await s.next(timeout=9)
                if event.WhichOneof("event") == "result":
                    texts[event.result.version] = event.result.fix.text
        assert texts[len(typed)] == "שלום מה?"
        # A computation may be cancelled by the next keystroke; every result that came is right.
        assert all(text == ("שלום " if v == 5 else "שלום מה?") for v, text in texts.items()), texts
        s.call.cancel()


async def test_result_arrives_after_the_debounce(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        await s.send(id="c", configure=text_pb2.ConfigureCommand(debounce=seconds(0.2)))
        assert (await s.next()).configured.debounce.ToNanoseconds() == 200_000_000
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d"))
        await s.next()
        sent = time.monotonic()
        await s.send(id="e1", edit=edit("d", 1, "susu"))
        result = await s.next()
        assert time.monotonic() - sent >= 0.2
        assert (result.command_id, result.result.version, result.result.fix.text) == ("e1", 1, "דודו")
        await s.send(id="f", flush=text_pb2.FlushCommand(document_id="d"))
        again = await s.next()
        assert (again.command_id, again.result.version) == ("f", 1)
        await s.send(id="p", ping=common_pb2.PingCommand())
        assert (await s.next()).WhichOneof("event") == "pong"
        s.call.cancel()


async def test_several_documents_with_ranged_edits(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        for doc in ("title", "body"):
            await s.send(id=f"o-{doc}", open=text_pb2.OpenCommand(document_id=doc, debounce=seconds(0)))
        await s.send(id="t1", edit=edit("title", 1, "akuo"))
        insert = text_pb2.TextChanges(changes=[text_pb2.TextChange(offset=0, length=0, text="יקךךם")])
        await s.send(id="b1", edit=text_pb2.EditCommand(document_id="body", version=1, changes=insert))
        results = {}
        async with asyncio.timeout(10):
            while len(results) < 2:
                event = await s.next()
                if event.WhichOneof("event") == "result":
                    results[event.result.document_id] = event.result.fix.text
        assert results == {"title": "שלום", "body": "hello"}
        await s.send(id="c", close=text_pb2.CloseCommand(document_id="title"))
        closed = await s.next()
        assert closed.closed.document_id == "title"
        s.call.cancel()


async def test_bad_commands_get_error_events_and_the_stream_stays(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", version=3))
        await s.next()
        out_of_range = text_pb2.TextChanges(changes=[text_pb2.TextChange(offset=5, length=0, text="x")])
        bad = [
            ("unknown", {"edit": edit("nope", 4, "x")}, "DOCUMENT_NOT_OPEN"),
            ("backwards", {"edit": edit("d", 2, "x")}, "VERSION_OUT_OF_ORDER"),
            ("same", {"edit": edit("d", 3, "x")}, "VERSION_OUT_OF_ORDER"),
            (
                "range",
                {"edit": text_pb2.EditCommand(document_id="d", version=4, changes=out_of_range)},
                "INVALID_ARGUMENT",
            ),
            ("nocontent", {"edit": text_pb2.EditCommand(document_id="d", version=4)}, "INVALID_ARGUMENT"),
            ("huge", {"edit": edit("d", 4, "x" * 100_001)}, "INVALID_ARGUMENT"),
            ("op", {"open": text_pb2.OpenCommand(document_id="e", operations=[0])}, "INVALID_ARGUMENT"),
            ("dup", {"open": text_pb2.OpenCommand(document_id="d")}, "DOCUMENT_ALREADY_OPEN"),
            (
                "slow",
                {"open": text_pb2.OpenCommand(document_id="e", debounce=seconds(60))},
                "INVALID_ARGUMENT",
            ),
            ("empty", {}, "INVALID_ARGUMENT"),
        ]
        for cid, command, reason in bad:
            await s.send(id=cid, **command)
            event = await s.next()
            assert event.WhichOneof("event") == "error", (cid, event)
            assert (event.command_id, event.error.command_id, event.error.reason) == (cid, cid, reason)
            assert event.error.code == 3
        await s.send(id="c", close=text_pb2.CloseCommand(document_id="d"))
        await s.next()
        await s.send(id="closed", edit=edit("d", 9, "x"))
        assert (await s.next()).error.reason == "DOCUMENT_NOT_OPEN"
        await s.send(id="p", ping=common_pb2.PingCommand())
        assert (await s.next()).WhichOneof("event") == "pong"
        s.call.cancel()


async def test_malformed_command_bytes_get_an_error_event(hub: TestHub) -> None:
    md = (("authorization", f"Bearer {hub.token('alice')}"),)
    async with grpc.aio.insecure_channel(hub.target) as channel:
        call = channel.stream_stream("/realtime.v1.TextService/Session")(metadata=md)
        # SessionRequest.id (field 1) holding invalid UTF-8, then a valid ping.
        await call.write(b"\x0a\x02\xff\xfe")
        await call.write(text_pb2.SessionRequest(id="p", ping=common_pb2.PingCommand()).SerializeToString())
        first = text_pb2.SessionResponse.FromString(await asyncio.wait_for(call.read(), 10))
        second = text_pb2.SessionResponse.FromString(await asyncio.wait_for(call.read(), 10))
        assert first.error.reason == "MALFORMED_REQUEST" and first.error.code == 3
        assert (second.command_id, second.WhichOneof("event")) == ("p", "pong")
        call.cancel()


async def test_too_many_documents(hub: TestHub) -> None:
    async with hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        for i in range(17):
            await s.send(id=str(i), open=text_pb2.OpenCommand(document_id=f"doc{i}"))
        for _ in range(16):
            assert (await s.next()).WhichOneof("event") == "opened"
        refused = await s.next()
        assert (refused.command_id, refused.error.code, refused.error.reason) == ("16", 8, "QUOTA_EXCEEDED")
        s.call.cancel()


async def test_unauthenticated_session(hub: TestHub) -> None:
    async with hub.client(None) as client:
        call = client.stub(text_pb2_grpc.TextServiceStub).Session()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(call.read(), 10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_shutdown_sends_going_away(tmp_path: Path) -> None:
    async with text_hub(tmp_path) as h, h.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=seconds(5)))
        await s.next()
        await s.send(id="e", edit=edit("d", 1, "akuo"))
        stopping = asyncio.ensure_future(h.hub.stop(grace=2.0))
        event, _ = await s.until("going_away")
        assert event.going_away.reason
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(s.call.read(), 10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        await asyncio.wait_for(stopping, 10)
