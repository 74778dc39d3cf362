"""Outbox (cursor coalescing, bounded queue), leases, save debounce, room rules: with a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import ClientOp, CreateElement, SetProperty
from realtime.server.collaboration import events as ev
from realtime.server.collaboration.config import CollabConfig
from realtime.server.collaboration.leases import LeaseTable
from realtime.server.collaboration.outbox import OVERFLOW, Outbox
from realtime.server.collaboration.room import Room, Session
from realtime.server.collaboration.sequencer import Sequencer
from realtime.server.collaboration.store import MemorySnapshotStore, SaveSchedule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cursor(x: float) -> ev.Cursor:
    return ev.Cursor("s", "u", "", x, 0.0, 0)


def test_cursors_coalesce_rate_cap_and_overtake_edits() -> None:
    clock = Clock()
    box = Outbox(max_events=10, cursor_interval=0.05, clock=clock)
    for i in range(5):
        box.put(ev.Pong(command_id=str(i)))
    for x in range(100):
        box.put_cursor("bob", cursor(float(x)))
    first = box.poll()
    assert isinstance(first, ev.Cursor) and first.x == 99.0  # latest wins, ahead of queued edits
    box.put_cursor("bob", cursor(200.0))
    drained = [box.poll() for _ in range(5)]
    assert all(isinstance(e, ev.Pong) for e in drained)  # the rate cap holds the cursor back
    assert box.poll() is None and box.next_cursor_due() == 100.05
    clock.now += 0.06
    later = box.poll()
    assert isinstance(later, ev.Cursor) and later.x == 200.0
    assert box.cursors_coalesced == 99


def test_slow_reader_is_cut_off_not_buffered_forever() -> None:
    box = Outbox(max_events=3, clock=Clock())
    for i in range(3):
        assert box.put(ev.Pong(command_id=str(i)))
    assert not box.put(ev.Pong())
    assert box.closed == OVERFLOW and box.poll() is None


async def test_outbox_get_wakes_for_events_and_ends_when_closed() -> None:
    box = Outbox()
    waiter = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    box.put(ev.Pong(command_id="x"))
    got = await asyncio.wait_for(waiter, 2)
    assert isinstance(got, ev.Pong)
    box.put(ev.Pong(command_id="y"))
    box.close("done")
    assert isinstance(await asyncio.wait_for(box.get(), 2), ev.Pong)  # drained before ending
    assert await asyncio.wait_for(box.get(), 2) is None


def test_lease_table_renew_expire_release() -> None:
    clock = Clock()
    t = LeaseTable(30, clock)
    t.grant("e", "s1", "alice", "Alice")
    clock.now += 20
    t.renew_session("s1")
    clock.now += 20
    assert t.expire() == []
    clock.now += 10
    assert [lease.element_id for lease in t.expire()] == ["e"]
    t.grant("e", "s1", "alice", "Alice")
    t.grant("f", "s1", "alice", "Alice")
    assert sorted(lease.element_id for lease in t.release_session("s1")) == ["e", "f"]


def test_save_schedule_debounces_with_max_wait() -> None:
    s = SaveSchedule(debounce=2.0, max_wait=10.0)
    assert s.due_at() is None
    for t in range(0, 9):  # a change every second: the quiet period never comes
        s.mark(float(t))
    assert s.due_at() == 10.0  # capped by max_wait from the first change
    s.saved()
    s.mark(20.0)
    assert s.due_at() == 22.0


def make_room(clock: Clock) -> tuple[Room, list[Session]]:
    seq = Sequencer(Document("d"), clock=clock)
    room = Room("d", seq, CollabConfig(max_participants=3), clock=clock)
    sessions = [Session(f"s{i}", f"u{i}", f"c{i}", "editor", Outbox(clock=clock)) for i in range(3)]
    for s in sessions:
        room.join(s, None)
    return room, sessions


def drain(s: Session) -> list[ev.Event]:
    out = []
    while (e := s.outbox.poll()) is not None:
        out.append(e)
    return out


def test_room_lease_on_ancestor_blocks_and_deleting_releases() -> None:
    clock = Clock()
    room, (a, b, _) = make_room(clock)
    room.submit(
        a,
        0,
        [ClientOp(1, CreateElement("s", "", "slide", "V")), ClientOp(2, CreateElement("t", "s", "x", "V"))],
    )
    room.acquire(b, "t")
    room.acquire(a, "s")  # a descendant is leased by b: denied
    assert any(isinstance(e, ev.LeaseDenied) for e in drain(a))
    room.submit(a, 2, [ClientOp(3, SetProperty("t", "k", 1))])
    rejected = [e for e in drain(a) if isinstance(e, ev.Rejected)]
    assert rejected[0].rejections[0].reason == "LEASED_BY_OTHER"
    room.submit(b, 2, [ClientOp(1, CreateElement("t2", "t", "x", "V"))])  # the holder may
    from realtime.common.collaboration.ops import DeleteElement

    room.submit(b, 3, [ClientOp(2, DeleteElement("s"))])
    released = [e for e in drain(a) if isinstance(e, ev.LeaseReleased)]
    assert released and released[-1].reason == "element_deleted"
    assert room.leases.all() == []


async def test_directory_saves_debounced_and_restores() -> None:
    from realtime.server.collaboration.directory import Directory
    from realtime.server.platform.auth import Principal

    clock = Clock()
    saved = asyncio.Event()

    class Store(MemorySnapshotStore):
        async def save(self, document_id: str, state: dict[str, Any]) -> None:
            await super().save(document_id, state)
            saved.set()

    store = Store()
    config = CollabConfig(save_debounce=0.01, save_max_wait=0.05)
    d = Directory(config, store, clock=clock)
    who = Principal("alice", frozenset(), 1e12)
    await d.create(who, "doc", "T")
    live = await d.open("doc")
    s = Session("s", "alice", "c", "owner", Outbox())
    live.room.join(s, None)
    live.room.submit(s, 0, [ClientOp(1, CreateElement("e", "", "x", "V"))])
    saved.clear()
    clock.now += 1  # the debounce is due
    live.wake.set()
    await asyncio.wait_for(saved.wait(), 5)
    await d.close()
    again = Directory(config, store, clock=clock)
    restored = await again.open("doc")
    assert restored.room.seq.doc.content() == live.room.seq.doc.content()
    assert restored.room.seq.clients == {"c": 1}
    await again.close()


def test_queued_applied_batches_of_others_merge_for_a_slow_reader() -> None:
    box = Outbox(clock=Clock())
    mine = ev.AppliedBatch([], origin="me", command_id="c1")
    others = [ev.AppliedBatch([], origin="x") for _ in range(3)]
    for e in (*others, mine, ev.AppliedBatch([], origin="y")):
        box.put(e)
    assert box.take_applied("me") == others  # stops at my own (its command_id must be echoed)
    assert box.poll() is mine


def test_session_limit_counts_each_session_once() -> None:
    from realtime.server.collaboration.directory import Directory

    d = Directory(CollabConfig(max_sessions_per_user=2))
    a, b, c = (Session(f"s{i}", "u", "c", "editor", Outbox()) for i in range(3))
    d.admit(a)
    d.admit(b)
    try:
        d.admit(c)
    except Exception as exc:
        assert getattr(exc, "reason", "") == "SESSION_LIMIT"
    else:
        raise AssertionError("a third session was admitted")
    d.release(a)
    d.release(a)  # released twice (document deleted, then the stream ended): counted once
    assert d.sessions_per_user["u"] == 1
    d.admit(c)
    assert d.sessions_per_user["u"] == 2
