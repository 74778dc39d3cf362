"""`realtime notify ...` against a real hub (the CLI runs as a subprocess)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from realtime.server.testing import TestHub

from .notify_support import notify_hub

CLI = str(Path(sys.executable).parent / "realtime")


async def cli(hub: TestHub, tmp: Path, *args: str, sub: str = "alice") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI,
        *args,
        "--server",
        hub.target,
        "--jwt-secret-file",
        str(tmp / "jwt-secret"),
        "--sub",
        sub,
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
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_publish_subscribe_list_read(tmp_path: Path) -> None:
    async with notify_hub(tmp_path) as hub:
        args = ("notify", "publish", "topic:cli", "--title", "hello", "--json")
        code, out, _ = await cli(hub, tmp_path, *args)
        assert code == 0
        published = json.loads(out)
        epoch = published["position"]["epoch"]
        code, out, err = await cli(
            hub, tmp_path, "notify", "subscribe", "topic:cli", "--from", f"{epoch}:0", "--count", "1"
        )
        assert code == 0, err
        assert "subscribed topic:cli" in out and "(recovered)" in out and "hello" in out
        assert f"id={published['id']}" in out
        code, out, _ = await cli(hub, tmp_path, "notify", "list", "--channel", "topic:cli", "--json")
        assert code == 0 and json.loads(out.splitlines()[0])["title"] == "hello"
        code, out, _ = await cli(hub, tmp_path, "notify", "read", published["id"])
        assert code == 0 and out.strip() == "1 newly marked read"
        code, out, _ = await cli(hub, tmp_path, "notify", "list", "--channel", "topic:cli", "--unread")
        assert code == 0 and out.strip() == ""
        code, _, err = await cli(hub, tmp_path, "notify", "publish", "user:bob", "--title", "x")
        assert code == 1 and "PERMISSION_DENIED" in err
        code, _, err = await cli(hub, tmp_path, "notify", "subscribe", "topic:x", "--from", "nonsense")
        assert code == 2 and "EPOCH:OFFSET" in err
