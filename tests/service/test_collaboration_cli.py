"""`realtime doc ...` against a real hub: two scripted sessions type into one document and converge."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from realtime.server.testing import TestHub, running_hub

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")
CLI = str(Path(sys.executable).parent / "realtime")


async def cli(hub: TestHub, user: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "--server",
        hub.target,
        "--token",
        hub.token(user),
        "--json",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


def last_document(out: str) -> dict:  # type: ignore[type-arg]
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d["document"] for d in docs if d.get("event") == "document"][-1]


async def test_cli_documents_and_two_scripted_sessions(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as hub:
        code, out, err = await cli(hub, "alice", "doc", "create", "talk", "--title", "Talk")
        assert code == 0, err
        assert json.loads(out)["document_id"] == "talk"
        code, out, err = await cli(hub, "alice", "doc", "share", "talk", "bob", "--role", "editor")
        assert code == 0 and json.loads(out)["members"]["bob"] == "DOCUMENT_ROLE_EDITOR"
        setup = tmp_path / "setup.txt"
        setup.write_text('create s1 - slide title="Hello"\ncreate t1 s1 text body=""\nshow\n')
        code, out, err = await cli(
            hub, "alice", "doc", "join", "talk", "--script", str(setup), "--name", "Alice"
        )
        assert code == 0, err
        assert [e["id"] for e in last_document(out)["elements"]] == ["s1", "t1"]
        a = tmp_path / "a.txt"
        a.write_text("lease t1\ntype s1 title end  from Alice\nsync\nrelease t1\ncursor 10 20 s1\n")
        b = tmp_path / "b.txt"
        b.write_text("presence editing s1\ntype s1 title 0 Bob says:\n")
        (ca, oa, ea), (cb, ob, eb) = await asyncio.gather(
            cli(hub, "alice", "doc", "join", "talk", "--script", str(a)),
            cli(hub, "bob", "doc", "join", "talk", "--script", str(b)),
        )
        assert ca == 0 and cb == 0, (ea, eb)
        a_events = [json.loads(line).get("event") for line in oa.splitlines()]
        assert "lease_granted" in a_events and "lease_released" in a_events
        assert "rejected" not in a_events + [json.loads(line).get("event") for line in ob.splitlines()]
        code, out, err = await cli(hub, "bob", "doc", "get", "talk")
        assert code == 0, err
        got = json.loads(out)
        props = {e["element_id"]: e.get("properties", {}) for e in got["snapshot"]["elements"]}
        title = props["s1"]["title"]
        assert "Bob says:" in title and "from Alice" in title and "Hello" in title
        # no access (answered as not found): the status name on stderr and exit 1 (unary), an
        # error event and exit 1 (join)
        code, out, err = await cli(hub, "carol", "doc", "get", "talk")
        assert code == 1 and "NOT_FOUND" in err
        code, out, err = await cli(hub, "carol", "doc", "join", "talk", "--script", str(a))
        assert code == 1 and "NOT_FOUND" in out + err
