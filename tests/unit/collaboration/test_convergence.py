"""Convergence under random concurrency: several clients, random edits, delays and reconnects.

Properties: after everything settles, every client's document equals the
server's; every accepted operation is applied exactly once (by the server and
by every client); and no one's typing is lost: every accepted insertion is in
the final text unless an accepted deletion whose author had seen it removed it.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.common.collaboration.document import Document
from realtime.common.collaboration.ops import CreateElement, EditText

from .sim import Sim

ACTIONS = ("edit", "edit", "edit", "flush", "server", "deliver", "deliver", "disconnect", "reconnect")

steps = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(ACTIONS),
        st.integers(0, 5),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=40,
    max_size=160,
)


def run(sim: Sim, plan: list[tuple[int, str, int, int, int]], text_only: bool = False) -> None:
    for who, action, kind, a, b in plan:
        c = sim.clients[who % len(sim.clients)]
        if action == "edit":
            if text_only:
                sim.edit_text(c, "t", "body", kind % 2 == 0, a)
            else:
                sim.edit(c, kind, a, b)
        elif action == "flush":
            sim.flush(c)
        elif action == "server":
            sim.server_receive(c)
        elif action == "deliver":
            sim.deliver(c)
        elif action == "disconnect":
            sim.disconnect(c, batch_arrives=a % 2 == 0)
        else:
            sim.reconnect(c)
    sim.settle()


def check_converged(sim: Sim) -> None:
    expected = sim.server.doc.content()
    for c in sim.clients:
        assert c.replica.version == sim.server.version
        assert c.replica.confirmed.content() == expected, c.name
        assert c.replica.view().content() == expected, c.name
        assert not c.replica.pending
    # exactly once: consecutive versions, each (client, seq) once
    assert [a.version for a in sim.history] == list(range(1, sim.server.version + 1))
    ids = Counter((a.client_id, a.client_seq) for a in sim.history)
    assert all(n == 1 for n in ids.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(2, 4))
def test_random_operations_converge(plan: list[tuple[int, str, int, int, int]], n: int) -> None:
    sim = Sim(n)
    run(sim, plan)
    check_converged(sim)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_converge_with_compaction_and_snapshot_recovery(plan: list[tuple[int, str, int, int, int]]) -> None:
    sim = Sim(3, log_limit=6, keep=2)  # compacts constantly: reconnects get snapshot + tail
    run(sim, plan)
    check_converged(sim)


def _text_doc() -> Document:
    doc = Document("d")
    doc.apply(CreateElement("t", "", "text", "V", {"body": "abc"}))
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(2, 4))
def test_no_text_edit_is_lost(plan: list[tuple[int, str, int, int, int]], n: int) -> None:
    sim = Sim(n, seed_doc=_text_doc())
    run(sim, plan, text_only=True)
    check_converged(sim)
    final = sim.server.doc.text("t", "body")
    accepted = {(a.client_id, a.client_seq) for a in sim.history}
    # Text edits are never refused here (no deletes of the element, no replacement): every
    # insert is applied; a delete is applied, or absorbed (someone deleted the same text first,
    # found by the sequencer or already by the client's rebase, which then never sends it).
    made = set(sim.inserted_chars) | set(sim.deleted_chars)
    assert set(sim.inserted_chars) <= accepted
    assert accepted <= made
    assert not sim.absorbed & accepted
    assert sim.absorbed <= set(sim.deleted_chars)
    deleted: set[str] = set()
    for key in accepted & set(sim.deleted_chars):
        deleted |= sim.deleted_chars[key]
    counts = Counter(final)
    for key in accepted & set(sim.inserted_chars):
        for ch in sim.inserted_chars[key]:
            assert counts[ch] == (0 if ch in deleted else 1), (key, ch)
    for ch in "abc":
        assert counts[ch] <= 1
    for a in sim.history:
        assert isinstance(a.op, EditText)
