"""ListNotifications: pages of history, newest first, over one channel or the caller's own.

The page token records, per channel, the offset to continue below (and the
epoch it belongs to: a token from a lost epoch starts over from the top).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ..broker.base import Broker, Publication
from ..platform.errors import invalid_argument
from .model import Notification, from_publication

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Page:
    notifications: list[tuple[Notification, bool]]  # (notification, read)
    next_page_token: str


def _decode_token(token: str) -> dict[str, list[object]]:
    if not token:
        return {}
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[1], int) for v in raw.values()
        ):
            raise ValueError("bad token shape")
        return raw
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_argument(
            "invalid page_token", [("page_token", "pass next_page_token from the previous page unchanged")]
        ) from exc


def _encode_token(state: dict[str, list[object]]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


#: What one listed notification costs on the wire beyond its strings and bytes (field tags,
#: lengths, position, time, level, read): a generous bound.
ITEM_OVERHEAD = 96


def wire_size(n: Notification) -> int:
    """An upper bound of the bytes `n` takes in a ListNotificationsResponse."""
    c = n.content
    strings = (n.id, n.channel, n.epoch, c.title, c.body, c.content_type, c.publisher)
    return ITEM_OVERHEAD + len(c.data) + sum(len(s.encode()) for s in strings)


async def list_page(
    broker: Broker,
    user_id: str,
    channels: list[str],
    *,
    unread_only: bool,
    page_size: int,
    page_token: str,
    max_bytes: int = 0,
) -> Page:
    """A page of at most `page_size` notifications and (when set) about `max_bytes` on the wire:
    near the size cap a page holds fewer, and the token continues after the last one sent."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise invalid_argument("invalid page_size", [("page_size", f"between 0 and {MAX_PAGE_SIZE}")])
    size = page_size or DEFAULT_PAGE_SIZE
    state = _decode_token(page_token)
    if state and set(state) - set(channels):
        raise invalid_argument("page_token is for other channels", [("page_token", "does not match channel")])
    candidates: list[Publication] = []
    tops: dict[str, str] = {}
    for channel in channels:
        before: int | None = None
        if channel in state:
            epoch, offset = state[channel]
            before = int(offset)  # type: ignore[call-overload]
            if before <= 1:
                continue  # that channel is exhausted
        res = await broker.history_page(channel, before_offset=before, limit=size)
        if channel in state and state[channel][0] != res.position.epoch:
            res = await broker.history_page(channel, limit=size)  # the epoch changed: start over
        tops[channel] = res.position.epoch
        candidates.extend(res.publications)
    candidates.sort(key=lambda p: (p.time, p.offset), reverse=True)
    taken = _within(candidates[:size], max_bytes)
    # Per channel: continue below the oldest offset taken; [epoch, 1] marks a channel with nothing older.
    next_state: dict[str, list[object]] = {}
    for channel in channels:
        got = [p for p in candidates if p.channel == channel]
        mine = [p.offset for p in taken if p.channel == channel]
        epoch = tops.get(channel, "")
        if not got:
            next_state[channel] = [epoch, 1]
        elif mine:
            lowest = min(mine)
            pending = len(got) > len(mine) or (len(got) >= size and lowest > 1)
            next_state[channel] = [epoch, lowest if pending else 1]
        else:
            next_state[channel] = [epoch, max(p.offset for p in got) + 1]
    more = any(int(v[1]) > 1 for v in next_state.values())  # type: ignore[call-overload]
    read = await broker.read_marks(user_id, [from_publication(p).id for p in taken]) if taken else set()
    items = []
    for pub in taken:
        n = from_publication(pub)
        is_read = n.id in read
        if unread_only and is_read:
            continue
        items.append((n, is_read))
    return Page(items, _encode_token(next_state) if more else "")


def _within(pubs: list[Publication], max_bytes: int) -> list[Publication]:
    """The first of `pubs` that fit in `max_bytes` together (always the first one: a single
    notification fits a message, its size was checked at publish)."""
    if max_bytes <= 0:
        return pubs
    used = 0
    for i, pub in enumerate(pubs):
        used += wire_size(from_publication(pub))
        if used > max_bytes and i > 0:
            return pubs[:i]
    return pubs
