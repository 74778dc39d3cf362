"""`buf curl` as users run it: reflection lists the services, calls work with a token."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from realtime.server.testing import TestHub

BUF = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "buf"


async def buf_curl(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(BUF),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_list_methods_through_reflection(hub: TestHub) -> None:
    assert BUF.exists(), "run `make setup` (npm ci installs the pinned buf)"
    code, out, err = await buf_curl("--list-methods", f"http://{hub.target}")
    assert code == 0, err
    methods = out.split()
    assert "realtime.v1.DiagnosticsService/GetIdentity" in methods
    assert "grpc.health.v1.Health/Check" in methods


async def test_unary_and_bidi_calls_with_token(hub: TestHub) -> None:
    auth = f"authorization: Bearer {hub.token('alice', roles=['admin'])}"
    code, out, err = await buf_curl(
        "-H", auth, f"http://{hub.target}/realtime.v1.DiagnosticsService/GetIdentity"
    )
    assert code == 0, err
    assert json.loads(out)["subject"] == "alice"
    commands = b'{"id":"1","ping":{}}\n{"id":"2","echo":{"payload":"aGk="}}\n'
    code, out, err = await buf_curl(
        "-H",
        auth,
        "-d",
        "@-",
        f"http://{hub.target}/realtime.v1.DiagnosticsService/EchoStream",
        stdin=commands,
    )
    assert code == 0, err
    events = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
    assert events[0] == {"commandId": "1", "pong": {}}
    assert events[1] == {"commandId": "2", "echo": {"payload": "aGk="}}


async def test_missing_token_is_unauthenticated(hub: TestHub) -> None:
    code, _, err = await buf_curl(f"http://{hub.target}/realtime.v1.DiagnosticsService/GetIdentity")
    assert code == 16 * 8  # buf curl exits with 8 x the gRPC status code
    assert "unauthenticated" in err.lower()
