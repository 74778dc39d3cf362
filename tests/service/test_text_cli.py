"""`realtime text fix|type` against a real hub."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

import pytest

from realtime.client.cli import main
from realtime.server.testing import TestHub

from .text_support import text_hub


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with text_hub(tmp_path) as h:
        yield h


async def run_cli(hub: TestHub, *args: str) -> int:
    argv = ["--server", hub.target, "--token", hub.token("alice"), *args]
    return await asyncio.wait_for(asyncio.to_thread(main, argv), 60)


async def test_fix_prints_corrected_text(hub: TestHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(hub, "text", "fix", "akuo", "יקךךם world", "tbh") == 0
    assert capsys.readouterr().out.splitlines() == ["שלום", "hello world", "tbh"]


async def test_fix_json_reads_stdin_lines(
    hub: TestHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("akuo  nv\n\nhello\n"))
    assert await run_cli(hub, "text", "fix", "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["input"] for line in lines] == ["akuo  nv", "", "hello"]
    first = lines[0]
    assert first["output"] == "שלום מה"
    assert set(first) == {"input", "output", "suggestions", "decision"}
    assert first["decision"]["language"] == "he" and 0.0 < first["decision"]["confidence"] <= 1.0
    assert first["suggestions"][0] == {
        "offset": 0,
        "length": 4,
        "replacement": "שלום",
        "kind": "LAYOUT",
        "confidence": first["suggestions"][0]["confidence"],
    }
    assert [s["kind"] for s in first["suggestions"]] == ["LAYOUT", "CLEAN", "LAYOUT"]
    assert lines[1] == {
        "input": "",
        "output": "",
        "suggestions": [],
        "decision": {"language": "", "confidence": 0.0, "reason": ""},
    }
    assert lines[2]["suggestions"] == []


async def test_fix_with_options(hub: TestHub, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(hub, "text", "fix", "--op", "clean", "akuo  nv") == 0
    assert await run_cli(hub, "text", "fix", "--lang", "he", "burt") == 0
    assert capsys.readouterr().out.splitlines() == ["akuo nv", "נורא"]
    assert await run_cli(hub, "text", "fix", "--lang", "fr", "burt") == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
    # A short reply decided by the previous message of the conversation.
    assert await run_cli(hub, "text", "fix", "nv?") == 0
    assert await run_cli(hub, "text", "fix", "--context", "יש לך רגע?", "nv?") == 0
    assert capsys.readouterr().out.splitlines() == ["nv?", "מה?"]
    too_many = [arg for i in range(11) for arg in ("--context", f"m{i}")]
    assert await run_cli(hub, "text", "fix", *too_many, "nv?") == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err


async def test_type_replays_keystrokes(
    hub: TestHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "typed.txt"
    source.write_text("akuo nv akunl", encoding="utf-8")
    code = await run_cli(
        hub,
        "text",
        "type",
        "--file",
        str(source),
        "--delay-ms",
        "5",
        "--jitter-ms",
        "0",
        "--debounce-ms",
        "2000",
        "--json",
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]
    results = lines[:-1]
    assert results[-1]["output"] == "שלום מה שלומך" and results[-1]["version"] == 13
    assert summary["keystrokes"] == 13
    assert summary["computations"] == len(results)
    assert summary["computations_saved"] == 13 - len(results) and summary["computations_saved"] >= 10
