"""Leases, presence, cursors, limits and recovery through a real hub, with a fake clock for expiry."""

from __future__ import annotations

import asyncio
import copy
import time
from pathlib import Path

import grpc
import pytest

from realtime.common.collaboration.ops import CreateElement, SetProperty
from realtime.server.testing import TestHub, running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hub(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    extra = {"collab_clock": clock, "collab_sweep_interval": 0.02, "collab_max_participants": 4}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h:
        yield h


async def setup_doc(hub: TestHub, editors: tuple[str, ...] = ("bob", "carol")) -> None:
    async with hub.client("alice") as c:
        s = c.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await s.CreateDocument(pb.CreateDocumentRequest(document_id="deck"), timeout=5)
        for user in editors:
            await s.ShareDocument(
                pb.ShareDocumentRequest(document_id="deck", user_id=user, role=pb.DOCUMENT_ROLE_EDITOR),
                timeout=5,
            )


def lease(peer: Peer, element_id: str, release: bool = False, force: bool = False) -> str:
    if release:
        return peer.send(release_lease=pb.ReleaseLeaseCommand(element_id=element_id, force=force))
    return peer.send(acquire_lease=pb.AcquireLeaseCommand(element_id=element_id))


def ping(peer: Peer) -> str:
    return peer.send(ping=pb.CollaborateRequest().ping)


async def with_slide(alice: Peer) -> None:
    ack = await alice.answer(
        alice.submit(
            CreateElement("s1", "", "slide", "V"), CreateElement("t1", "s1", "text", "V", {"text": "hi"})
        )
    )
    assert ack.WhichOneof("event") == "applied"


async def test_lease_granted_denied_enforced_released(hub: TestHub) -> None:
    await setup_doc(hub)
    async with (
        hub.client("alice") as ca,
        hub.client("bob") as cb,
        Peer(ca, "a") as alice,
        Peer(cb, "b") as bob,
    ):
        await alice.join("deck", name="Alice")
        await bob.join("deck", name="Bob")
        await with_slide(alice)
        cid = lease(alice, "s1")
        granted = await alice.wait_for("lease_granted", cid)
        assert granted.lease_granted.lease.holder_name == "Alice"
        await bob.wait_for("lease_granted")
        # the slide and everything on it is taken: lease and operations are refused
        denied = await bob.wait_for("lease_denied", lease(bob, "t1"))
        assert denied.lease_denied.held_by.holder_name == "Alice"
        await bob.wait_for("applied")
        refused = await bob.answer(bob.submit(SetProperty("t1", "text", "mine")))
        op = refused.rejected.operations[0]
        assert (op.reason, op.lease.holder_name) == ("LEASED_BY_OTHER", "Alice")
        assert "Alice" in op.message
        assert (await alice.answer(alice.submit(SetProperty("t1", "text", "ok")))).WhichOneof(
            "event"
        ) == "applied"
        # bob cannot release it without force, and force is for the owner
        err = await bob.wait_for("error", lease(bob, "s1", release=True))
        assert err.error.reason == "LEASED_BY_OTHER"
        err = await bob.wait_for("error", lease(bob, "s1", release=True, force=True))
        assert err.error.reason == "PERMISSION_DENIED"
        cid = lease(alice, "s1", release=True)
        released = await alice.wait_for("lease_released", cid)
        assert released.lease_released.reason == pb.LEASE_RELEASE_REASON_RELEASED
        await bob.wait_for("lease_released")
        again = await bob.answer(bob.submit(SetProperty("t1", "text", "mine")))
        assert again.WhichOneof("event") == "applied"
        # leases on missing elements are command errors
        err = await bob.wait_for("error", lease(bob, "nope"))
        assert err.error.code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_lease_renewed_by_heartbeat_then_expires(hub: TestHub, clock: FakeClock) -> None:
    await setup_doc(hub)
    async with (
        hub.client("alice") as ca,
        hub.client("bob") as cb,
        Peer(ca, "a") as alice,
        Peer(cb, "b") as bob,
    ):
        await alice.join("deck")
        await bob.join("deck")
        await with_slide(alice)
        await alice.wait_for("lease_granted", lease(alice, "s1"))
        for _ in range(3):  # 60 s in all, renewed by a ping every 20 s
            clock.now += 20
            await alice.wait_for("pong", ping(alice))
            await bob.wait_for("pong", ping(bob))
        denied = await bob.wait_for("lease_denied", lease(bob, "s1"))
        assert denied.lease_denied.element_id == "s1"
        clock.now += 31  # alice goes silent
        expired = await bob.wait_for("lease_released")
        assert expired.lease_released.reason == pb.LEASE_RELEASE_REASON_EXPIRED
        assert expired.lease_released.lease.element_id == "s1"
        granted = await bob.wait_for("lease_granted", lease(bob, "s1"))
        assert granted.lease_granted.lease.holder_user_id == "bob"


async def test_disconnect_releases_leases_and_owner_breaks_them(hub: TestHub) -> None:
    await setup_doc(hub)
    async with hub.client("alice") as ca, hub.client("bob") as cb, hub.client("carol") as cc:
        async with Peer(ca, "a") as alice, Peer(cc, "c") as carol:
            await alice.join("deck")
            await carol.join("deck")
            await with_slide(alice)
            bob = Peer(cb, "b")
            await bob.__aenter__()
            await bob.join("deck")
            await bob.wait_for("lease_granted", lease(bob, "s1"))
            await bob.close()  # the stream drops
            left = await alice.wait_for("lease_released")
            assert left.lease_released.reason == pb.LEASE_RELEASE_REASON_HOLDER_LEFT
            gone = await alice.wait_for("participant_left")
            assert gone.participant_left.reason == pb.PARTICIPANT_LEFT_REASON_DISCONNECTED
            # carol takes it, alice (the owner) breaks it
            await carol.wait_for("lease_granted", lease(carol, "s1"))
            cid = lease(alice, "s1", release=True, force=True)
            broken = await alice.wait_for("lease_released", cid)
            assert broken.lease_released.reason == pb.LEASE_RELEASE_REASON_BROKEN_BY_OWNER
            assert broken.lease_released.broken_by == "alice"
            told = await carol.wait_for(
                "lease_released", where=lambda e: e.lease_released.broken_by == "alice"
            )
            assert told.lease_released.lease.holder_user_id == "carol"


async def test_presence_updates_and_expiry(hub: TestHub, clock: FakeClock) -> None:
    await setup_doc(hub)
    async with (
        hub.client("alice") as ca,
        hub.client("bob") as cb,
        Peer(ca, "a") as alice,
        Peer(cb, "b") as bob,
    ):
        await alice.join("deck")
        joined = await bob.join("deck", name="Bob")
        assert {p.user_id for p in joined.participants} == {"alice", "bob"}
        bob.send(
            presence=pb.SetPresenceCommand(status=pb.PARTICIPANT_STATUS_EDITING, selected_element_id="x")
        )
        seen = await alice.wait_for("presence")
        assert seen.presence.participant.status == pb.PARTICIPANT_STATUS_EDITING
        assert seen.presence.participant.display_name == "Bob"
        mark = len(alice.events)
        clock.now += 20
        await alice.wait_for("pong", ping(alice))
        clock.now += 15  # bob silent for 35 s, alice for 15 s
        expired = await alice.wait_for("participant_left", start=mark)
        assert expired.participant_left.reason == pb.PARTICIPANT_LEFT_REASON_PRESENCE_EXPIRED
        assert expired.participant_left.user_id == "bob"
        # bob is still subscribed and comes back with his next command
        mark = len(alice.events)
        await bob.wait_for("pong", ping(bob))
        back = await alice.wait_for("participant_joined", start=mark)
        assert back.participant_joined.participant.user_id == "bob"
        bad = bob.send(presence=pb.SetPresenceCommand(status=77))
        assert (await bob.wait_for("error", bad)).error.reason == "INVALID_ARGUMENT"


async def test_cursor_flood_is_coalesced_and_never_blocks_edits(hub: TestHub) -> None:
    await setup_doc(hub)
    async with (
        hub.client("alice") as ca,
        hub.client("bob") as cb,
        Peer(ca, "a") as alice,
        Peer(cb, "b") as bob,
    ):
        await alice.join("deck")
        await bob.join("deck")
        await with_slide(alice)
        await bob.wait_for("applied")
        mark = len(alice.events)
        started = time.monotonic()
        for i in range(500):
            bob.send(cursor=pb.MoveCursorCommand(element_id="s1", x=float(i), y=1.0))
            if i % 100 == 0:
                bob.submit(SetProperty("s1", "n", i))
        last = ping(bob)
        await bob.wait_for("pong", last)
        final = await alice.wait_for("cursor", start=mark, where=lambda e: e.cursor.x == 499.0)
        cursors = [e for e in alice.events[mark:] if e.WhichOneof("event") == "cursor"]
        assert cursors[-1] is final
        elapsed = time.monotonic() - started
        assert len(cursors) <= 20 * elapsed + 2 < 500  # at most 20/s per participant get through
        assert all(e.cursor.user_id == "bob" for e in cursors)
        # edits went one batch at a time among the cursors; all of them arrive
        while bob.replica.pending:
            await bob.answer(bob.flush() or ping(bob))
        await alice.wait_for(
            "applied", where=lambda e: e.applied.operations[-1].version == bob.replica.version
        )
        assert alice.replica.confirmed.elements["s1"].properties["n"] == 400
        bad = bob.send(cursor=pb.MoveCursorCommand(x=float("nan")))
        assert (await bob.wait_for("error", bad)).error.reason == "INVALID_ARGUMENT"


async def test_session_and_participant_limits(hub: TestHub) -> None:
    await setup_doc(hub)
    async with hub.client("bob") as cb:
        peers = [Peer(cb, f"b{i}") for i in range(6)]
        try:
            for p in peers:
                await p.__aenter__()
            for p in peers[:4]:
                await p.join("deck")
            # 5th participant of the document: the document allows 4
            cid = peers[4].send(join=pb.JoinDocumentCommand(document_id="deck", client_id="b4"))
            err = await peers[4].wait_for("error", cid)
            assert (err.error.code, err.error.reason) == (
                grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
                "PARTICIPANT_LIMIT",
            )
            async with hub.client("alice") as ca:
                await ca.stub(collaboration_pb2_grpc.CollaborationServiceStub).CreateDocument(
                    pb.CreateDocumentRequest(document_id="other"), timeout=5
                )
                await ca.stub(collaboration_pb2_grpc.CollaborationServiceStub).ShareDocument(
                    pb.ShareDocumentRequest(document_id="other", user_id="bob", role=2), timeout=5
                )
            await peers[4].join("other")  # bob's 5th session
            cid = peers[5].send(join=pb.JoinDocumentCommand(document_id="other", client_id="b5"))
            err = await peers[5].wait_for("error", cid)
            assert err.error.reason == "SESSION_LIMIT"
            await peers[0].wait_for("left", peers[0].send(leave=pb.LeaveDocumentCommand()))
            await peers[5].join("other")  # a slot is free again
        finally:
            for p in peers:
                await p.close()


async def test_reconnect_replays_or_sends_snapshot_plus_tail(tmp_path: Path) -> None:
    extra = {"collab_log_limit": 6, "collab_log_keep": 2}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as hub:
        await setup_doc(hub)
        async with hub.client("alice") as ca, hub.client("bob") as cb, Peer(ca, "a") as alice:
            await alice.join("deck")
            await with_slide(alice)
            async with Peer(cb, "b") as bob:
                await bob.join("deck")
                replica = bob.replica
            assert replica.version == 2
            stale = copy.deepcopy(replica)  # a second client that stopped at version 2
            for i in range(2):
                await alice.answer(alice.submit(SetProperty("s1", "n", i)))
            async with Peer(cb, "b", replica) as bob:
                joined = await bob.join("deck", since=2)
                assert joined.recovered and not joined.HasField("snapshot")
                assert [a.version for a in joined.replay] == [3, 4]
            for i in range(5):  # compaction: the log now starts after version 2
                await alice.answer(alice.submit(SetProperty("s1", "n", 10 + i)))
            async with Peer(cb, "b", stale) as bob:
                joined = await bob.join("deck", since=2)
                assert not joined.recovered and joined.HasField("snapshot")
                assert joined.snapshot.version + len(joined.replay) == joined.version == 9
                assert bob.replica.confirmed.content() == alice.replica.confirmed.content()
                future = bob.send(
                    join=pb.JoinDocumentCommand(document_id="deck", client_id="b", since_version=1)
                )
                assert (await bob.wait_for("error", future)).error.reason == "ALREADY_JOINED"
            async with Peer(cb, "b") as bob:
                cid = bob.send(
                    join=pb.JoinDocumentCommand(document_id="deck", client_id="b", since_version=99)
                )
                assert (await bob.wait_for("error", cid)).error.reason == "VERSION_FROM_FUTURE"


async def test_going_away_on_shutdown(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as hub:
        await setup_doc(hub)
        async with hub.client("alice") as ca, Peer(ca, "a") as alice:
            await alice.join("deck")
            stopping = asyncio.get_running_loop().create_task(hub.hub.stop(grace=2))
            bye = await alice.wait_for("going_away")
            assert bye.going_away.reason
            await asyncio.wait_for(stopping, 10)
            await asyncio.wait_for(alice.done.wait(), 10)
            # the stream ends UNAVAILABLE (clients retry it), not OK
            assert isinstance(alice.ended, grpc.aio.AioRpcError)
            assert alice.ended.code() == grpc.StatusCode.UNAVAILABLE
