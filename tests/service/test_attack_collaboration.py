"""Attacks on collaboration documents through a real hub (sqlite engine, the make-run default):
one owner sharing a document with twenty users at once, and creating past the per-user limit
with many creates at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[TestHub]:
    extra = {"collab_max_documents_per_user": 3}
    async with running_hub(
        tmp_path,
        services=SERVICES,
        broker=f"sqlite://{tmp_path}/hub.db",
        document_store="broker",
        extra=extra,
    ) as h:
        yield h


async def test_twenty_shares_at_once_keep_every_member(hub: TestHub) -> None:
    async with hub.client("alice") as alice:
        stub = alice.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await stub.CreateDocument(pb.CreateDocumentRequest(document_id="shared"), timeout=10)
        users = [f"user{i}" for i in range(20)]
        await asyncio.gather(
            *(
                stub.ShareDocument(
                    pb.ShareDocumentRequest(document_id="shared", user_id=u, role=pb.DOCUMENT_ROLE_EDITOR),
                    timeout=10,
                )
                for u in users
            )
        )
        doc = (await stub.GetDocument(pb.GetDocumentRequest(document_id="shared"), timeout=10)).document
        assert sorted(doc.members) == sorted([*users, "alice"]), sorted(doc.members)


async def test_many_creates_at_once_stay_within_the_per_user_limit(hub: TestHub) -> None:
    async with hub.client("mallory") as mallory:
        stub = mallory.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        outcomes = await asyncio.gather(
            *(
                stub.CreateDocument(pb.CreateDocumentRequest(document_id=f"d{i}"), timeout=10)
                for i in range(20)
            ),
            return_exceptions=True,
        )
        made = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(made) + len(refused) == 20
        assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
        listed = await stub.ListDocuments(pb.ListDocumentsRequest(page_size=100), timeout=10)
        assert len(made) == 3 and len(listed.documents) == 3, (len(made), len(listed.documents))


async def test_shares_and_deletes_of_one_document_at_once_leave_it_deleted(hub: TestHub) -> None:
    async with hub.client("alice") as alice:
        stub = alice.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await stub.CreateDocument(pb.CreateDocumentRequest(document_id="gone"), timeout=10)
        share = pb.ShareDocumentRequest(document_id="gone", user_id="bob", role=pb.DOCUMENT_ROLE_VIEWER)
        calls = [stub.ShareDocument(share, timeout=10) for _ in range(10)]
        calls.insert(3, stub.DeleteDocument(pb.DeleteDocumentRequest(document_id="gone"), timeout=10))
        calls.insert(6, stub.DeleteDocument(pb.DeleteDocumentRequest(document_id="gone"), timeout=10))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        for o in outcomes:
            assert not isinstance(o, BaseException) or (
                isinstance(o, grpc.aio.AioRpcError) and o.code() == grpc.StatusCode.NOT_FOUND
            ), o
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetDocument(pb.GetDocumentRequest(document_id="gone"), timeout=10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListDocuments(pb.ListDocumentsRequest(page_size=100), timeout=10)
        assert [d.document_id for d in listed.documents] == []


async def test_a_document_never_grows_past_what_one_message_can_carry(hub: TestHub) -> None:
    """One editor adds text elements of 60 KB (each within the per-value limits) until refused:
    the document must refuse to grow (RESOURCE_EXHAUSTED DOCUMENT_TOO_LARGE) before its snapshot
    outgrows a message, so GetDocument and joining keep working for everyone."""
    from realtime.common.collaboration.ops import CreateElement

    from .collab_peer import Peer

    async with hub.client("alice") as client:
        stub = client.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await stub.CreateDocument(pb.CreateDocumentRequest(document_id="big"), timeout=10)
        async with Peer(client, "a") as alice:
            await alice.join("big")
            refused = None
            for i in range(40):
                element = CreateElement(f"e{i}", "", "text", f"V{i + 1:02d}1", {"text": "x" * 60_000})
                answer = await alice.answer(alice.submit(element))
                if answer.WhichOneof("event") != "applied":
                    refused = answer
                    break
            assert refused is not None, "40 elements of 60 KB were all accepted"
            assert "DOCUMENT_TOO_LARGE" in str(refused), refused
        got = await stub.GetDocument(pb.GetDocumentRequest(document_id="big"), timeout=10)
        assert 10 <= len(got.snapshot.elements) < 40
        async with Peer(client, "b") as bob:
            joined = await bob.join("big")
            assert len(joined.snapshot.elements) == len(got.snapshot.elements)
