"""Hand-encoded protobuf for the hot responses (TextFix and the messages around it).

Building `Suggestion` messages through the protobuf runtime costs about 5 us
each, more than fixing the word did; a batch of 100 texts spent most of its time
there (measured with pyinstrument). Here the bytes of a suggestion's fields other
than `offset` are cached per (length, replacement, kind, confidence, message),
so a suggestion costs a dict lookup and a varint. The output is ordinary proto3
wire format (fields in number order, defaults omitted), and a unit test checks
it parses back to the same message the runtime would build.

Plain Python on purpose: no grpc import; `service.py` wraps the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ..platform.protowire import field as field_bytes
from ..platform.protowire import varint
from .fixer import FixResult
from .suggestions import Kind

_KIND = {Kind.LAYOUT: 1, Kind.CLEAN: 2}  # realtime.v1.SuggestionKind values
_DOUBLE = struct.Struct("<d")
_rest_cache: dict[tuple[int, str, bool, float, str], bytes] = {}
_REST_CACHE_SIZE = 100_000
_decision_cache: dict[tuple[str, float, str], bytes] = {}


def _string(number: int, text: str) -> bytes:
    return field_bytes(number, text.encode()) if text else b""


def _suggestion_rest(length: int, replacement: str, kind: Kind, confidence: float, message: str) -> bytes:
    key = (length, replacement, kind is Kind.LAYOUT, confidence, message)  # an enum hashes slowly
    found = _rest_cache.get(key)
    if found is None:
        parts = []
        if length:
            parts.append(b"\x10" + varint(length))
        parts.append(_string(3, replacement))
        parts.append(b"\x20" + varint(_KIND[kind]))
        if confidence:
            parts.append(b"\x29" + _DOUBLE.pack(confidence))
        parts.append(_string(6, message))
        found = b"".join(parts)
        if len(_rest_cache) >= _REST_CACHE_SIZE:
            _rest_cache.clear()
        _rest_cache[key] = found
    return found


def _duration(seconds: float) -> bytes:
    nanos_total = int(seconds * 1e9)
    secs, nanos = divmod(nanos_total, 1_000_000_000)
    out = b""
    if secs:
        out += b"\x08" + varint(secs)
    if nanos:
        out += b"\x10" + varint(nanos)
    return out


def text_fix(fix: FixResult) -> bytes:
    """A serialized realtime.v1.TextFix."""
    parts = [_string(1, fix.text)]
    for s in fix.suggestions:
        body = _suggestion_rest(s.length, s.replacement, s.kind, s.confidence, s.message)
        if s.offset:
            body = b"\x08" + varint(s.offset) + body
        parts.append(b"\x12" + varint(len(body)) + body)
    parts.append(field_bytes(3, _duration(fix.compute_seconds)))
    if fix.reason:
        parts.append(_decision(fix.language, fix.confidence, fix.reason))
    return b"".join(parts)


def _decision(language: str, confidence: float, reason: str) -> bytes:
    """TextFix field 4, a LanguageDecision (a handful of distinct values: cached)."""
    key = (language, confidence, reason)
    found = _decision_cache.get(key)
    if found is None:
        body = _string(1, language) + (b"\x11" + _DOUBLE.pack(confidence) if confidence else b"")
        found = field_bytes(4, body + _string(3, reason))
        if len(_decision_cache) >= _REST_CACHE_SIZE:
            _decision_cache.clear()
        _decision_cache[key] = found
    return found


def fix_text_response(fix: FixResult) -> bytes:
    """A serialized realtime.v1.FixTextResponse."""
    return field_bytes(1, text_fix(fix))


def batch_result(item_id: str, *, fix: bytes | None = None, error: bytes | None = None) -> bytes:
    """A serialized realtime.v1.FixTextBatchResult around a serialized TextFix (`text_fix`) or
    a serialized ErrorEvent."""
    if fix is not None:
        return _string(1, item_id) + field_bytes(2, fix)
    return _string(1, item_id) + field_bytes(3, error or b"")


def batch_response(results: Iterable[bytes]) -> bytes:
    """A serialized realtime.v1.FixTextBatchResponse."""
    return b"".join(field_bytes(1, r) for r in results)
