"""The text service's layout fixer (and its ~130 MB of word lists) loads on the first fix, once."""

from __future__ import annotations

import threading

from realtime.server.text.fixer import ALL_OPERATIONS, TextFixer
from realtime.server.text.layout import LayoutFixer
from realtime.server.text.lazy import lazy_fixer


def test_the_layout_fixer_loads_on_first_fix_and_gives_the_same_answers() -> None:
    fixer = lazy_fixer()
    assert not isinstance(fixer.layout, LayoutFixer)  # nothing loaded at registration
    got = fixer.fix("akuo", ALL_OPERATIONS)
    assert isinstance(fixer.layout, LayoutFixer)  # the real one took the stand-in's place
    assert got.text == TextFixer().fix("akuo", ALL_OPERATIONS).text == "שלום"


def test_concurrent_first_fixes_load_one_layout_fixer() -> None:
    fixer = lazy_fixer()
    stand_in = fixer.layout
    seen: list[object] = []

    def first_fix() -> None:
        fixer.fix("akuo", ALL_OPERATIONS)
        seen.append(fixer.layout)

    threads = [threading.Thread(target=first_fix) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) == 8 and len({id(s) for s in seen}) == 1 and seen[0] is not stand_in
