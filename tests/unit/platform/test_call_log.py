"""The one-line-per-call log: same shape on the fast path as through `logging`, never a token."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from realtime.server.platform.logs import CallLog, JsonFormatter, TextFormatter

FIELDS = {"protocol": "grpc-web", "method": "/realtime.v1.X/Y", "code": "OK", "duration_ms": 1.25}


@pytest.fixture
def logger() -> logging.Logger:
    log = logging.getLogger("realtime.test-calls")
    log.setLevel(logging.INFO)
    return log


async def test_json_lines_are_batched(logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger("realtime.calls"), "level", logging.INFO)
    out = io.StringIO()
    calls = CallLog()
    calls.configure("json", out)
    calls.emit(logger, "gateway call finished", FIELDS)
    calls.finished("alice", "/realtime.v1.X/Y", "OK", 0.5, 1, 2)
    assert out.getvalue() == ""  # written in batches, not per call
    await asyncio.sleep(0)
    assert out.getvalue() == ""  # not even per event-loop turn
    for _ in range(200):  # the batch timer writes them (bounded wait, not a timing assertion)
        if out.getvalue():
            break
        await asyncio.sleep(CallLog.FLUSH_INTERVAL / 5)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["logger"] == "realtime.test-calls" and first["message"] == "gateway call finished"
    assert {k: first[k] for k in FIELDS} == FIELDS and first["level"] == "info"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["logger"] == "realtime.calls" and second["user"] == "alice"
    assert (second["msgs_in"], second["msgs_out"]) == (1, 2)


async def test_text_line_matches_the_text_formatter(logger: logging.Logger) -> None:
    out = io.StringIO()
    calls = CallLog()
    calls.configure("text", out)
    calls.emit(logger, "gateway call finished", FIELDS)
    calls.flush()
    line = out.getvalue().strip()
    assert " INFO realtime.test-calls: gateway call finished protocol=grpc-web " in line
    assert line.endswith("code=OK duration_ms=1.25")
    record = logging.LogRecord(logger.name, logging.INFO, "", 0, "gateway call finished", None, None)
    record.__dict__.update(FIELDS)
    slow = TextFormatter().format(record)
    assert slow.split(" ", 2)[2] == line.split(" ", 2)[2]  # same after the timestamp
    assert json.loads(JsonFormatter().format(record))["protocol"] == "grpc-web"


def test_unconfigured_goes_through_logging_and_respects_the_level(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    calls = CallLog()
    with caplog.at_level(logging.INFO, logger=logger.name):
        calls.emit(logger, "gateway call finished", FIELDS)
    [record] = caplog.records
    assert record.getMessage() == "gateway call finished" and record.__dict__["code"] == "OK"
    caplog.clear()
    logger.setLevel(logging.WARNING)
    out = io.StringIO()
    calls.configure("json", out)
    calls.emit(logger, "gateway call finished", FIELDS)
    assert calls._pending == [] and not caplog.records


@pytest.mark.parametrize("trace_id", ["", "4bf92f3577b34da6a3ce929d0e0e4736"])
async def test_call_lines_formatted_directly_match_emit(
    monkeypatch: pytest.MonkeyPatch, trace_id: str
) -> None:
    """`finished` formats text lines without the field dict; they must read as `emit` writes them."""
    monkeypatch.setattr(logging.getLogger("realtime.calls"), "level", logging.INFO)
    direct, general = io.StringIO(), io.StringIO()
    fast, slow = CallLog(), CallLog()
    fast.configure("text", direct)
    slow.configure("text", general)
    fast.finished("alice", "/realtime.v1.X/Y", "OK", 1.25, 1, 2, trace_id)
    fields: dict[str, object] = {
        "user": "alice",
        "method": "/realtime.v1.X/Y",
        "code": "OK",
        "duration_ms": 1.25,
        "msgs_in": 1,
        "msgs_out": 2,
    }
    if trace_id:
        fields["trace_id"] = trace_id
    slow.emit(logging.getLogger("realtime.calls"), "call finished", fields)
    fast.flush()
    slow.flush()
    fast_line, slow_line = direct.getvalue(), general.getvalue()
    assert fast_line.count("\n") == 1
    # Same line but for the milliseconds of the timestamp (the two were taken apart).
    assert fast_line.split(" ", 2)[2] == slow_line.split(" ", 2)[2]


async def test_a_large_batch_is_written_at_once(logger: logging.Logger) -> None:
    out = io.StringIO()
    calls = CallLog()
    calls.configure("text", out)
    line = {"payload": "x" * 1000}
    for _ in range(CallLog.FLUSH_BYTES // 1000 + 1):
        calls.emit(logger, "gateway call finished", line)
    assert out.getvalue().count("\n") > CallLog.FLUSH_BYTES // 1100  # no timer needed
    calls.flush()
    assert out.getvalue().count("\n") == CallLog.FLUSH_BYTES // 1000 + 1
