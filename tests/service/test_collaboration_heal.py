"""Two hubs on a private Redis: atomic creation, UNAVAILABLE while Redis is down, the relay
healing after a Redis restart (health NOT_SERVING meanwhile), owner claims handed back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realtime.common.collaboration.ops import CreateElement
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc
from tests.redis_server import RedisProcess, start_redis

from .collab_peer import Peer

pytestmark = [pytest.mark.redis]
SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")
COLLAB = "realtime.v1.CollaborationService"
EXTRA = {"collab_owner_ttl": 1.0}


@contextlib.asynccontextmanager
async def two_hubs(tmp_path: Path, redis: RedisProcess) -> AsyncIterator[tuple[TestHub, TestHub]]:
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    async with (
        running_hub(tmp_path / "a", services=SERVICES, broker=redis.url, extra=EXTRA) as one,
        running_hub(
            tmp_path / "b",
            services=SERVICES,
            broker=redis.url,
            extra=EXTRA,
            jwt_secret_file=tmp_path / "a" / "jwt-secret",
        ) as two,
    ):
        two.secret = one.secret
        yield one, two


def stub(client: object) -> collaboration_pb2_grpc.CollaborationServiceStub:
    return client.stub(collaboration_pb2_grpc.CollaborationServiceStub)  # type: ignore[attr-defined]


async def until_health(hub: TestHub, service: str, status: int, timeout: float = 20.0) -> None:
    """Watch the service's health until it reports `status` (bounded)."""
    async with hub.client("alice") as c, asyncio.timeout(timeout):
        watch = c.stub(health_pb2_grpc.HealthStub).Watch(health_pb2.HealthCheckRequest(service=service))
        async for update in watch:
            if update.status == status:
                watch.cancel()
                return


async def test_same_id_created_on_two_replicas_at_once_exactly_one_wins(tmp_path: Path) -> None:
    redis = start_redis()
    try:
        async with (
            two_hubs(tmp_path, redis) as (one, two),
            one.client("alice") as ca,
            two.client("bob") as cb,
        ):
            for i in range(20):
                results = await asyncio.gather(
                    stub(ca).CreateDocument(pb.CreateDocumentRequest(document_id=f"race{i}"), timeout=10),
                    stub(cb).CreateDocument(pb.CreateDocumentRequest(document_id=f"race{i}"), timeout=10),
                    return_exceptions=True,
                )
                ok = [r for r in results if isinstance(r, pb.CreateDocumentResponse)]
                refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
                assert len(ok) == 1 and len(refused) == 1, results
                assert refused[0].code() == grpc.StatusCode.ALREADY_EXISTS
                winner = ok[0].document.owner
                # the one told OK is the owner, for everyone
                got = await stub(ca if winner == "alice" else cb).GetDocument(
                    pb.GetDocumentRequest(document_id=f"race{i}"), timeout=10
                )
                assert got.document.owner == winner
    finally:
        redis.kill()


