"""Version history and the document store, on both stores (the broker's and PostgreSQL).

One suite, parametrised by store: ListVersions pages, GetDocument at a version,
bad input; then what only PostgreSQL keeps (every version, across restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from realtime.common.collaboration.ops import CreateElement, EditText
from realtime.common.collaboration.textop import splice
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc
from tests.postgres_server import private_cluster

from .collab_peer import Peer
from .test_buf_curl import BUF, buf_curl
from .test_collaboration_cli import CLI

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


async def cli(hub: TestHub, user: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "--server",
        hub.target,
        "--token",
        hub.token(user),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


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


async def test_postgres_restart_mid_session(tmp_path: Path) -> None:
    """PostgreSQL stops while people edit: calls that need it are UNAVAILABLE, the live session
    goes on, and once it is back every acknowledged operation is written (nothing lost)."""
    with private_cluster() as pg:
        fast = {"collab_save_debounce": 0.05, "collab_save_max_wait": 0.2}
        async with hub_on(tmp_path / "a", pg.url, **fast) as hub, hub.client("alice") as c:
            s = stub(c)
            await s.CreateDocument(pb.CreateDocumentRequest(document_id="live"), timeout=5)
            async with Peer(c, "a") as alice:
                await alice.join("live")
                await alice.answer(alice.submit(CreateElement("t", "", "text", "V", {"text": ""})))
                typed = ""
                for word in WORDS[:2]:
                    await alice.answer(alice.submit(EditText("t", "text", splice(len(typed), 0, word))))
                    typed += word
                await asyncio.to_thread(pg.stop)
                for call in (
                    s.CreateDocument(pb.CreateDocumentRequest(document_id="while-down"), timeout=10),
                    s.ListVersions(pb.ListVersionsRequest(document_id="live", page_size=100), timeout=10),
                    s.ListDocuments(pb.ListDocumentsRequest(), timeout=10),
                ):
                    with pytest.raises(grpc.aio.AioRpcError) as err:
                        await call
                    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value
                for word in WORDS[2:]:  # acknowledged while PostgreSQL is down
                    ack = await alice.answer(alice.submit(EditText("t", "text", splice(len(typed), 0, word))))
                    assert ack.WhichOneof("event") == "applied"
                    typed += word
                await asyncio.to_thread(pg.start)
                async with asyncio.timeout(30):
                    while True:  # the save loop retries; the pool reconnects by itself
                        try:
                            page = await s.ListVersions(
                                pb.ListVersionsRequest(document_id="live", page_size=100), timeout=10
                            )
                            break
                        except grpc.aio.AioRpcError as exc:
                            assert exc.code() == grpc.StatusCode.UNAVAILABLE
                            await asyncio.sleep(0.1)
                assert [v.version for v in page.versions] == list(range(6, 0, -1))
                await s.CreateDocument(pb.CreateDocumentRequest(document_id="after"), timeout=10)
        async with hub_on(tmp_path / "b", pg.url) as hub, hub.client("alice") as c:
            got = await stub(c).GetDocument(pb.GetDocumentRequest(document_id="live"), timeout=10)
            assert text_of(got) == typed == "".join(WORDS)
            old = await stub(c).GetDocument(pb.GetDocumentRequest(document_id="live", version=4), timeout=10)
            assert text_of(old) == "".join(WORDS[:3])


async def test_history_through_the_cli_and_buf_curl(tmp_path: Path, pg_url: str) -> None:
    doc = f"cli-{tmp_path.name[-12:]}"
    async with hub_on(tmp_path, pg_url) as hub:
        await type_words(hub, doc)
        code, out, err = await cli(hub, "alice", "--json", "doc", "history", doc, "--limit", "4")
        assert code == 0, err
        versions = [json.loads(line) for line in out.splitlines()]
        assert [int(v["version"]) for v in versions] == [6, 5, 4, 3]
        assert versions[0]["author"] == "alice" and versions[0]["summary"] == "edit t.text +1 -0"
        code, out, err = await cli(hub, "alice", "doc", "history", doc, "--before", "3")
        assert code == 0, err
        assert [line.split()[0] for line in out.splitlines()] == ["v2", "v1"]
        assert "create text t" in out
        code, out, err = await cli(hub, "alice", "--json", "doc", "show", doc, "--version", "4")
        assert code == 0, err
        shown = json.loads(out)
        assert shown["snapshot"]["elements"][0]["properties"]["text"] == "Hello brave new"
        code, out, err = await cli(hub, "alice", "doc", "show", doc, "--version", "99")
        assert code != 0 and "OUT_OF_RANGE" in err
        code, out, err = await cli(hub, "bob", "doc", "history", doc)
        assert code != 0 and ("NOT_FOUND" in err or "PERMISSION_DENIED" in err)

        assert BUF.exists(), "run `make setup` (npm ci installs the pinned buf)"
        auth = f"authorization: Bearer {hub.token('alice')}"
        base = f"http://{hub.target}/realtime.v1.CollaborationService"
        body = json.dumps({"documentId": doc, "pageSize": 2})
        code, out, err = await buf_curl("-H", auth, "-d", body, base + "/ListVersions")
        assert code == 0, err
        page = json.loads(out)
        assert [int(v["version"]) for v in page["versions"]] == [6, 5] and page["nextPageToken"] == "5"
        assert page["currentVersion"] == "6"
        body = json.dumps({"documentId": doc, "version": 2})
        code, out, err = await buf_curl("-H", auth, "-d", body, base + "/GetDocument")
        assert code == 0, err
        at2 = json.loads(out)
        assert (
            at2["snapshot"]["version"] == "2"
            and at2["snapshot"]["elements"][0]["properties"]["text"] == "Hello"
        )


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["broker", "postgresql"])
async def test_history_on_two_replicas(
    tmp_path: Path, redis_url: str, redis_prefix: str, pg_url: str, kind: str
) -> None:
    """Both replicas answer history: the owner from its live log, the other from the store and journal."""
    store = pg_url if kind == "postgresql" else "broker"
    broker = f"{redis_url}?prefix={redis_prefix}"
    doc = f"two-{redis_prefix.split(':')[1]}"
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    async with (
        running_hub(tmp_path / "a", services=SERVICES, broker=broker, document_store=store) as one,
        running_hub(
            tmp_path / "b",
            services=SERVICES,
            broker=broker,
            document_store=store,
            jwt_secret_file=tmp_path / "a" / "jwt-secret",
        ) as two,
    ):
        two.secret = one.secret
        await type_words(one, doc)  # replica one owns the document
        for hub in (one, two):
            async with hub.client("alice") as c:
                page = await stub(c).ListVersions(pb.ListVersionsRequest(document_id=doc), timeout=5)
                assert [v.version for v in page.versions] == [6, 5, 4, 3, 2, 1]
                got = await stub(c).GetDocument(pb.GetDocumentRequest(document_id=doc, version=3), timeout=5)
                assert text_of(got) == "Hello brave"


async def test_long_history_uses_checkpoints(tmp_path: Path, pg_url: str) -> None:
    """1,201 versions: checkpoints every 500 are written, and any version reads back exactly."""
    import asyncpg

    doc = f"long-{tmp_path.name[-12:]}"
    fast = {"collab_save_debounce": 0.05, "collab_save_max_wait": 0.2}
    async with hub_on(tmp_path / "a", pg_url, **fast) as hub, hub.client("alice") as c:
        await stub(c).CreateDocument(pb.CreateDocumentRequest(document_id=doc), timeout=5)
        async with Peer(c, "a") as alice:
            await alice.join(doc)
            await alice.answer(alice.submit(CreateElement("t", "", "text", "V", {"text": ""})))
            for batch in range(6):
                ops = [
                    EditText("t", "text", splice(batch * 200 + i, 0, chr(0x4E00 + batch))) for i in range(200)
                ]
                ack = await alice.answer(alice.submit(*ops))
                assert ack.WhichOneof("event") == "applied"
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT version FROM collab_checkpoints WHERE document_id = $1", doc)
    finally:
        await conn.close()
    assert rows and all(r["version"] >= 500 for r in rows)
    async with hub_on(tmp_path / "b", pg_url) as hub, hub.client("alice") as c:
        for version in (1, 499, 500, 777, 1201):
            got = await stub(c).GetDocument(
                pb.GetDocumentRequest(document_id=doc, version=version), timeout=10
            )
            written = version - 1
            expected = "".join(chr(0x4E00 + i // 200) for i in range(written))
            assert text_of(got) == expected, version
