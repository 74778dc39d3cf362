"""Fractional indexes: strings that order siblings, with room between any two.

Keys are non-empty strings over 0-9A-Za-z (ASCII order) not ending in "0", so a
key strictly between any two keys always exists. Two clients inserting at the
same spot may pick the same key; siblings are ordered by (key, element id), so
the order is still total and the same everywhere.
"""

from __future__ import annotations

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(DIGITS)}
BASE = len(DIGITS)
MAX_LENGTH = 128


def is_valid(key: str) -> bool:
    return 0 < len(key) <= MAX_LENGTH and all(c in _INDEX for c in key) and not key.endswith("0")


def between(low: str | None, high: str | None) -> str:
    """A key strictly between `low` and `high` (None: no bound on that side)."""
    a = low or ""
    if high is not None and a >= high:
        raise ValueError(f"low {low!r} must sort before high {high!r}")
    return _midpoint(a, high)


def _midpoint(a: str, b: str | None) -> str:
    if b is not None:
        n = 0
        while n < len(b) and (a[n] if n < len(a) else "0") == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    da = _INDEX[a[0]] if a else 0
    db = _INDEX[b[0]] if b is not None else BASE
    if db - da > 1:
        return DIGITS[(da + db) // 2]
    if b is not None and len(b) > 1:
        return b[0]
    return DIGITS[da] + _midpoint(a[1:], None)


def place(low: str | None, high: str | None) -> str:
    """A key for a new sibling between neighbours with keys `low` and `high`.

    Like `between`, except when the neighbours share a key (two clients once picked
    the same spot; they are ordered by id): then no key lies strictly between, and
    the new sibling goes after `low`'s key instead.
    """
    if low is not None and high is not None and low >= high:
        return between(low, None)
    return between(low, high)
