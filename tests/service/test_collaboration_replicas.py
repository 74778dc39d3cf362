"""Two hubs on one Redis: clients on both edit one document through its owning replica."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.common.collaboration.ops import CreateElement, EditText, SetProperty
from realtime.common.collaboration.textop import splice
from realtime.server.testing import running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer

pytestmark = [pytest.mark.redis]
SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


async def test_two_replicas_share_documents_and_converge(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    broker = f"{redis_url}?prefix={redis_prefix}"
    extra = {"collab_owner_ttl": 1.0, "collab_max_participants": 2}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        running_hub(tmp_path / "a", services=SERVICES, broker=broker, extra=extra) as one,
        running_hub(
            tmp_path / "b",
            services=SERVICES,
            broker=broker,
            extra=extra,
            jwt_secret_file=tmp_path / "a" / "jwt-secret",  # one signing key for both replicas
        ) as two,
    ):
        two.secret = one.secret
        async with one.client("alice") as ca:
            s = ca.stub(collaboration_pb2_grpc.CollaborationServiceStub)
            await s.CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=5)
            await s.ShareDocument(
                pb.ShareDocumentRequest(document_id="deck", user_id="bob", role=2), timeout=5
            )
        async with (
            one.client("alice") as ca,
            two.client("bob") as cb,
            Peer(ca, "a") as alice,
            Peer(cb, "b") as bob,
        ):
            await alice.join("deck", name="Alice")  # replica one claims the document
            joined = await bob.join("deck", name="Bob")  # replica two relays to replica one
            assert {p.user_id for p in joined.participants} == {"alice", "bob"}
            await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V", {"title": "Hi"})))
            await bob.wait_for("applied")
            alice.submit(EditText("s1", "title", splice(2, 0, " Alice")))
            bob.submit(EditText("s1", "title", splice(0, 0, "Bob: ")))
            for peer in (alice, bob):
                await peer.wait_for("applied", where=lambda e: e.applied.operations[-1].version == 3)
            assert alice.replica.confirmed.content() == bob.replica.confirmed.content()
            assert alice.replica.confirmed.text("s1", "title") == "Bob: Hi Alice"
            # leases and cursors cross replicas too
            lease = await bob.wait_for(
                "lease_granted", bob.send(acquire_lease=pb.AcquireLeaseCommand(element_id="s1"))
            )
            assert lease.lease_granted.lease.holder_user_id == "bob"
            refused = await alice.answer(alice.submit(SetProperty("s1", "x", 1)))
            assert refused.rejected.operations[0].reason == "LEASED_BY_OTHER"
            bob.send(cursor=pb.MoveCursorCommand(x=5, y=6))
            cursor = await alice.wait_for("cursor")
            assert cursor.cursor.user_id == "bob"
            # the document reads the same from either replica
            async with two.client("bob") as c2:
                got = await c2.stub(collaboration_pb2_grpc.CollaborationServiceStub).GetDocument(
                    pb.GetDocumentRequest(document_id="deck"), timeout=5
                )
            assert got.snapshot.version == 3
            assert got.snapshot.elements[0].properties["title"].string_value == "Bob: Hi Alice"
            async with Peer(cb, "b2") as third:
                # the owner refuses a relayed join (document full): the stream may join again later
                cid = third.send(join=pb.JoinDocumentCommand(document_id="deck", client_id="b2"))
                assert (await third.wait_for("error", cid)).error.reason == "PARTICIPANT_LIMIT"
                left = await bob.wait_for("left", bob.send(leave=pb.LeaveDocumentCommand()))
                assert left.left.document_id == "deck"
                gone = await alice.wait_for("participant_left")
                assert gone.participant_left.user_id == "bob"
                again = await third.join("deck")
                assert again.version == 3
            assert "error" not in alice.kinds() + bob.kinds()
            # deleting through the other replica reaches the owner's live room
            async with two.client("alice") as c2:
                await c2.stub(collaboration_pb2_grpc.CollaborationServiceStub).DeleteDocument(
                    pb.DeleteDocumentRequest(document_id="deck"), timeout=5
                )
            gone = await alice.wait_for(
                "participant_left",
                where=lambda e: e.participant_left.reason == pb.PARTICIPANT_LEFT_REASON_DOCUMENT_DELETED,
            )
            assert gone.participant_left.user_id == "alice"
