"""Uploads of any size and chunked reads of large results (UploadService).

    async with Client(target, token=token) as hub:
        name = await upload_file(hub, "big-photo.jpg", "image/jpeg", on_progress=print)
        # -> "uploads/3f2a...": put it in AnalysisInput(upload=name)
        await read_to_file(hub, artifact.resource_name, "out.webp")

`upload_file` hashes the file (SHA-256), creates the upload (the hub returns an
unfinished upload of the same content if there is one: resume by hash), then
writes 256 KiB chunks from the committed offset. When the connection breaks
(UNAVAILABLE, a replica going away, ABORTED while the hub still closes the old
stream) it waits, asks `QueryWriteStatus` and continues from the committed size,
up to `retries` failures in a row without progress (a failed status query is one
more failure). The wait is full-jitter backoff, never less than the hub's
RetryInfo (backoff.py). RESOURCE_EXHAUSTED is retried only when the hub says when
(a stream cap, a full spool); a quota refusal without RetryInfo is final.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import grpc

from realtime.v1 import uploads_pb2, uploads_pb2_grpc

from .backoff import Backoff, retry_after
from .client import Client

CHUNK = 256 * 1024
#: Status codes after which an upload or a read resumes from where it got to.
RESUMABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.DEADLINE_EXCEEDED}
)
#: Told before each wait: the error, failures in a row (1 for the first) and the wait in seconds.
RetryCallback = Callable[[grpc.aio.AioRpcError, int, float], None]


def _resumable(err: grpc.aio.AioRpcError) -> bool:
    """Worth another attempt: a broken connection, or a refusal that says when to come back."""
    code = err.code()
    return code in RESUMABLE or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after(err) is not None)


async def _pause(
    backoff: Backoff, err: grpc.aio.AioRpcError, failures: int, on_retry: RetryCallback | None
) -> None:
    delay = backoff.delay_after(err)
    if on_retry is not None:
        on_retry(err, failures, delay)
    await backoff.sleep(delay)


@dataclass(frozen=True)
class Progress:
    """Where a transfer is: `done` of `total` bytes, `started_at` (monotonic) and the offset it
    (re)started from, so rate = (done - resumed_from) / elapsed."""

    name: str
    done: int
    total: int
    resumed_from: int
    started_at: float
    #: How many times the transfer resumed after a broken connection.
    resumes: int = 0

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started_at
        return (self.done - self.resumed_from) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


ProgressCallback = Callable[[Progress], None]


def sha256_of(source: str | Path | bytes) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file or of bytes (call it in a thread for big files)."""
    if isinstance(source, bytes):
        return len(source), hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _open(source: str | Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


async def _chunks(
    f: IO[bytes], name: str, offset: int, size: int, chunk: int, sent: Callable[[int], None]
) -> AsyncIterator[uploads_pb2.WriteRequest]:
    await asyncio.to_thread(f.seek, offset)
    first = True
    while offset < size:
        data = await asyncio.to_thread(f.read, min(chunk, size - offset))
        if not data:
            raise OSError(f"the file shrank while uploading ({offset} of {size} bytes)")
        yield uploads_pb2.WriteRequest(
            resource_name=name if first else "",
            write_offset=offset,
            data=data,
            finish_write=offset + len(data) >= size,
        )
        first = False
        offset += len(data)
        sent(offset)
    if first:  # nothing left to send (all committed, not finished): finish with an empty message
        yield uploads_pb2.WriteRequest(resource_name=name, write_offset=offset, finish_write=True)


async def upload(
    client: Client,
    source: str | Path | bytes,
    content_type: str,
    *,
    filename: str = "",
    name: str = "",
    on_progress: ProgressCallback | None = None,
    chunk_size: int = CHUNK,
    retries: int = 8,
    backoff: Backoff | None = None,
    on_retry: RetryCallback | None = None,
) -> uploads_pb2.Upload:
    """Upload a file (path) or bytes; returns the finished upload. `name` resumes a known upload.
    `backoff` (default 0.2 s base, 5 s cap) paces the retries; `on_retry` is told each wait."""
    stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
    size, sha = await asyncio.to_thread(sha256_of, source)
    if name:
        current = (await stub.GetUpload(uploads_pb2.GetUploadRequest(name=name))).upload
        if current.size != size or current.sha256 != sha:
            raise ValueError(f"{name} holds other content (size {current.size}, sha256 {current.sha256})")
    else:
        if not filename and not isinstance(source, bytes):
            filename = Path(source).name
        current = (
            await stub.CreateUpload(
                uploads_pb2.CreateUploadRequest(
                    size=size, sha256=sha, content_type=content_type, filename=filename
                )
            )
        ).upload
    name = current.name
    committed, complete = current.committed_size, current.complete
    started = Progress(name, committed, size, committed, time.monotonic())
    backoff = backoff or Backoff(base=0.2, cap=5.0)
    failures = resumes = 0

    def sent(done: int) -> None:
        if on_progress is not None:
            on_progress(Progress(name, done, size, started.resumed_from, started.started_at, resumes))

    sent(committed)
    f = await asyncio.to_thread(_open, source)
    try:
        lost = False  # after a failure, ask where the upload got to before writing again
        while not complete:
            try:
                if lost:
                    status = await stub.QueryWriteStatus(
                        uploads_pb2.QueryWriteStatusRequest(resource_name=name),
                        timeout=10,
                        wait_for_ready=True,
                    )
                    lost = False
                    if status.committed_size > committed:
                        failures = 0
                        backoff.reset()
                    committed, complete = status.committed_size, status.complete
                    resumes += 1
                    sent(committed)
                    continue
                reply = await stub.Write(_chunks(f, name, committed, size, chunk_size, sent))
                return reply.upload
            except grpc.aio.AioRpcError as err:
                failures += 1
                if not (_resumable(err) or err.code() == grpc.StatusCode.OUT_OF_RANGE) or failures > retries:
                    raise
                await _pause(backoff, err, failures, on_retry)
                lost = True
    finally:
        await asyncio.to_thread(f.close)
    return (await stub.GetUpload(uploads_pb2.GetUploadRequest(name=name))).upload


async def upload_file(
    client: Client, path: str | Path, content_type: str, on_progress: ProgressCallback | None = None
) -> str:
    """Upload `path`; returns its name ("uploads/{id}") for `AnalysisInput.upload`."""
    done = await upload(client, path, content_type, on_progress=on_progress)
    return str(done.name)


async def read_to_file(
    client: Client,
    resource_name: str,
    path: str | Path,
    *,
    size: int = 0,
    on_progress: ProgressCallback | None = None,
    retries: int = 8,
    backoff: Backoff | None = None,
    on_retry: RetryCallback | None = None,
) -> int:
    """Stream a resource (an upload or "operations/{id}/artifacts/{name}") into `path`,
    resuming from the bytes received after a broken connection (or after a refusal with
    RetryInfo, waited out); returns the bytes written."""
    stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
    done, failures = 0, 0
    started = time.monotonic()
    backoff = backoff or Backoff(base=0.2, cap=5.0)
    f = await asyncio.to_thread(open, path, "wb")
    try:
        while True:
            try:
                async for reply in stub.Read(
                    uploads_pb2.ReadRequest(resource_name=resource_name, read_offset=done)
                ):
                    await asyncio.to_thread(f.write, reply.data)
                    done += len(reply.data)
                    failures = 0
                    backoff.reset()
                    if on_progress is not None:
                        on_progress(Progress(resource_name, done, max(size, done), 0, started))
                return done
            except grpc.aio.AioRpcError as err:
                failures += 1
                if not _resumable(err) or failures > retries:
                    raise
                await _pause(backoff, err, failures, on_retry)
    finally:
        await asyncio.to_thread(f.close)
