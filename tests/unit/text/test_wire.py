"""The hand-encoded responses parse to exactly what the protobuf runtime would build."""

from __future__ import annotations

from realtime.server.platform.errors import invalid_argument
from realtime.server.platform.status import error_event
from realtime.server.text import wire
from realtime.server.text.convert import to_pb
from realtime.server.text.fixer import FixResult, TextFixer
from realtime.server.text.layout import LayoutFixer
from realtime.v1 import text_pb2

FIXER = TextFixer(LayoutFixer())
TEXTS = ["akuo  nv akunl?", "hello", "cafÃ©\u200b akuo", "x" * 300 + " akuo", "יקךךם world", "a"]


def test_text_fix_matches_the_runtime() -> None:
    for text in TEXTS:
        fix = FIXER.fix(text)
        assert text_pb2.TextFix.FromString(wire.text_fix(fix)) == to_pb(fix)
        response = text_pb2.FixTextResponse.FromString(wire.fix_text_response(fix))
        assert response == text_pb2.FixTextResponse(fix=to_pb(fix))


def test_zero_and_large_values() -> None:
    fix = FixResult("", (), 0.0)
    assert text_pb2.TextFix.FromString(wire.text_fix(fix)) == to_pb(fix)
    slow = FixResult("t", (), 3.25)
    parsed = text_pb2.TextFix.FromString(wire.text_fix(slow))
    assert (parsed.compute_time.seconds, parsed.compute_time.nanos) == (3, 250_000_000)
    assert wire.varint(300) == b"\xac\x02"


def test_batch_response_matches_the_runtime() -> None:
    fixes = [FIXER.fix(t) for t in TEXTS]
    err = error_event(invalid_argument("text is empty", [("items[6].text", "must not be empty")]), "bad")
    encoded = [wire.batch_result(str(i), fix=wire.text_fix(f)) for i, f in enumerate(fixes)]
    encoded.append(wire.batch_result("bad", error=err.SerializeToString()))
    parsed = text_pb2.FixTextBatchResponse.FromString(wire.batch_response(encoded))
    expected = text_pb2.FixTextBatchResponse(
        results=[text_pb2.FixTextBatchResult(id=str(i), fix=to_pb(f)) for i, f in enumerate(fixes)]
        + [text_pb2.FixTextBatchResult(id="bad", error=err)]
    )
    assert parsed == expected
