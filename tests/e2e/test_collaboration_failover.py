"""Two `realtime-server` replicas on one Redis; the document's owner is SIGKILLed mid-edit.

Clients on both replicas edit one document; the owning replica dies; both clients
reconnect to the survivor with `since_version`, resend what was unacknowledged, and go
on editing. Every operation that was ever acknowledged is in the final document, and
both clients end with the server's document.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from realtime.client import Client
from realtime.common.collaboration.ops import CreateElement, SetProperty
from realtime.common.collaboration.replica import Replica
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc
from tests.redis_server import delete_prefix, test_prefix

from ..service.collab_peer import Peer
from .servers import ServerProcess, server_process

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
ENV = {"REALTIME_COLLAB_OWNER_TTL": "1.5"}


def acked_keys(peer: Peer) -> set[str]:
    """Keys of this client's SetProperty operations the server acknowledged (applied)."""
    keys = set()
    for event in peer.events:
        if event.WhichOneof("event") == "applied":
            for a in event.applied.operations:
                if a.client_id == peer.client_id and a.operation.WhichOneof("kind") == "set":
                    keys.add(a.operation.set.key)
    return keys


async def edit(peer: Peer, start: int, count: int) -> None:
    for i in range(start, start + count):
        cid = peer.submit(SetProperty("s1", f"{peer.client_id}-{i}", i))
        if cid:
            answer = await peer.answer(cid)
            assert answer.WhichOneof("event") in ("applied", "duplicate"), answer


async def rejoin(server: ServerProcess, user: str, replica: Replica, acked: set[str]) -> tuple[Client, Peer]:
    """Reconnect to `server` until it serves the document (it must first take ownership over)."""
    replica.reconnected()
    for _ in range(60):
        client = Client(server.target, token=server.token(user))
        peer = Peer(client, replica.client_id, replica)
        await peer.__aenter__()
        try:
            await peer.join("deck", since=replica.version, name=user)
        except (AssertionError, TimeoutError):
            acked |= acked_keys(peer)
            await peer.close()
            await client.close()
            await asyncio.sleep(0.25)  # the dead owner's claim has not expired yet
            continue
        peer.flush()
        return client, peer
    raise AssertionError(f"{user} could not rejoin")


async def test_owner_killed_editing_continues_without_losing_acknowledged_ops(
    tmp_path: Path, redis_url: str
) -> None:
    prefix = test_prefix()
    broker = f"--broker={redis_url}?prefix={prefix}"
    try:
        with (
            server_process(tmp_path, broker, name="a", env=ENV) as a,
            server_process(tmp_path, broker, name="b", env=ENV) as b,
        ):
            async with Client(a.target, token=a.token("alice")) as admin:
                s = admin.stub(collaboration_pb2_grpc.CollaborationServiceStub)
                await s.CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=5)
                await s.ShareDocument(
                    pb.ShareDocumentRequest(document_id="deck", user_id="bob", role=2), timeout=5
                )
            ca, cb = Client(a.target, token=a.token("alice")), Client(b.target, token=b.token("bob"))
            alice, bob = Peer(ca, "alice-c"), Peer(cb, "bob-c")
            await alice.__aenter__()
            await bob.__aenter__()
            await alice.join("deck")  # replica a owns the document
            await bob.join("deck")  # replica b relays to a
            await alice.answer(alice.submit(CreateElement("s1", "", "slide", "V")))
            await asyncio.gather(edit(alice, 0, 15), edit(bob, 0, 15))
            acked_a, acked_b = acked_keys(alice), acked_keys(bob)
            assert len(acked_a) == len(acked_b) == 15
            # more edits in flight while the owner dies
            alice.submit(SetProperty("s1", "alice-c-inflight", 1))
            bob.submit(SetProperty("s1", "bob-c-inflight", 1))
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(10)
            ended = await asyncio.wait_for(bob.done.wait(), 20)  # b ends the relayed stream
            assert ended is True
            acked_a |= acked_keys(alice)
            acked_b |= acked_keys(bob)
            await alice.close()
            await bob.close()
            await ca.close()
            await cb.close()
            (ca, alice), (cb, bob) = await asyncio.gather(
                rejoin(b, "alice", alice.replica, acked_a), rejoin(b, "bob", bob.replica, acked_b)
            )
            try:
                await asyncio.gather(edit(alice, 100, 10), edit(bob, 100, 10))
                while alice.replica.pending or bob.replica.pending:
                    for peer in (alice, bob):
                        cid = peer.flush()
                        if cid:
                            await peer.answer(cid)
                    await asyncio.sleep(0)
                acked_a |= acked_keys(alice)
                acked_b |= acked_keys(bob)
                async with Client(b.target, token=b.token("alice")) as reader:
                    got = await reader.stub(collaboration_pb2_grpc.CollaborationServiceStub).GetDocument(
                        pb.GetDocumentRequest(document_id="deck"), timeout=10
                    )
                final = set(got.snapshot.elements[0].properties)
                assert acked_a <= final and acked_b <= final  # no acknowledged operation lost
                assert {"alice-c-inflight", "bob-c-inflight"} <= final  # resent after the failover
                top = got.snapshot.version
                for peer in (alice, bob):
                    await peer.wait_for("applied", where=lambda e: e.applied.operations[-1].version >= top)
                assert alice.replica.confirmed.content() == bob.replica.confirmed.content()
                assert set(alice.replica.confirmed.elements["s1"].properties) == final
            finally:
                for peer, client in ((alice, ca), (bob, cb)):
                    await peer.close()
                    await client.close()
    finally:
        await delete_prefix(redis_url, prefix)
