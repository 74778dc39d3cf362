"""`realtime analyze ...` as a user runs it: a subprocess against a real hub."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from realtime.server.testing import TestHub, running_hub

from .analysis_helpers import SCREENSHOT, SERVICES, png

CLI = str(Path(sys.executable).parent / "realtime")


async def cli(h: TestHub, *args: str, sub: str = "alice") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI,
        *args,
        "--server",
        h.target,
        "--token",
        h.token(sub),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_submit_watch_screenshot_json_and_text(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h:
        code, out, err = await cli(
            h, "analyze", "submit", str(SCREENSHOT), "--analyzer", "screenshot.suggest",
            "--priority", "urgent", "--watch", "--json",
        )  # fmt: skip
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert events[0]["event"] == "snapshot" and events[-1]["event"] == "done"
        assert [e["partial"]["suggestion"] for e in events if e["event"] == "partial_result"]
        assert events[-1]["state"] == "SUCCEEDED" and events[-1]["percent"] == 100
        code, out, _ = await cli(h, "analyze", "get", events[-1]["name"])  # text mode: the suggestions
        assert code == 0 and "SUCCEEDED" in out and "\nsuggestions:\n  1. " in out

        code, out, err = await cli(
            h, "analyze", "submit", str(SCREENSHOT), "--analyzer", "image.optimize", "--watch",
            "--save", str(tmp_path / "out"), "--option", "max_side=400",
        )  # fmt: skip
        assert code == 0, err
        final = json.loads(out)
        assert final["state"] == "SUCCEEDED" and final["result"]["height"] == 400
        saved = await asyncio.to_thread(Path(final["saved"][0]).read_bytes)
        assert len(saved) == final["artifacts"][0]["bytes"]
        assert "100%" in err  # the progress bar went to stderr
        name = final["name"]

        code, out, _ = await cli(h, "analyze", "list", "--json")
        assert code == 0 and name in {json.loads(line)["name"] for line in out.splitlines()}
        code, out, _ = await cli(h, "analyze", "get", name.split("/")[1], "--json")
        assert code == 0 and json.loads(out)["done"] is True
        code, out, _ = await cli(h, "analyze", "wait", name, "--json")
        assert code == 0 and json.loads(out)["state"] == "SUCCEEDED"


async def test_cli_errors_have_status_names(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h:
        note = tmp_path / "note.txt"
        note.write_text("hello there")
        code, _, err = await cli(h, "analyze", "submit", str(note), "--analyzer", "image.optimize")
        assert code == 1 and err.startswith("INVALID_ARGUMENT") and "UNSUPPORTED_CONTENT_TYPE" in err
        code, out, _ = await cli(h, "analyze", "submit", str(note), "--analyzer", "text.inspect", "--json")
        assert code == 0
        name = json.loads(out)["name"]
        code, _, err = await cli(h, "analyze", "cancel", name, sub="mallory")
        assert code == 1 and err.startswith("PERMISSION_DENIED")
        code, _, err = await cli(h, "analyze", "get", "operations/nope")
        assert code == 1 and err.startswith("NOT_FOUND")


async def test_list_failed_jobs_the_dead_letter_view(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h:
        broken = tmp_path / "broken.png"
        whole = png(400, 300, (10, 200, 30))
        broken.write_bytes(whole[: len(whole) // 2])
        code, out, err = await cli(
            h, "analyze", "submit", str(broken), "--analyzer", "image.inspect", "--watch", "--json"
        )
        assert code != 0 and json.loads(out.splitlines()[-1])["state"] == "FAILED", err
        name = json.loads(out.splitlines()[-1])["name"]
        good = tmp_path / "good.png"
        good.write_bytes(whole)
        code, _, err = await cli(h, "analyze", "submit", str(good), "--analyzer", "image.inspect", "--watch")
        assert code == 0, err
        code, out, err = await cli(h, "analyze", "list", "--state", "failed", "--json")
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        assert [r["name"] for r in rows] == [name]
        assert rows[0]["attempt"] == 1 and rows[0]["max_attempts"] == 3  # not retried: the input is bad
        assert "truncated or corrupt" in rows[0]["last_error"]["message"]
        code, out, _ = await cli(h, "analyze", "list", "--state", "failed")
        assert code == 0 and name in out and "truncated or corrupt" in out
        code, _, err = await cli(h, "analyze", "list", "--state", "lost")
        assert code != 0 and "invalid choice" in err
