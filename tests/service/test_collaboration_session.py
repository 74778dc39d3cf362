"""Collaboration through a real hub: documents, joining, editing, viewers, bad input."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
import pytest

from realtime.common.collaboration.ops import CreateElement, DeleteElement, EditText, SetProperty
from realtime.common.collaboration.textop import splice
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path, services=SERVICES) as h:
        yield h


def stub(client):  # type: ignore[no-untyped-def]
    return client.stub(collaboration_pb2_grpc.CollaborationServiceStub)


async def make_doc(
    hub: TestHub, doc_id: str = "deck", owner: str = "alice", share: dict[str, int] | None = None
) -> None:
    async with hub.client(owner) as c:
        await stub(c).CreateDocument(pb.CreateDocumentRequest(document_id=doc_id, title="Deck"), timeout=5)
        for user, role in (share or {}).items():
            await stub(c).ShareDocument(
                pb.ShareDocumentRequest(document_id=doc_id, user_id=user, role=role), timeout=5
            )


async def test_two_users_edit_and_converge(hub: TestHub) -> None:
    await make_doc(hub, share={"bob": pb.DOCUMENT_ROLE_EDITOR})
    async with hub.client("alice") as ca, hub.client("bob") as cb:
        async with Peer(ca, "a") as alice, Peer(cb, "b") as bob:
            joined = await alice.join("deck", name="Alice")
            assert joined.role == pb.DOCUMENT_ROLE_OWNER and joined.version == 0
            await bob.join("deck")
            await alice.wait_for("participant_joined")
            ack = await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V", {"title": "Hello"})))
            assert ack.WhichOneof("event") == "applied"
            await bob.wait_for("applied")
            # concurrent typing in one property: both survive
            alice.submit(EditText("s1", "title", splice(5, 0, " world")))
            bob.submit(EditText("s1", "title", splice(0, 0, ">> ")))
            for peer in (alice, bob):
                await peer.wait_for("applied", where=lambda e: e.applied.operations[-1].version == 3)
            assert alice.replica.confirmed.content() == bob.replica.confirmed.content()
            title = alice.replica.confirmed.text("s1", "title")
            assert title == ">> Hello world"
        async with hub.client("bob") as c:
            got = await stub(c).GetDocument(pb.GetDocumentRequest(document_id="deck"), timeout=5)
        assert got.document.version == 3
        async with aiohttp.ClientSession() as http, http.get(hub.http_url + "/metrics") as reply:
            metrics = await reply.text()
        assert 'realtime_collab_operations_total{result="applied"} 3.0' in metrics
        assert "realtime_collab_documents_open 1.0" in metrics
        assert got.snapshot.elements[0].properties["title"].string_value == ">> Hello world"


async def test_viewer_sees_everything_but_ops_are_refused(hub: TestHub) -> None:
    await make_doc(hub, share={"vic": pb.DOCUMENT_ROLE_VIEWER})
    async with hub.client("alice") as ca, hub.client("vic") as cv:
        async with Peer(ca, "a") as alice, Peer(cv, "v") as vic:
            await alice.join("deck")
            joined = await vic.join("deck")
            assert joined.role == pb.DOCUMENT_ROLE_VIEWER
            await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V")))
            await vic.wait_for("applied")
            refused = await vic.answer(vic.submit(SetProperty("s1", "title", "hacked")))
            assert refused.WhichOneof("event") == "rejected"
            assert refused.rejected.operations[0].reason == "PERMISSION_DENIED"
            assert refused.rejected.operations[0].code == grpc.StatusCode.PERMISSION_DENIED.value[0]
            # the stream stays open
            pong = vic.send(ping=pb.CollaborateRequest().ping)
            await vic.wait_for("pong", pong)


async def test_rejections_keep_stream_and_document(hub: TestHub) -> None:
    await make_doc(hub)
    async with hub.client("alice") as ca, Peer(ca, "a") as alice:
        # before join
        cid = alice.send(op=pb.SubmitOperationsCommand(operations=[pb.DocumentOperation(client_seq=1)]))
        err = await alice.wait_for("error", cid)
        assert err.error.reason == "NOT_JOINED"
        await alice.join("deck")
        await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V")))
        await alice.answer(alice.submit(DeleteElement("s1")))
        # op on a deleted element
        r = await alice.answer(alice.submit(SetProperty("s1", "x", 1)))
        assert r.rejected.operations[0].reason == "ELEMENT_DELETED"
        # malformed operation (no kind) and a bad position
        cid = alice.send(
            op=pb.SubmitOperationsCommand(base_version=2, operations=[pb.DocumentOperation(client_seq=50)])
        )
        r = await alice.answer(cid)
        assert r.rejected.operations[0].reason == "INVALID_ARGUMENT"
        r = await alice.answer(alice.submit(CreateElement("s2", "", "slide", "bad position!")))
        assert r.rejected.operations[0].reason == "INVALID_ARGUMENT"
        # version from the future
        cid = alice.send(
            op=pb.SubmitOperationsCommand(
                base_version=99,
                operations=[
                    pb.DocumentOperation(
                        client_seq=60, create=pb.CreateElement(element_id="z", kind="k", position="V")
                    )
                ],
            )
        )
        r = await alice.answer(cid)
        assert r.rejected.operations[0].reason == "VERSION_FROM_FUTURE"
        # empty and oversize batches are command errors
        cid = alice.send(op=pb.SubmitOperationsCommand(base_version=2))
        assert (await alice.answer(cid)).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        big = pb.SubmitOperationsCommand(
            base_version=2,
            operations=[
                pb.DocumentOperation(client_seq=100 + i, delete=pb.DeleteElement(element_id="x"))
                for i in range(201)
            ],
        )
        assert (await alice.answer(alice.send(op=big))).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[
            0
        ]
        # text edit past the end of the text
        await alice.answer(alice.submit(CreateElement("s3", "", "slide", "W", {"t": "ab"})))
        r = await alice.answer(alice.submit(EditText("s3", "t", (5, "x"))))
        assert r.rejected.operations[0].reason == "OUT_OF_RANGE"
        # empty command, join twice, unknown document
        assert (await alice.wait_for("error", alice.send())).error.reason == "INVALID_ARGUMENT"
        twice = alice.send(join=pb.JoinDocumentCommand(document_id="deck", client_id="a"))
        assert (await alice.wait_for("error", twice)).error.reason == "ALREADY_JOINED"
        assert alice.replica.confirmed.content() == [("s3", "", "slide", "W", {"t": "ab"})]
    async with hub.client("alice") as ca, Peer(ca, "a2") as again:
        cid = again.send(join=pb.JoinDocumentCommand(document_id="nope", client_id="x"))
        assert (await again.wait_for("error", cid)).error.code == grpc.StatusCode.NOT_FOUND.value[0]
        cid = again.send(join=pb.JoinDocumentCommand(document_id="deck", client_id=""))
        assert (await again.wait_for("error", cid)).error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_resent_batch_is_applied_once(hub: TestHub) -> None:
    await make_doc(hub)
    async with hub.client("alice") as ca, Peer(ca, "a") as alice:
        await alice.join("deck")
        batch = pb.SubmitOperationsCommand(
            base_version=0,
            operations=[
                pb.DocumentOperation(
                    client_seq=1, create=pb.CreateElement(element_id="s", kind="slide", position="V")
                )
            ],
        )
        first = await alice.answer(alice.send(op=batch))
        assert first.WhichOneof("event") == "applied"
        again = await alice.answer(alice.send(op=batch))
        assert again.WhichOneof("event") == "duplicate"
        assert list(again.duplicate.client_seqs) == [1] and again.duplicate.version == 1


async def test_access_control_and_crud(hub: TestHub) -> None:
    await make_doc(hub)
    async with hub.client("mallory") as cm:
        s = stub(cm)
        # another user's document answers exactly like a missing one: ids are not revealed
        answers = []
        for document_id in ("deck", "missing"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.GetDocument(pb.GetDocumentRequest(document_id=document_id), timeout=5)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            answers.append(caught.value.details().replace(document_id, "ID"))
        assert answers[0] == answers[1]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.ShareDocument(
                pb.ShareDocumentRequest(document_id="deck", user_id="mallory", role=2), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        async with Peer(cm, "m") as peer:
            cid = peer.send(join=pb.JoinDocumentCommand(document_id="deck", client_id="m"))
            assert (await peer.wait_for("error", cid)).error.reason == "DOCUMENT_NOT_FOUND"
        assert not (await s.ListDocuments(pb.ListDocumentsRequest(), timeout=5)).documents
    async with hub.client("alice") as ca:
        s = stub(ca)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.CreateDocument(pb.CreateDocumentRequest(document_id="bad id!"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for i in range(3):
            await s.CreateDocument(pb.CreateDocumentRequest(document_id=f"doc{i}"), timeout=5)
        page = await s.ListDocuments(pb.ListDocumentsRequest(page_size=2), timeout=5)
        assert [d.document_id for d in page.documents] == ["deck", "doc0"]
        rest = await s.ListDocuments(
            pb.ListDocumentsRequest(page_size=2, page_token=page.next_page_token), timeout=5
        )
        assert [d.document_id for d in rest.documents] == ["doc1", "doc2"] and not rest.next_page_token
        shared = await s.ShareDocument(
            pb.ShareDocumentRequest(document_id="deck", user_id="bob", role=3), timeout=5
        )
        assert shared.document.members["bob"] == pb.DOCUMENT_ROLE_VIEWER
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.ShareDocument(
                pb.ShareDocumentRequest(document_id="deck", user_id="alice", role=3), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        async with hub.client("bob") as cb:
            listed = await stub(cb).ListDocuments(pb.ListDocumentsRequest(), timeout=5)
            assert [d.document_id for d in listed.documents] == ["deck"]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(cb).DeleteDocument(pb.DeleteDocumentRequest(document_id="deck"), timeout=5)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        async with Peer(ca, "a") as alice:
            await alice.join("deck")
            await s.DeleteDocument(pb.DeleteDocumentRequest(document_id="deck"), timeout=5)
            gone = await alice.wait_for("participant_left")
            assert gone.participant_left.reason == pb.PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED
            assert (await alice.wait_for("error")).error.code == grpc.StatusCode.NOT_FOUND.value[0]
            cid = alice.send(presence=pb.SetPresenceCommand(status=pb.PARTICIPANT_STATUS_EDITING))
            assert (await alice.wait_for("error", cid)).error.reason == "NOT_JOINED"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await s.GetDocument(pb.GetDocumentRequest(document_id="deck"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unauthenticated_is_refused(hub: TestHub) -> None:
    async with hub.client(None) as c:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub(c).ListDocuments(pb.ListDocumentsRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
