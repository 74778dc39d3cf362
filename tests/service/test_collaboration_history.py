"""Version history and the document store, on both stores (the broker's and PostgreSQL).

One suite, parametrised by store: ListVersions pages, GetDocument at a version,
bad input; then what only PostgreSQL keeps (every version, across restarts).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from realtime.server.collaboration.ops import CreateElement, EditText
from realtime.server.collaboration.textop import splice
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")
WORDS = ["Hello", " brave", " new", " world", "!"]


@contextlib.asynccontextmanager
async def hub_on(tmp: Path, store: str, **extra: object) -> AsyncIterator[TestHub]:
    tmp.mkdir(exist_ok=True)  # noqa: ASYNC240  (test setup, before the hub starts)
    async with running_hub(tmp, services=SERVICES, document_store=store, extra=dict(extra)) as h:
        yield h


@pytest.fixture(params=["broker", "postgresql"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "broker":
        return "broker"
    return str(request.getfixturevalue("pg_url"))


def stub(client):  # type: ignore[no-untyped-def]
    return client.stub(collaboration_pb2_grpc.CollaborationServiceStub)


async def type_words(hub: TestHub, doc: str, words: list[str] = WORDS) -> None:
    """Create `doc` with one text element and type `words` into it, one version each."""
    async with hub.client("alice") as c:
        await stub(c).CreateDocument(pb.CreateDocumentRequest(document_id=doc), timeout=5)
        async with Peer(c, "a") as alice:
            await alice.join(doc)
            await alice.answer(alice.submit(CreateElement("t", "", "text", "V", {"text": ""})))
            offset = 0
            for word in words:
                ack = await alice.answer(alice.submit(EditText("t", "text", splice(offset, 0, word))))
                assert ack.WhichOneof("event") == "applied"
                offset += len(word)


def text_of(reply: pb.GetDocumentResponse) -> str:
    if not reply.snapshot.elements:
        return "<none>"
    return reply.snapshot.elements[0].properties["text"].string_value


async def test_versions_and_document_at_each_version(tmp_path: Path, store: str) -> None:
    doc = f"hist-{tmp_path.name[-12:]}"
    async with hub_on(tmp_path, store) as hub:
        await type_words(hub, doc)
        async with hub.client("alice") as c:
            s = stub(c)
            seen: list[pb.DocumentVersion] = []
            token = ""
            for _ in range(10):
                page = await s.ListVersions(
                    pb.ListVersionsRequest(document_id=doc, page_size=2, page_token=token), timeout=5
                )
                seen += page.versions
                token = page.next_page_token
                if not token:
                    break
            assert [v.version for v in seen] == [6, 5, 4, 3, 2, 1]
            assert page.current_version == 6 and page.oldest_version == 0
            assert seen[0].author == "alice" and seen[0].summary == "edit t.text +1 -0"
            assert seen[-1].summary == "create text t" and seen[0].applied_at.seconds > 0
            assert seen[0].operation.WhichOneof("kind") == "edit_text"
            expected = ["<none>", ""] + ["".join(WORDS[:i]) for i in range(1, len(WORDS) + 1)]
            for version, text in enumerate(expected):
                got = await s.GetDocument(pb.GetDocumentRequest(document_id=doc, version=version), timeout=5)
                assert got.snapshot.version == version and got.document.version == version
                assert text_of(got) == text
            now = await s.GetDocument(pb.GetDocumentRequest(document_id=doc), timeout=5)
            assert text_of(now) == "Hello brave new world!"


async def test_bad_history_requests(tmp_path: Path, store: str) -> None:
    doc = f"bad-{tmp_path.name[-12:]}"
    async with hub_on(tmp_path, store) as hub:
        await type_words(hub, doc, ["x"])
        async with hub.client("alice") as c, hub.client("mallory") as m:
            s = stub(c)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await s.GetDocument(pb.GetDocumentRequest(document_id=doc, version=99), timeout=5)
            assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
            for size, token in ((-1, ""), (1001, ""), (0, "abc"), (0, "9" * 40)):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await s.ListVersions(
                        pb.ListVersionsRequest(document_id=doc, page_size=size, page_token=token), timeout=5
                    )
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (size, token)
            for call in (
                stub(m).ListVersions(pb.ListVersionsRequest(document_id=doc), timeout=5),
                stub(m).GetDocument(pb.GetDocumentRequest(document_id=doc, version=1), timeout=5),
                s.ListVersions(pb.ListVersionsRequest(document_id="no-such-doc"), timeout=5),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)


async def test_what_each_store_keeps_after_compaction_and_restart(tmp_path: Path, store: str) -> None:
    """PostgreSQL keeps every version (across a hub restart); the broker's store what its log holds."""
    doc = f"keep-{tmp_path.name[-12:]}"
    words = [f"{i % 10}" for i in range(40)]
    small = {"collab_log_limit": 10, "collab_log_keep": 5, "collab_save_debounce": 0.05}
    async with hub_on(tmp_path / "a", store, **small) as hub:
        await type_words(hub, doc, words)
        async with hub.client("alice") as c:
            page = await stub(c).ListVersions(
                pb.ListVersionsRequest(document_id=doc, page_size=1000), timeout=5
            )
            if store == "broker":
                assert page.oldest_version > 30 and len(page.versions) < 12
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub(c).GetDocument(pb.GetDocumentRequest(document_id=doc, version=3), timeout=5)
                assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "oldest version kept" in str(err.value.details())
                return
            assert [v.version for v in page.versions] == list(range(41, 0, -1))
    async with hub_on(tmp_path / "b", store, **small) as hub, hub.client("alice") as c:
        page = await stub(c).ListVersions(pb.ListVersionsRequest(document_id=doc, page_size=1000), timeout=5)
        assert [v.version for v in page.versions] == list(range(41, 0, -1))
        for version in (0, 1, 3, 20, 41):
            got = await stub(c).GetDocument(
                pb.GetDocumentRequest(document_id=doc, version=version), timeout=5
            )
            assert got.snapshot.version == version
            if version >= 1:
                assert text_of(got) == "".join(words[: version - 1])
