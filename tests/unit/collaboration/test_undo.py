"""Undo and redo per participant (client-side UndoManager) around a real sequencer.

The network is simulated so the tests choose the interleaving: an undo made
while other people's edits are still on their way is transformed by the server,
one made after they arrived is transformed on the client, and both must remove
exactly the user's own change.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import (
    Applied,
    ClientOp,
    CreateElement,
    DeleteElement,
    EditText,
    SetProperty,
)
from realtime.common.collaboration.replica import Replica
from realtime.common.collaboration.textop import splice
from realtime.common.collaboration.undo import UndoManager, invert
from realtime.server.collaboration.sequencer import Sequencer


class Net:
    """One sequencer, a text element "t", and clients whose messages wait until delivered."""

    def __init__(self, names: tuple[str, ...], text: str = "") -> None:
        doc = Document("d")
        self.server = Sequencer(doc, clock=lambda: 0.0)
        self.managers = {n: UndoManager(Replica(n, "d")) for n in names}
        self.inbox: dict[str, deque[list[Applied]]] = {n: deque() for n in names}
        self.outbox: dict[str, deque[tuple[int, list[ClientOp]]]] = {n: deque() for n in names}
        for m in self.managers.values():
            m.load(doc, [])
        first = self.managers[names[0]]
        first.replica.local(CreateElement("t", "", "text", "V", {"text": text}))
        self.sync()

    def send(self, name: str) -> None:
        batch = self.managers[name].replica.take_batch()
        if batch is not None:
            self.outbox[name].append(batch)

    def server_step(self, name: str) -> None:
        while self.outbox[name]:
            base, ops = self.outbox[name].popleft()
            result = self.server.submit(name, name, base, ops)
            assert not result.rejected, result.rejected
            for n in self.inbox:
                self.inbox[n].append(result.applied)

    def deliver(self, name: str) -> None:
        while self.inbox[name]:
            for a in self.inbox[name].popleft():
                self.managers[name].receive(a)

    def sync(self) -> None:
        for _ in range(50):
            for n in self.managers:
                self.send(n)
                self.server_step(n)
            for n in self.managers:
                self.deliver(n)
            if not any(m.replica.pending for m in self.managers.values()):
                break
        else:
            raise AssertionError("did not settle")

    def text(self, name: str | None = None) -> str:
        if name is None:
            return self.server.doc.text("t", "text")
        return self.managers[name].replica.view().text("t", "text")

    def type(self, name: str, offset: int, text: str, delete: int = 0) -> None:
        self.managers[name].edit(EditText("t", "text", splice(offset, delete, text)))


def test_invert() -> None:
    assert invert(splice(2, 2, "XY"), "abcdef") == (2, "cd", -2)
    assert invert(("ab",), "") == (-2,)


def test_undo_after_concurrent_edits_by_others_then_redo() -> None:
    net = Net(("alice", "bob"))
    net.type("alice", 0, "Hello")
    net.sync()
    net.type("bob", 0, "> ")
    net.type("bob", 7, " world")
    net.send("bob")
    net.server_step("bob")  # bob's edits are sequenced, not yet seen by alice
    undo = net.managers["alice"].undo()
    assert isinstance(undo, ClientOp)
    net.sync()
    assert net.text() == net.text("alice") == net.text("bob") == ">  world"
    assert net.managers["alice"].redo() is not None
    net.sync()
    assert net.text() == "> Hello world"
    assert net.managers["alice"].redo() is None  # only one undo to redo


def test_undo_of_a_delete_whose_neighbourhood_changed() -> None:
    net = Net(("alice", "bob"), text="abcdef")
    net.type("alice", 2, "", delete=2)  # abef
    net.sync()
    net.type("bob", 0, "XY")  # XYabef
    net.type("bob", 4, "Z")  # XYabZef: right where "cd" was
    net.type("bob", 6, "", delete=1)  # XYabZe: bob deletes the f after it
    net.sync()
    net.managers["alice"].undo()
    net.sync()
    assert net.text() == net.text("bob") == "XYabZcde"  # cd back between b and e, bob's edits kept


def test_twenty_undos_in_a_row_while_others_type() -> None:
    seed = 1207
    print("seed", seed)
    rng = random.Random(seed)
    net = Net(("alice", "bob"), text="__")
    for i in range(20):
        net.type("alice", 1 + i, chr(ord("a") + i))  # alice types between the underscores
        if rng.random() < 0.5:
            net.type("bob", 0, "B")  # bob types at the start, sometimes concurrently
        if rng.random() < 0.5:
            net.sync()
    net.sync()
    bobs = net.text().count("B")
    alice = net.managers["alice"]
    for _ in range(20):
        assert alice.undo() is not None
        if rng.random() < 0.3:
            net.type("bob", 0, "b")
            net.sync()
    net.sync()
    assert alice.undo() is None
    assert net.text() == net.text("bob")
    rest = net.text()
    assert rest.strip("Bb") == "__" and rest.count("B") == bobs
    for _ in range(20):
        assert alice.redo() is not None
    net.sync()
    assert net.text().strip("Bb") == "_" + "".join(chr(ord("a") + i) for i in range(20)) + "_"


def test_nothing_to_undo() -> None:
    net = Net(("alice", "bob"), text="x")
    alice = net.managers["alice"]
    assert alice.undo() is None and alice.redo() is None
    net.type("bob", 1, "y")
    net.sync()
    assert alice.undo() is None  # bob's edit is not alice's to undo
    assert net.text() == "xy"


def test_undo_skips_text_others_already_deleted_and_a_new_edit_clears_redo() -> None:
    net = Net(("alice", "bob"), text="")
    net.type("alice", 0, "one ")
    net.type("alice", 4, "two")
    net.sync()
    net.type("bob", 4, "", delete=3)  # bob deletes alice's "two"
    net.sync()
    alice = net.managers["alice"]
    assert alice.undo() is not None  # "two" is gone already: the undo removes "one "
    net.sync()
    assert net.text() == ""
    net.type("alice", 0, "new")
    assert alice.redo() is None
    net.sync()
    assert net.text() == "new"


def test_property_value_undo_and_a_deleted_element() -> None:
    net = Net(("alice", "bob"), text="")
    alice = net.managers["alice"]
    alice.edit(SetProperty("t", "color", "red"))
    alice.edit(SetProperty("t", "color", "blue"))
    net.sync()
    alice.undo()
    net.sync()
    assert net.server.doc.live("t").properties["color"] == "red"
    net.managers["bob"].replica.local(DeleteElement("t"))
    net.sync()
    assert alice.undo() is None  # the element is gone: nothing to undo


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_undo_keeps_others_text(seed: int) -> None:
    """Alice types and undoes at random while bob types; afterwards every character bob typed is there."""
    print("seed", seed)
    rng = random.Random(seed)
    net = Net(("alice", "bob"), text="")
    alice = net.managers["alice"]
    for _ in range(60):
        roll = rng.random()
        if roll < 0.4:
            net.type("alice", rng.randint(0, len(net.text("alice"))), "a")
        elif roll < 0.6:
            alice.undo()
        elif roll < 0.7:
            alice.redo()
        else:
            net.type("bob", rng.randint(0, len(net.text("bob"))), "b")
        if rng.random() < 0.3:
            net.sync()
    net.sync()
    bob_typed = sum(1 for a in net.server.log if a.author == "bob")
    assert net.text().count("b") == bob_typed
    while alice.undo() is not None:
        net.sync()
    net.sync()
    assert net.text() == "b" * bob_typed


def test_undo_of_an_offline_edit_rebased_onto_a_snapshot() -> None:
    """The merge of undo with offline rebase: a pending edit carried onto a fresh snapshot
    (others typed meanwhile) stays undoable; a refused one is forgotten; a stale batch is not."""
    net = Net(("alice", "bob"), text="abc")
    alice = net.managers["alice"]
    net.type("alice", 3, "XYZ")  # offline: never sent
    net.type("bob", 0, ">> ")
    net.send("bob")
    net.server_step("bob")
    net.deliver("bob")
    net.inbox["alice"].clear()  # alice is offline: she misses bob's edit; hers is still pending
    # a stale batch (its base fell behind the server's log) goes back to the buffer, undo kept
    assert alice.refused([(2, "STALE_BASE_VERSION")]) == []
    assert alice.replica.out_of_sync is not None
    refused = alice.load(net.server.doc.copy(), [], last_client_seq=1)
    assert refused == [] and alice.replica.out_of_sync is None
    assert net.text("alice") == ">> abcXYZ"
    assert alice.undo() is not None  # the undo of the pending (rebased) edit
    assert net.text("alice") == ">> abc"
    net.sync()
    assert net.text() == net.text("bob") == ">> abc"
    assert alice.redo() is not None
    net.sync()
    assert net.text() == ">> abcXYZ"
    net.type("alice", 0, "!")
    seq = alice.replica.pending[-1].client_seq
    assert alice.refused([(seq, "PERMISSION_DENIED")]) == [seq]
    assert alice.undo() is not None  # the refused edit is skipped: this undoes the redo
    net.sync()
    assert net.text() == ">> abc"
