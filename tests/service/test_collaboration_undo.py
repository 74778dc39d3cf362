"""Undo and redo in the interactive `realtime doc join` session, with another editor typing around."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from realtime.common.collaboration.ops import CreateElement, EditText
from realtime.common.collaboration.textop import splice
from realtime.server.testing import running_hub
from realtime.v1 import collaboration_pb2 as pb
from realtime.v1 import collaboration_pb2_grpc

from .collab_peer import Peer
from .test_collaboration_cli import CLI

SERVICES = ("realtime.server.diagnostics.service", "realtime.server.collaboration.service")


class Interactive:
    """A `realtime --json doc join` process fed line by line on stdin."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def say(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines).encode())
        await self.proc.stdin.drain()

    async def until(self, event: str, where: Any = None) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(20):
            while True:
                line = await self.proc.stdout.readline()
                assert line, "the session ended"
                if not line.startswith(b"{"):
                    continue
                got = json.loads(line)
                if got.get("event") == event and (where is None or where(got)):
                    return got


def text_of(shown: dict[str, Any]) -> str:
    return str(shown["document"]["elements"][0]["properties"]["text"])


async def test_undo_redo_in_the_interactive_session(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as hub, hub.client("bob") as cb:
        async with hub.client("alice") as ca:
            s = ca.stub(collaboration_pb2_grpc.CollaborationServiceStub)
            await s.CreateDocument(pb.CreateDocumentRequest(document_id="u"), timeout=5)
            await s.ShareDocument(
                pb.ShareDocumentRequest(document_id="u", user_id="bob", role=pb.DOCUMENT_ROLE_EDITOR),
                timeout=5,
            )
        async with Peer(cb, "b") as bob:
            await bob.join("u")
            await bob.answer(bob.submit(CreateElement("t", "", "text", "V", {"text": ""})))
            proc = await asyncio.create_subprocess_exec(
                CLI,
                "--server",
                hub.target,
                "--token",
                hub.token("alice"),
                "--json",
                "doc",
                "join",
                "u",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            alice = Interactive(proc)
            try:
                await alice.until("joined")
                await alice.say("undo")  # nothing of hers to undo: bob's element is not hers
                assert (await alice.until("undo"))["undo"]["done"] is False
                await alice.say("type t text 0 Hello", "sync")
                await bob.wait_for("applied", where=lambda e: e.applied.operations[-1].version == 2)
                # bob types around alice's word
                await bob.answer(bob.submit(EditText("t", "text", splice(0, 0, "> "))))
                await bob.answer(bob.submit(EditText("t", "text", splice(7, 0, " world"))))
                await alice.until("applied", where=lambda e: e["applied"]["operations"][-1]["version"] == "4")
                await alice.say("undo", "sync", "show")
                assert text_of(await alice.until("document")) == ">  world"
                await alice.say("redo", "sync", "show")
                assert text_of(await alice.until("document")) == "> Hello world"
                await alice.say("undo", "undo", "sync", "show")
                assert (await alice.until("undo"))["undo"]["done"] is True
                assert (await alice.until("undo"))["undo"]["done"] is False
                assert text_of(await alice.until("document")) == ">  world"
                await bob.wait_for("applied", where=lambda e: e.applied.operations[-1].version == 7)
                assert bob.replica.confirmed.text("t", "text") == ">  world"
                await alice.say("leave")
                assert proc.stdin is not None
                proc.stdin.close()
                assert await asyncio.wait_for(proc.wait(), 20) == 0
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
