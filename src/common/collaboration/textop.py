"""Text operations on code points, and their transformation (operational transform).

An operation walks the text from its start: a positive int keeps (retains) that
many code points, a negative int deletes that many, a string inserts itself.
What the operation does not walk is kept (an implicit trailing retain), so an
operation does not need to know the text's length. This is the ot.js /
ShareDB text type, the form the wire carries in `EditText.components`.

`transform(a, b)` takes two operations made on the same text and returns
`(a2, b2)` with apply(apply(t, a), b2) == apply(apply(t, b), a2): both users'
typing survives. When both insert at the same place, `a`'s text goes first;
the sequencer always passes the operation it applied earlier as `a`, and
clients do the same with the operations they receive, so everyone orders ties
alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

Component = int | str
TextOp = tuple[Component, ...]


class TextOpError(ValueError):
    """The operation is malformed or does not fit the text."""


def normalize(components: Iterable[Component]) -> TextOp:
    """Merge neighbours of the same kind, drop empty steps and the trailing retain.

    An insert next to a delete is put first, so equal edits have one form.
    """
    out: list[Component] = []
    for c in components:
        if isinstance(c, bool) or not isinstance(c, (int, str)):
            raise TextOpError(f"component {c!r} is neither an int nor a string")
        if c == 0 or c == "":
            continue
        if out:
            last = out[-1]
            if isinstance(c, str) and isinstance(last, str):
                out[-1] = last + c
                continue
            if isinstance(c, int) and isinstance(last, int) and (c > 0) == (last > 0):
                out[-1] = last + c
                continue
            if isinstance(c, str) and isinstance(last, int) and last < 0:
                # delete then insert == insert then delete; keep inserts first
                if len(out) >= 2 and isinstance(out[-2], str):
                    out[-2] = out[-2] + c
                else:
                    out.insert(len(out) - 1, c)
                continue
        out.append(c)
    while out and isinstance(out[-1], int) and out[-1] > 0:
        out.pop()
    return tuple(out)


def validate(components: Sequence[Component], max_insert: int) -> TextOp:
    """Check the shape (non-empty, no zero steps, bounded inserts) and normalize."""
    if not components:
        raise TextOpError("an edit needs at least one component")
    inserted = 0
    for c in components:
        if isinstance(c, str):
            if not c:
                raise TextOpError("insert components must not be empty")
            inserted += len(c)
        elif isinstance(c, int) and not isinstance(c, bool):
            if c == 0:
                raise TextOpError("retain and delete components must be positive")
        else:
            raise TextOpError(f"component {c!r} is neither an int nor a string")
    if inserted > max_insert:
        raise TextOpError(f"the edit inserts {inserted} code points; at most {max_insert} are allowed")
    op = normalize(components)
    if not op:
        raise TextOpError("the edit changes nothing")
    return op


def apply(text: str, op: Sequence[Component]) -> str:
    """The text after `op`. Raises TextOpError when a retain or delete runs past the end."""
    pos = 0
    out: list[str] = []
    n = len(text)
    for c in op:
        if isinstance(c, str):
            out.append(c)
        elif c > 0:
            if pos + c > n:
                raise TextOpError(f"retain of {c} at offset {pos} runs past the end ({n})")
            out.append(text[pos : pos + c])
            pos += c
        else:
            if pos - c > n:
                raise TextOpError(f"delete of {-c} at offset {pos} runs past the end ({n})")
            pos -= c
    out.append(text[pos:])
    return "".join(out)


def transform(a: Sequence[Component], b: Sequence[Component]) -> tuple[TextOp, TextOp]:
    """Rebase two concurrent operations over each other; `a` wins insert ties (see module doc)."""
    a2: list[Component] = []
    b2: list[Component] = []
    ia, ib = 0, 0
    ca: Component | None = a[0] if a else None
    cb: Component | None = b[0] if b else None

    def next_a() -> Component | None:
        nonlocal ia
        ia += 1
        return a[ia] if ia < len(a) else None

    def next_b() -> Component | None:
        nonlocal ib
        ib += 1
        return b[ib] if ib < len(b) else None

    while ca is not None or cb is not None:
        if isinstance(ca, str):
            a2.append(ca)
            b2.append(len(ca))
            ca = next_a()
            continue
        if isinstance(cb, str):
            a2.append(len(cb))
            b2.append(cb)
            cb = next_b()
            continue
        # Both are retains or deletes; an exhausted side is an endless retain.
        if ca is None:
            assert isinstance(cb, int)
            if cb > 0:
                a2.append(cb)
                b2.append(cb)
            else:
                b2.append(cb)
            cb = next_b()
            continue
        if cb is None:
            if ca > 0:
                a2.append(ca)
                b2.append(ca)
            else:
                a2.append(ca)
            ca = next_a()
            continue
        assert isinstance(ca, int) and isinstance(cb, int)
        m = min(abs(ca), abs(cb))
        if ca > 0 and cb > 0:
            a2.append(m)
            b2.append(m)
        elif ca < 0 and cb > 0:
            a2.append(-m)
        elif ca > 0 and cb < 0:
            b2.append(-m)
        # both delete the same code points: neither needs to
        ca = _shrink(ca, m)
        cb = _shrink(cb, m)
        if ca == 0:
            ca = next_a()
        if cb == 0:
            cb = next_b()
    return normalize(a2), normalize(b2)


def _shrink(c: int, m: int) -> int:
    return c - m if c > 0 else c + m


def splice(offset: int, delete: int, insert: str) -> TextOp:
    """The operation that deletes `delete` code points at `offset` and inserts `insert` there."""
    return normalize((offset, insert, -delete))


def diff(old: str, new: str) -> TextOp:
    """An operation turning `old` into `new` (a rebase target when the operations between two
    versions are no longer known): the common prefix and suffix are kept, and when the middle
    is small enough it is matched too, so edits far apart rebase as they would one by one."""
    n = min(len(old), len(new))
    start = 0
    while start < n and old[start] == new[start]:
        start += 1
    end = 0
    while end < n - start and old[-1 - end] == new[-1 - end]:
        end += 1
    a, b = old[start : len(old) - end], new[start : len(new) - end]
    out: list[Component] = [start]
    if a and b and len(a) * len(b) <= DIFF_CELLS:
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if tag == "equal":
                out.append(i2 - i1)
            else:
                out.extend((b[j1:j2], -(i2 - i1)))
    else:
        out.extend((b, -len(a)))
    return normalize(out)


#: Above this many (old x new) code points of changed middle, `diff` replaces it wholesale.
DIFF_CELLS = 4_000_000
