"""FixText and FixTextBatch through a real hub: results, and every bad input refused cleanly."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import pytest

from realtime.server.testing import TestHub
from realtime.v1 import text_pb2, text_pb2_grpc

from .text_support import bad_request, text_hub


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with text_hub(tmp_path) as h:
        yield h


async def fix(hub: TestHub, request: text_pb2.FixTextRequest) -> text_pb2.FixTextResponse:
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        return await stub.FixText(request, timeout=10)


async def refused(hub: TestHub, request: text_pb2.FixTextRequest) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fix(hub, request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return bad_request(caught.value)


async def test_fix_text_layout_and_clean(hub: TestHub) -> None:
    reply = await fix(hub, text_pb2.FixTextRequest(text="akuo  nv akunl?"))
    assert reply.fix.text == "שלום מה שלומך?"
    kinds = [s.kind for s in reply.fix.suggestions]
    assert kinds == [
        text_pb2.SUGGESTION_KIND_LAYOUT,
        text_pb2.SUGGESTION_KIND_CLEAN,
        text_pb2.SUGGESTION_KIND_LAYOUT,
        text_pb2.SUGGESTION_KIND_LAYOUT,
    ]
    first = reply.fix.suggestions[0]
    assert (first.offset, first.length, first.replacement) == (0, 4, "שלום")
    assert 0 < first.confidence <= 1 and first.message
    assert reply.fix.compute_time.ToNanoseconds() > 0


async def test_operations_and_hints(hub: TestHub) -> None:
    only_clean = await fix(
        hub, text_pb2.FixTextRequest(text="akuo  nv", operations=[text_pb2.OPERATION_CLEAN])
    )
    assert only_clean.fix.text == "akuo nv"
    hinted = await fix(
        hub, text_pb2.FixTextRequest(text="burt", options=text_pb2.FixOptions(language_hints=["he"]))
    )
    assert hinted.fix.text == "נורא"
    untouched = await fix(hub, text_pb2.FixTextRequest(text="tbh see https://example.com"))
    assert untouched.fix.text == "tbh see https://example.com" and not untouched.fix.suggestions


async def test_bad_unary_input(hub: TestHub) -> None:
    assert "text" in await refused(hub, text_pb2.FixTextRequest(text=""))
    assert "text" in await refused(hub, text_pb2.FixTextRequest(text="a" * 100_001))
    assert "operations[1]" in await refused(
        hub, text_pb2.FixTextRequest(text="a", operations=[text_pb2.OPERATION_CLEAN, 0])
    )
    assert "operations[0]" in await refused(hub, text_pb2.FixTextRequest(text="a", operations=[9]))
    assert "options.language_hints[0]" in await refused(
        hub, text_pb2.FixTextRequest(text="a", options=text_pb2.FixOptions(language_hints=["xx"]))
    )


async def test_context_decides_short_texts_and_the_decision_is_sent(hub: TestHub) -> None:
    alone = await fix(hub, text_pb2.FixTextRequest(text="nv?"))
    assert alone.fix.text == "nv?"
    context = text_pb2.FixOptions(context=["שלום", "יש לך רגע?"])
    reply = await fix(hub, text_pb2.FixTextRequest(text="nv?", options=context))
    d = reply.fix.decision
    assert (reply.fix.text, d.language, d.reason) == ("מה?", "he", "context") and 0 < d.confidence <= 1
    reply = await fix(hub, text_pb2.FixTextRequest(text="fi"))
    assert (reply.fix.text, reply.fix.decision.reason) == ("כן", "short_reply")
    clean_only = await fix(hub, text_pb2.FixTextRequest(text="fi", operations=[text_pb2.OPERATION_CLEAN]))
    assert not clean_only.fix.HasField("decision")  # no layout fix ran: nothing was judged
    items = [text_pb2.FixTextBatchItem(id=str(i), text=t) for i, t in enumerate(["nv?", "ok", "akuo nv"])]
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        batch = await stub.FixTextBatch(
            text_pb2.FixTextBatchRequest(items=items, options=context), timeout=10
        )
    assert [r.fix.text for r in batch.results] == ["מה?", "ok", "שלום מה"]
    assert [r.fix.decision.reason for r in batch.results] == ["context", "short_reply", "context"]


async def test_bad_context_is_refused(hub: TestHub) -> None:
    def with_context(context: list[str]) -> text_pb2.FixTextRequest:
        return text_pb2.FixTextRequest(text="nv?", options=text_pb2.FixOptions(context=context))

    assert "options.context" in await refused(hub, with_context(["m"] * 11))
    assert "options.context[1]" in await refused(hub, with_context(["ok", "x" * 1001]))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with hub.client("alice") as client:
            stub = client.stub(text_pb2_grpc.TextServiceStub)
            await stub.FixTextBatch(
                text_pb2.FixTextBatchRequest(
                    items=[text_pb2.FixTextBatchItem(id="a", text="nv?")],
                    options=text_pb2.FixOptions(context=["m"] * 11),
                ),
                timeout=10,
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "options.context" in bad_request(caught.value)


@pytest.mark.parametrize("payload", [b"\xff\xfe", b"ok\xed\xa0\x80", b"\xc3"])
async def test_invalid_utf8_is_invalid_argument(hub: TestHub, payload: bytes) -> None:
    # Field 1 (text), wire type 2, holding bytes that are not UTF-8 (a lone surrogate, a cut sequence).
    raw = b"\x0a" + bytes([len(payload)]) + payload
    md = (("authorization", f"Bearer {hub.token('alice')}"),)
    async with grpc.aio.insecure_channel(hub.target) as channel:
        call = channel.unary_unary("/realtime.v1.TextService/FixText")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(raw, metadata=md, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request" in bad_request(caught.value)


async def test_unauthenticated(hub: TestHub) -> None:
    async with hub.client(None) as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.FixText(text_pb2.FixTextRequest(text="akuo"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_batch_mixed_items(hub: TestHub) -> None:
    items = [
        text_pb2.FixTextBatchItem(id="a", text="akuo"),
        text_pb2.FixTextBatchItem(id="b", text=""),
        text_pb2.FixTextBatchItem(id="c", text="susu", operations=[7]),
        text_pb2.FixTextBatchItem(id="d", text="x" * 100_001),
        text_pb2.FixTextBatchItem(id="e", text="יקךךם  world", operations=[text_pb2.OPERATION_FIX_LAYOUT]),
    ]
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        reply = await stub.FixTextBatch(text_pb2.FixTextBatchRequest(items=items), timeout=10)
    got = {r.id: r for r in reply.results}
    assert [r.id for r in reply.results] == ["a", "b", "c", "d", "e"]
    assert got["a"].fix.text == "שלום"
    assert got["e"].fix.text == "hello  world"  # layout only: the double space stays
    for bad, field in (("b", "items[1].text"), ("c", "items[2].operations[0]"), ("d", "items[3].text")):
        err = got[bad].error
        assert (err.code, err.command_id) == (3, bad)
        assert f"field:{field}" in err.metadata


@pytest.mark.parametrize("count", [0, 101])
async def test_batch_size_limits(hub: TestHub, count: int) -> None:
    items = [text_pb2.FixTextBatchItem(text="akuo") for _ in range(count)]
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.FixTextBatch(text_pb2.FixTextBatchRequest(items=items), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items" in bad_request(caught.value)


async def test_batch_of_large_texts_runs_off_the_loop(hub: TestHub) -> None:
    text = "akuo nv akunl " * 400  # above the inline limit: computed in the thread pool
    items = [text_pb2.FixTextBatchItem(id=str(i), text=text) for i in range(3)]
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        reply = await stub.FixTextBatch(text_pb2.FixTextBatchRequest(items=items), timeout=30)
    assert all(r.fix.text.startswith("שלום מה שלומך ") for r in reply.results)


def _metric(hub: TestHub, name: str) -> float:
    with urllib.request.urlopen(f"{hub.http_url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def test_big_batches_move_to_worker_processes_with_the_same_answers(hub: TestHub) -> None:
    """A big batch first runs on threads while the worker processes start, then on them:
    the answers (fixes and per-item errors) must not change with the runner."""
    items = [
        text_pb2.FixTextBatchItem(id="a", text="akuo nv akunl " * 200),
        text_pb2.FixTextBatchItem(id="b", text=""),
        text_pb2.FixTextBatchItem(id="c", text="susu", operations=[7]),
        text_pb2.FixTextBatchItem(id="d", text="caf\u00c3\u00a9  ok", operations=[text_pb2.OPERATION_CLEAN]),
        text_pb2.FixTextBatchItem(id="e", text="x" * 100_001),
    ]
    options = text_pb2.FixOptions(language_hints=["he"], context=["יש לך רגע?"])
    request = text_pb2.FixTextBatchRequest(items=items, options=options)

    def comparable(reply: text_pb2.FixTextBatchResponse) -> list[text_pb2.FixTextBatchResult]:
        out = []
        for r in reply.results:
            r = text_pb2.FixTextBatchResult.FromString(r.SerializeToString())
            if r.HasField("fix"):  # (touching r.fix otherwise would switch the oneof to it)
                r.fix.ClearField("compute_time")
            out.append(r)
        return out

    processes = 'realtime_text_batches_total{runner="processes"}'
    async with hub.client("alice") as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        first = comparable(await stub.FixTextBatch(request, timeout=30))
        assert first[0].fix.text.startswith("שלום מה שלומך ") and first[3].fix.text == "café ok"
        assert [r.error.command_id for r in first[1:3]] == ["b", "c"] and first[4].error.code == 3
        for _ in range(120):  # at most ~60 s for a spawned worker to import and load its lexicon
            reply = comparable(await stub.FixTextBatch(request, timeout=30))
            assert reply == first
            if await asyncio.to_thread(_metric, hub, processes) > 0:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("big batches never ran in the worker processes")
    assert await asyncio.to_thread(_metric, hub, 'realtime_text_batches_total{runner="threads"}') >= 1
