"""The document's size bound is never below what its snapshot really takes on the wire."""

from __future__ import annotations

import random
from typing import Any

from realtime.common.collaboration.document import Element, element_wire_size
from realtime.server.collaboration.service import element_to_pb
from realtime.v1 import collaboration_pb2 as pb


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 2**40, 0.5, -1e300])
    if kind in (3, 4):
        return "".join(rng.choice('aé中😀 \n"') for _ in range(rng.randrange(0, 300)))
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]
    return {f"k{i}é": _value(rng, depth + 1) for i in range(rng.randrange(0, 6))}


def test_element_wire_size_bounds_the_real_encoding() -> None:
    seed = 1234
    print(f"seed={seed}")
    rng = random.Random(seed)
    for i in range(300):
        props = {f"p{j}": _value(rng) for j in range(rng.randrange(0, 8))}
        el = Element(
            f"e{i}", rng.choice(["", "parent-é"]), "text", "V" * rng.randrange(1, 40), props, "alice", i
        )
        real = pb.DocumentSnapshot(elements=[element_to_pb(el)]).ByteSize()
        assert real <= element_wire_size(el) <= real + 40, (real, element_wire_size(el), props)
