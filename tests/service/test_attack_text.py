"""Attacks on the text fixer through a real hub: ten times the documented batch, and a batch
whose answers are bigger than its questions (Latin-layout Hebrew: one byte in, two out)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from realtime.v1 import text_pb2, text_pb2_grpc

from .text_support import text_hub


async def test_a_batch_whose_fixes_outgrow_the_message_limit(tmp_path: Path) -> None:
    """100 items of ~9,000 characters typed on the wrong layout: the request fits the 1 MiB
    limit, but each fix is Hebrew (two UTF-8 bytes per letter) plus its changes, far past 1 MiB
    together. Every item must still get its answer or its own clear error, never a call that
    dies with 'Sent message larger than max'."""
    words = "akuo nv ,v ankl "  # "שלום מה קורה ..." typed with the English layout
    text = (words * 600)[:9000]
    items = [text_pb2.FixTextBatchItem(id=str(i), text=text) for i in range(100)]
    async with text_hub(tmp_path) as hub, hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        request = text_pb2.FixTextBatchRequest(items=items)
        assert request.ByteSize() < 1024 * 1024
        batch = await stub.FixTextBatch(request, timeout=60)
        assert [r.id for r in batch.results] == [str(i) for i in range(100)]
        fixed = [r for r in batch.results if r.WhichOneof("outcome") == "fix"]
        refused = [r for r in batch.results if r.WhichOneof("outcome") == "error"]
        assert fixed and refused and len(fixed) + len(refused) == 100
        assert all(r.fix.text.startswith("שלום מה") for r in fixed)
        assert {(r.error.code, r.error.reason) for r in refused} == {
            (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "RESPONSE_TOO_LARGE")
        }
        # One text alone whose answer is over the limit: a clear error, not a dead call.
        alone = text_pb2.FixTextRequest(text=(words * 7000)[:100_000])
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.FixText(alone, timeout=60)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" not in (err.value.details() or "")
        assert "send a shorter text" in (err.value.details() or "")


@pytest.mark.parametrize("count", [1000])
async def test_ten_times_the_batch_limit_is_refused_cleanly(tmp_path: Path, count: int) -> None:
    items = [text_pb2.FixTextBatchItem(id=str(i), text="akuo") for i in range(count)]
    async with text_hub(tmp_path) as hub, hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.FixTextBatch(text_pb2.FixTextBatchRequest(items=items), timeout=20)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_session_document_whose_fix_outgrows_the_message_limit(tmp_path: Path) -> None:
    """A Session document of 100,000 characters typed on the wrong layout: its result would be
    over the message limit. The stream must answer with an error event and stay open (a ping
    still gets its pong), not die with 'Sent message larger than max'."""
    from google.protobuf import duration_pb2

    from realtime.v1 import common_pb2

    from .text_support import Session, edit

    text = ("akuo nv ,v ankl " * 7000)[:100_000]
    async with text_hub(tmp_path) as hub, hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=duration_pb2.Duration()))
        assert (await s.next()).WhichOneof("event") == "opened"
        await s.send(id="e1", edit=edit("d", 1, text))
        answer = await s.next(timeout=60)
        assert answer.WhichOneof("event") == "error", answer.WhichOneof("event")
        assert answer.error.reason == "RESPONSE_TOO_LARGE" and answer.command_id == "e1"
        await s.send(id="p", ping=common_pb2.PingCommand())
        assert (await s.next()).WhichOneof("event") == "pong"
        s.call.cancel()


async def test_the_same_edit_twice_and_twenty_documents_at_once(tmp_path: Path) -> None:
    """An edit resent with the same version is refused on its own (the document keeps the first);
    opening more documents than a stream may hold is refused per command; the stream lives on."""
    from google.protobuf import duration_pb2

    from realtime.v1 import common_pb2

    from .text_support import Session, edit

    async with text_hub(tmp_path) as hub, hub.client("alice") as client:
        s = Session(client.stub(text_pb2_grpc.TextServiceStub).Session())
        no_wait = duration_pb2.Duration()
        await s.send(id="o", open=text_pb2.OpenCommand(document_id="d", debounce=no_wait))
        assert (await s.next()).WhichOneof("event") == "opened"
        await s.send(id="e1", edit=edit("d", 1, "akuo"))
        await s.send(id="e1-again", edit=edit("d", 1, "akuo"))
        answers = {}
        for _ in range(2):
            event = await s.next()
            answers[event.command_id] = event
        assert answers["e1"].result.fix.text == "שלום"
        assert answers["e1-again"].WhichOneof("event") == "error", answers["e1-again"]
        kinds = []
        for i in range(20):
            await s.send(id=f"o{i}", open=text_pb2.OpenCommand(document_id=f"doc{i}", debounce=no_wait))
            kinds.append((await s.next()).WhichOneof("event"))
        assert kinds.count("opened") == 15 and kinds.count("error") == 5, kinds  # 16 per stream
        await s.send(id="p", ping=common_pb2.PingCommand())
        assert (await s.next()).WhichOneof("event") == "pong"
        s.call.cancel()
