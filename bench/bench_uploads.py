"""Upload throughput: MB/s of a chunked upload through gRPC and through the gateway's WebSocket
bridge, beside raw grpc.aio client streaming of the same chunks measured in the same run.

- raw: a bare grpc.aio server swallowing 256 KiB messages (bench.raw_echo `Sink`), no auth, no disk;
- hub_write: `UploadService.Write` of the same chunks (auth, offsets, append to the disk spool,
  running SHA-256, finish with fsync and checksum check);
- hub_client: the Python client's `upload()` from a file (it also hashes the file first);
- gateway_write: `Write` over the `grpc-websockets` bridge, as a browser sends it.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from realtime.client import Client
from realtime.client.uploads import upload
from realtime.v1 import uploads_pb2, uploads_pb2_grpc

from .harness import channel, hub, raw_echo

MIB = 1024 * 1024
CHUNK = 256 * 1024
SIZE = 64 * MIB
ROUNDS = 2


def payload(size: int = SIZE) -> bytes:
    return hashlib.shake_256(b"bench uploads").digest(size)


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


async def raw_mb_per_s(target: str, parts: list[bytes]) -> float:
    async with channel(target) as ch:
        sink = ch.stream_unary("/bench.Echo/Sink")

        async def stream() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        best = 0.0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            reply = await sink(stream())
            assert int(reply) == sum(map(len, parts))
            best = max(best, len(parts) * CHUNK / MIB / (time.perf_counter() - start))
        return best


def _requests(name: str, parts: list[bytes]) -> list[uploads_pb2.WriteRequest]:
    out, offset = [], 0
    for i, part in enumerate(parts):
        out.append(
            uploads_pb2.WriteRequest(
                resource_name=name if i == 0 else "",
                write_offset=offset,
                data=part,
                finish_write=i == len(parts) - 1,
            )
        )
        offset += len(part)
    return out


async def _stream(requests: list[uploads_pb2.WriteRequest]) -> AsyncIterator[uploads_pb2.WriteRequest]:
    for r in requests:
        yield r


async def hub_write_mb_per_s(client: Client, data: bytes, parts: list[bytes]) -> float:
    stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
    sha = hashlib.sha256(data).hexdigest()
    best = 0.0
    for _ in range(ROUNDS):
        name = (
            await stub.CreateUpload(
                uploads_pb2.CreateUploadRequest(
                    size=len(data), sha256=sha, content_type="application/octet-stream"
                )
            )
        ).upload.name
        start = time.perf_counter()
        reply = await stub.Write(_stream(_requests(name, parts)))
        best = max(best, len(data) / MIB / (time.perf_counter() - start))
        assert reply.upload.complete
        await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=name))
    return best


async def client_mb_per_s(client: Client, data: bytes) -> float:
    stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.bin"
        await asyncio.to_thread(path.write_bytes, data)
        best = 0.0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            done = await upload(client, path, "application/octet-stream")
            best = max(best, len(data) / MIB / (time.perf_counter() - start))
            await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=done.name))
    return best


def _ws_frame(message: bytes) -> bytes:
    return b"\x00" + b"\x00" + struct.pack(">I", len(message)) + message


async def gateway_mb_per_s(client: Client, http: str, token: str, data: bytes, parts: list[bytes]) -> float:
    stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
    sha = hashlib.sha256(data).hexdigest()
    best = 0.0
    async with aiohttp.ClientSession() as session:
        for _ in range(ROUNDS):
            name = (
                await stub.CreateUpload(
                    uploads_pb2.CreateUploadRequest(
                        size=len(data), sha256=sha, content_type="application/octet-stream"
                    )
                )
            ).upload.name
            frames = [_ws_frame(r.SerializeToString()) for r in _requests(name, parts)]
            start = time.perf_counter()
            ws = await session.ws_connect(
                http.replace("http", "ws") + "/realtime.v1.UploadService/Write",
                protocols=("grpc-websockets",),
                max_msg_size=0,
            )
            await ws.send_bytes(
                f"content-type: application/grpc-web+proto\r\nauthorization: Bearer {token}\r\n".encode()
            )
            for f in frames:
                await ws.send_bytes(f)
            await ws.send_bytes(b"\x01")
            reply = b""
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.BINARY:
                    break
                reply += msg.data
            await ws.close()
            if b"grpc-status: 0" not in reply:
                raise RuntimeError(f"gateway upload failed: {reply[-200:]!r}")
            best = max(best, len(data) / MIB / (time.perf_counter() - start))
            await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=name))
    return best


async def run(base: dict[str, Any]) -> dict[str, float]:
    data = payload()
    parts = chunks(data)
    figures: dict[str, float] = {"size_mib": SIZE / MIB, "chunk_kib": CHUNK / 1024}
    with raw_echo() as raw:
        figures["raw_client_stream_mb_per_s"] = await raw_mb_per_s(raw.target, parts)
    with hub() as h:
        async with Client(h.target, token=h.token()) as client:
            figures["hub_write_mb_per_s"] = await hub_write_mb_per_s(client, data, parts)
            figures["hub_client_upload_mb_per_s"] = await client_mb_per_s(client, data)
            figures["gateway_write_mb_per_s"] = await gateway_mb_per_s(
                client, f"http://127.0.0.1:{h.http_port}", h.token(), data, parts
            )
    raw_rate = figures["raw_client_stream_mb_per_s"]
    for key in ("hub_write", "hub_client_upload", "gateway_write"):
        figures[f"{key}_ratio_to_raw"] = figures[f"{key}_mb_per_s"] / raw_rate
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run({})), indent=2))
