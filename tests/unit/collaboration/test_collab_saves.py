"""Saves write what the document was at their version, and are never cut short.

Both were causes of a flaky history test (test_long_history_uses_checkpoints): a hub stopped
while its background saver was writing lost that write (on PostgreSQL, the checkpoint), and a
state taken for a save followed later edits, so a checkpoint held text of later versions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import ClientOp, CreateElement, EditText, SetProperty
from realtime.common.collaboration.textop import splice
from realtime.server.collaboration.config import CollabConfig
from realtime.server.collaboration.directory import Directory, LiveDocument
from realtime.server.collaboration.outbox import Outbox
from realtime.server.collaboration.room import Room, Session
from realtime.server.collaboration.sequencer import Sequencer
from realtime.server.collaboration.store import MemorySnapshotStore
from realtime.server.platform.auth import Principal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class HeldStore(MemorySnapshotStore):
    """Once armed, the first write waits until the test lets it finish; others go through."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.versions: list[int] = []

    async def save(self, document_id: str, state: dict[str, Any]) -> None:
        if self.armed and not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
        await super().save(document_id, state)
        if self.armed:
            self.versions.append(int(state["doc"]["version"]))


async def editing(store: HeldStore, clock: Clock) -> tuple[Directory, LiveDocument, Session]:
    d = Directory(CollabConfig(save_debounce=0.01, save_max_wait=0.05), store, clock=clock)
    await d.create(Principal("alice", frozenset(), 1e12), "doc", "T")
    live = await d.open("doc")
    s = Session("s", "alice", "c", "owner", Outbox())
    live.room.join(s, None)
    live.room.submit(s, 0, [ClientOp(1, CreateElement("e", "", "x", "V"))])
    store.armed = True
    clock.now += 1  # the debounce is due: the saver starts writing version 1
    live.wake.set()
    await asyncio.wait_for(store.entered.wait(), 5)
    return d, live, s


async def test_close_lets_a_save_in_progress_finish() -> None:
    store, clock = HeldStore(), Clock()
    d, live, _ = await editing(store, clock)
    assert not live.schedule.dirty  # the saver took the state: nothing looks unsaved
    closing = asyncio.ensure_future(d.close())
    store.release.set()
    await asyncio.wait_for(closing, 5)
    assert store.versions == [1]
    assert live.saver is not None and live.saver.cancelled()


async def test_close_saves_what_changed_during_a_save_in_progress() -> None:
    store, clock = HeldStore(), Clock()
    d, live, s = await editing(store, clock)
    live.room.submit(s, 1, [ClientOp(2, SetProperty("e", "k", 1))])  # after the saver took its state
    closing = asyncio.ensure_future(d.close())
    store.release.set()
    await asyncio.wait_for(closing, 5)
    assert store.versions == [1, 2]
    assert store.states["doc"]["doc"]["version"] == 2


def test_a_state_taken_for_a_save_does_not_follow_later_edits() -> None:
    room = Room("d", Sequencer(Document("d")), CollabConfig())
    s = Session("s", "alice", "c", "owner", Outbox())
    room.join(s, None)
    room.submit(s, 0, [ClientOp(1, CreateElement("t", "", "text", "V", {"text": ""}))])
    room.submit(s, 1, [ClientOp(2, EditText("t", "text", splice(0, 0, "one")))])
    state = room.seq.state()  # what a save writes after its awaits, while edits go on
    written = json.dumps(state)
    room.submit(s, 2, [ClientOp(3, EditText("t", "text", splice(3, 0, " two")))])
    room.submit(s, 3, [ClientOp(4, SetProperty("t", "color", "red"))])
    assert json.dumps(state) == written
    assert Document.from_dict(state["doc"]).version == 2
    assert Document.from_dict(state["doc"]).elements["t"].properties == {"text": "one"}
