from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realtime.server.conversation.sequencer import Sequencer


def test_in_order_passes_through() -> None:
    s = Sequencer(4)
    out = [s.push(i, bytes([i])).ready for i in range(5, 10)]
    assert out == [[bytes([i])] for i in range(5, 10)]
    assert (s.duplicates, s.reorders, s.gap_chunks) == (0, 0, 0)


def test_duplicate_dropped_and_reorder_fixed() -> None:
    s = Sequencer(4)
    assert s.push(0, b"a").ready == [b"a"]
    assert s.push(2, b"c").ready == []
    r = s.push(1, b"b")
    assert r.ready == [b"b", b"c"] and r.reordered
    assert s.push(1, b"b").duplicate
    assert s.push(2, b"c").duplicate
    assert (s.duplicates, s.reorders) == (2, 1)


def test_gap_declared_when_window_overflows() -> None:
    s = Sequencer(2)
    s.push(0, b"0")
    assert s.push(3, b"3").ready == []
    assert s.push(4, b"4").ready == []
    r = s.push(5, b"5")
    assert r.gaps == [(1, 2)] and r.ready == [b"3", b"4", b"5"]
    assert s.push(1, b"1").duplicate  # too late: the gap was already skipped
    assert s.gap_chunks == 2


def test_flush_skips_missing() -> None:
    s = Sequencer(8)
    s.push(0, b"0")
    s.push(2, b"2")
    s.push(5, b"5")
    r = s.flush()
    assert r.ready == [b"2", b"5"] and r.gaps == [(1, 1), (3, 4)]


@given(st.permutations(list(range(30))), st.integers(0, 40))
def test_any_order_within_the_window_delivers_everything_once(order: list[int], window: int) -> None:
    s = Sequencer(window)
    out: list[bytes] = []
    # Start from 0 so numbering is anchored, then the shuffled rest.
    out += s.push(-1, b"start").ready
    for i in order:
        out += s.push(i, str(i).encode()).ready
    out += s.flush().ready
    delivered = [int(x) for x in out[1:]]
    assert delivered == sorted(delivered)  # never out of order
    assert len(set(delivered)) == len(delivered)  # never twice
    if window >= 30:
        assert delivered == list(range(30))  # a big enough window fixes any order
