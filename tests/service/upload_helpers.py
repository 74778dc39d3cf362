"""Shared helpers of the upload tests: data made in the test's tmp dir, status details."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from PIL import Image

from realtime.v1 import uploads_pb2

SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.uploads.service",
    "realtime.server.analysis.service",
)
MIB = 1024 * 1024


def random_file(path: Path, size: int, seed: int) -> str:
    """Write `size` pseudo-random bytes (fixed seed) to `path` in 4 MiB blocks; returns the SHA-256."""
    print(f"random_file {path.name}: {size} bytes, seed {seed}")
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            block = rng.randbytes(min(left, 4 * MIB))
            f.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def noisy_image(width: int, height: int, fmt: str, seed: int, **save: Any) -> bytes:
    """An image of random pixels (incompressible: a PNG of it is about 3 bytes per pixel)."""
    print(f"noisy_image {width}x{height} {fmt}, seed {seed}")
    rng = random.Random(seed)
    img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def status_details(err: grpc.aio.AioRpcError) -> dict[str, Any]:
    """ErrorInfo (reason, metadata), QuotaFailure subjects and BadRequest fields of a rich status."""
    found: dict[str, Any] = {"quota": [], "fields": []}
    status = rpc_status.from_call(err)
    assert status is not None, err
    for d in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.QuotaFailure,
            error_details_pb2.BadRequest,
        ):
            if d.Is(kind.DESCRIPTOR):
                msg = kind()
                d.Unpack(msg)
                if isinstance(msg, error_details_pb2.ErrorInfo):
                    found["reason"], found["metadata"] = msg.reason, dict(msg.metadata)
                elif isinstance(msg, error_details_pb2.QuotaFailure):
                    found["quota"] = [v.subject for v in msg.violations]
                else:
                    found["fields"] = [v.field for v in msg.field_violations]
    return found


async def writes(*items: uploads_pb2.WriteRequest) -> AsyncIterator[uploads_pb2.WriteRequest]:
    for item in items:
        yield item


def create_request(
    data: bytes, content_type: str = "application/octet-stream"
) -> uploads_pb2.CreateUploadRequest:
    return uploads_pb2.CreateUploadRequest(
        size=len(data), sha256=hashlib.sha256(data).hexdigest(), content_type=content_type
    )
