"""All-or-nothing replay after a stream position (the recovery rule every engine shares)."""

from __future__ import annotations

from collections.abc import Sequence

from .model import Publication, StreamPosition


def replay_after(
    kept: Sequence[Publication], top: StreamPosition, since: StreamPosition, limit: int | None
) -> tuple[list[Publication], bool]:
    """The publications after `since`, or `([], False)` when they cannot all be given.

    `kept` is the channel's retained history in offset order and `top` its
    current position. Not recovered: another epoch, an offset beyond the top,
    more than `limit` missing, or a gap (trimmed by size or age).
    """
    if since.epoch != top.epoch or since.offset > top.offset or since.offset < 0:
        return [], False
    missing = top.offset - since.offset
    if missing == 0:
        return [], True
    if limit is not None and missing > limit:
        return [], False
    tail = [p for p in kept if p.offset > since.offset]
    if len(tail) != missing or tail[0].offset != since.offset + 1:
        return [], False
    return tail, True
