"""The client's per-channel cursor: each offset handed out once, resume after the last gapless one."""

from __future__ import annotations

import random

from realtime.client.notifications import _Cursor


def test_out_of_order_and_repeated_offsets() -> None:
    seed = 20261201
    print("seed", seed)
    rng = random.Random(seed)
    for _ in range(200):
        cursor = _Cursor("e", 0)
        offsets = list(range(1, 40))
        arrivals = offsets + rng.sample(offsets, 15)  # every offset, some twice
        rng.shuffle(arrivals)
        handed = [o for o in arrivals if cursor.take("e", o)]
        assert sorted(handed) == offsets
        assert cursor.contiguous == 39 and not cursor.ahead


def test_a_gap_holds_the_resume_point() -> None:
    cursor = _Cursor("e", 5)
    assert cursor.take("e", 7) and cursor.contiguous == 5  # 6 missing: resume after 5
    assert not cursor.take("e", 7) and not cursor.take("e", 4)
    assert cursor.take("e", 6) and cursor.contiguous == 7
    assert cursor.take("f", 1) and (cursor.epoch, cursor.contiguous) == ("f", 1)  # a new epoch
