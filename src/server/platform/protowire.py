"""Protobuf wire-format pieces for responses the hub encodes by hand (pre-encoded, cached bytes).

Text results, notification events and collaboration broadcasts are serialized once and reused
across calls and subscribers; all build their bytes from these helpers (tests compare them with the
protobuf library's output) and register `serialize` as their response serializer.
"""

from __future__ import annotations

from typing import Any

_SMALL = [bytes([i]) for i in range(128)]


def varint(value: int) -> bytes:
    """A base-128 varint (non-negative `value`)."""
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int) -> bytes:
    """The tag of a length-delimited field (wire type 2)."""
    return varint(number << 3 | 2)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return tag(number) + varint(len(payload)) + payload


def serialize(message: Any) -> bytes:
    """A gRPC response serializer for methods that answer with bytes they encoded themselves
    (encoded once, shared) or with a message."""
    return message if type(message) is bytes else message.SerializeToString()  # type: ignore[no-any-return]
