"""`buf curl --protocol grpcweb --schema proto` through the gateway, as a user would run it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2

from .gateway_wire import DIAG, WATCH, gateway_hub

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


async def buf_curl(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    assert BUF.exists(), "run `make setup` (npm ci installs the pinned buf)"
    proc = await asyncio.create_subprocess_exec(
        str(BUF),
        "curl",
        "--protocol",
        "grpcweb",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


def health_schema(tmp: Path) -> Path:
    """grpc.health.v1 as a descriptor set (the wheel ships no .proto), so buf can encode Watch."""
    files = descriptor_pb2.FileDescriptorSet()
    health_pb2.DESCRIPTOR.CopyToProto(files.file.add())
    path = tmp / "health.binpb"
    path.write_bytes(files.SerializeToString())
    return path


async def test_unary_with_token_and_without(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, _):
        code, out, err = await buf_curl(
            "--schema",
            "proto",
            "-H",
            f"Authorization: Bearer {hub.token('dora')}",
            "-d",
            '{"payload": "aGVsbG8="}',
            f"{hub.http_url}{DIAG}/Echo",
        )
        assert code == 0, err
        assert json.loads(out) == {"payload": "aGVsbG8="}
        code, out, err = await buf_curl("--schema", "proto", f"{hub.http_url}{DIAG}/GetIdentity")
        assert code == 16 * 8, (code, err)  # buf curl exits with 8 x the gRPC status code
        assert "unauthenticated" in err.lower()


async def test_server_streaming(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, _):
        # Watch never ends by itself: the client's deadline (grpc-timeout) ends it.
        code, out, err = await buf_curl(
            "--schema",
            str(health_schema(tmp_path)),
            "--timeout",
            "1.5s",
            "-d",
            '{"service": ""}',
            f"{hub.http_url}{WATCH}",
        )
        assert json.loads(out) == {"status": "SERVING"}, (out, err)
        assert code == 4 * 8, (code, err)  # DEADLINE_EXCEEDED after the first message