async def test_redis_restart_relay_heals_and_errors_are_retryable(tmp_path: Path) -> None:
    redis = start_redis()
    try:
        async with two_hubs(tmp_path, redis) as (one, two):
            async with one.client("alice") as ca:
                await stub(ca).CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=10)
                await stub(ca).ShareDocument(
                    pb.ShareDocumentRequest(document_id="deck", user_id="bob", role=pb.DOCUMENT_ROLE_EDITOR),
                    timeout=10,
                )
            async with one.client("alice") as ca, Peer(ca, "a") as alice:
                await alice.join("deck")  # replica one owns the document
                await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V")))
                port = redis.port
                redis.kill()
                # while Redis is down: retryable UNAVAILABLE, and the collaboration service says
                # NOT_SERVING on both replicas
                async with two.client("alice") as c2:
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await stub(c2).CreateDocument(pb.CreateDocumentRequest(document_id="new"), timeout=10)
                    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

                await until_health(two, COLLAB, health_pb2.HealthCheckResponse.NOT_SERVING)
                redis = start_redis(port)  # empty: the document must be created again
                for h in (one, two):  # SERVING only once the relay is subscribed again
                    await until_health(h, COLLAB, health_pb2.HealthCheckResponse.SERVING)
            async with one.client("alice") as ca:
                await stub(ca).CreateDocument(pb.CreateDocumentRequest(document_id="deck2"), timeout=10)
                await stub(ca).ShareDocument(
                    pb.ShareDocumentRequest(document_id="deck2", user_id="bob", role=pb.DOCUMENT_ROLE_EDITOR),
                    timeout=10,
                )
            async with (
                one.client("alice") as ca,
                two.client("bob") as cb,
                Peer(ca, "a2") as alice,
                Peer(cb, "b2") as bob,
            ):
                await alice.join("deck2")  # replica one claims it
                joined = await bob.join("deck2")  # relayed through replica two: answered again
                assert {p.user_id for p in joined.participants} == {"alice", "bob"}
                await bob.answer(bob.submit(CreateElement("s2", "", "slide", "V")))
                await alice.wait_for("applied")
                cluster = one.hub.ctx.collaboration.cluster  # type: ignore[union-attr]
                assert await cluster.owner_of("deck2") == cluster.instance_id
                await bob.wait_for("left", bob.send(leave=pb.LeaveDocumentCommand()))
                await alice.wait_for("left", alice.send(leave=pb.LeaveDocumentCommand()))

                servicer = one.hub.ctx.collaboration  # type: ignore[union-attr]
                await asyncio.wait_for(asyncio.gather(*servicer.documents.tasks), 10)  # the hand-back
                assert await cluster.owner_of("deck2") is None  # no claim outlives the last participant
                again = await bob.join("deck2")  # the next join claims it where it connects
                assert again.version == 1
                cluster_two = two.hub.ctx.collaboration.cluster  # type: ignore[union-attr]
                assert await cluster_two.owner_of("deck2") == cluster_two.instance_id
    finally:
        redis.kill()


async def test_a_replica_that_lost_its_claim_unnoticed_cannot_acknowledge(tmp_path: Path) -> None:
    """The lost-characters run: the owner's claim expired while its event loop stalled, the other
    replica took the document over, and the old owner went on acknowledging edits (journaled,
    never loaded by the new owner) until its next renewal noticed. The journal is fenced now."""
    redis = start_redis()
    slow = {"collab_owner_ttl": 60.0}  # renewal every 20 s: the stall lasts the whole test
    try:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            running_hub(tmp_path / "a", services=SERVICES, broker=redis.url, extra=slow) as one,
            running_hub(
                tmp_path / "b",
                services=SERVICES,
                broker=redis.url,
                extra=slow,
                jwt_secret_file=tmp_path / "a" / "jwt-secret",
            ) as two,
        ):
            two.secret = one.secret
            async with one.client("alice") as ca:
                await stub(ca).CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=10)
                await stub(ca).ShareDocument(
                    pb.ShareDocumentRequest(document_id="deck", user_id="bob", role=pb.DOCUMENT_ROLE_EDITOR),
                    timeout=10,
                )
            async with one.client("alice") as ca, two.client("bob") as cb, Peer(ca, "a") as alice:
                await alice.join("deck")  # replica one owns the document
                first = await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V")))
                assert first.WhichOneof("event") == "applied"
                # the claim expires without replica one noticing (as after a long stall)
                cluster_one = one.hub.ctx.collaboration.cluster  # type: ignore[union-attr]
                await cluster_one.broker.kv_delete(cluster_one.owner_key("deck"))
                async with Peer(cb, "b") as bob:
                    await bob.join("deck")  # replica two claims and opens the document
                    alice.submit(CreateElement("s2", "", "slide", "W"))
                    # not acknowledged: the stream ends UNAVAILABLE (the client goes elsewhere)
                    await asyncio.wait_for(alice.done.wait(), 10)
                    assert isinstance(alice.ended, grpc.aio.AioRpcError)
                    assert alice.ended.code() == grpc.StatusCode.UNAVAILABLE
                    assert [e.WhichOneof("event") for e in alice.events] == ["joined", "applied", "error"]
                    done = await bob.answer(bob.submit(CreateElement("s3", "", "slide", "X")))
                    assert [a.version for a in done.applied.operations] == [2]
                    # alice comes back through replica two and resends what was not acknowledged
                    alice.replica.reconnected()
                    async with Peer(cb, "a", alice.replica) as again:
                        await again.join("deck", since=alice.replica.version)
                        resent = await again.answer(again.flush())
                        assert resent.WhichOneof("event") == "applied"
                    got = await stub(cb).GetDocument(pb.GetDocumentRequest(document_id="deck"), timeout=10)
                    assert {e.element_id for e in got.snapshot.elements} == {"s1", "s2", "s3"}
                    assert got.snapshot.version == 3
    finally:
        redis.kill()
