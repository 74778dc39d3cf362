"""A TextFixer whose layout fixer (and its word lists) load on the first fix that needs them."""

from __future__ import annotations

import threading
from typing import Any

from .fixer import TextFixer
from .lexicon import default_lexicon


class _LayoutOnFirstUse:
    """Stands in for `TextFixer.layout` until a fix needs it, then puts the real one in its place.

    The word lists cost about 130 MB and a second to load: an idle hub (or a worker that is never
    asked for a layout fix) does not pay for them. Fixes run on the pool, so the load does too.
    """

    def __init__(self) -> None:
        self._owner: TextFixer | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        owner = self._owner
        if owner is None or name.startswith("__"):
            raise AttributeError(name)
        with self._lock:
            if owner.layout is self:  # type: ignore[comparison-overlap]
                from .layout import LayoutFixer

                owner.layout = LayoutFixer(default_lexicon())
        return getattr(owner.layout, name)


def lazy_fixer() -> TextFixer:
    """A TextFixer whose layout fixer (and word lists) load on the first fix."""
    stand_in = _LayoutOnFirstUse()
    fixer = TextFixer(stand_in)  # type: ignore[arg-type]
    stand_in._owner = fixer
    return fixer
