"""The upload spool: chunks on disk, a SHA-256 per upload, per-user quotas and expiry.

Plain Python (no grpc). Every file operation runs on a worker thread, at most
`io_concurrency` at once, so the event loop only moves messages. The
bookkeeping (who owns what, how many bytes are reserved) lives on the event
loop, so a quota check and the reservation that follows it are atomic.

On disk, per upload: `{id}.json` (the record, rewritten atomically at create
and finish) and `{id}.data` (the bytes, appended in order). The committed size
is the data file's length: a chunk counts once it is written, and a hub that
restarts finds every upload where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ..platform.errors import (
    Code,
    HubError,
    failed_precondition,
    invalid_argument,
    not_found,
    resource_exhausted,
)
from .config import UploadConfig

log = logging.getLogger("realtime.uploads")

PREFIX = "uploads/"
READ_CHUNK = 256 * 1024
MAX_FILENAME = 255
_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


@dataclass
class UploadRecord:
    """One upload as the spool keeps it (`committed` is the data file's length)."""

    id: str
    owner: str
    size: int
    sha256: str
    content_type: str
    filename: str
    created: float
    touched: float
    complete: bool = False
    committed: int = 0

    @property
    def name(self) -> str:
        return PREFIX + self.id

    def expires(self, config: UploadConfig) -> float:
        return self.touched + (config.retention if self.complete else config.ttl)


@dataclass
class _Hash:
    """The running SHA-256 of an upload's committed bytes (lost on restart: then recomputed)."""

    digest: Any = field(default_factory=hashlib.sha256)
    upto: int = 0


def upload_id(name: str) -> str:
    """The id of "uploads/{id}"; INVALID_ARGUMENT for anything else."""
    uid = name.removeprefix(PREFIX)
    if not name.startswith(PREFIX) or not _ID.match(uid):
        raise invalid_argument(
            "not an upload name", [("resource_name", f"expected uploads/{{id}}, got {name!r}")]
        )
    return uid


def committed_error(message: str, committed: int, code: Code = Code.OUT_OF_RANGE) -> HubError:
    """An error that tells the client where to resume (ErrorInfo metadata `committed_size`)."""
    return HubError(code, message, reason="WRONG_OFFSET", metadata={"committed_size": str(committed)})


class Spool:
    """The uploads of one hub process, in `root` on this replica's disk."""

    def __init__(self, root: Path, config: UploadConfig, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.config = config
        self.clock = clock
        self._records: dict[str, UploadRecord] = {}
        self._hashes: dict[str, _Hash] = {}
        self._writing: set[str] = set()
        self._io = asyncio.Semaphore(config.io_concurrency)

    # -- disk helpers (run on worker threads) --------------------------------------------------
    def _meta(self, uid: str) -> Path:
        return self.root / f"{uid}.json"

    def _data(self, uid: str) -> Path:
        return self.root / f"{uid}.data"

    def _save_meta(self, record: UploadRecord) -> None:
        tmp = self._meta(record.id).with_suffix(".tmp")
        fields_ = asdict(record)
        fields_.pop("committed")
        tmp.write_text(json.dumps(fields_))
        os.replace(tmp, self._meta(record.id))

    def _remove_files(self, uid: str) -> None:
        for path in (self._meta(uid), self._data(uid), self._meta(uid).with_suffix(".tmp")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with self._io:
            return await asyncio.to_thread(fn, *args)

    # -- life ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the spool directory and pick up the uploads a previous run left."""
        self._records = await asyncio.to_thread(self._scan)
        if self._records:
            log.info("upload spool %s: %d upload(s) resumed from disk", self.root, len(self._records))

    def _scan(self) -> dict[str, UploadRecord]:
        self.root.mkdir(parents=True, exist_ok=True)
        found: dict[str, UploadRecord] = {}
        for meta in self.root.glob("*.json"):
            try:
                record = UploadRecord(**json.loads(meta.read_text()))
                record.committed = (
                    self._data(record.id).stat().st_size if self._data(record.id).exists() else 0
                )
            except (OSError, ValueError, TypeError):
                log.warning("upload spool: unreadable record %s removed", meta)
                self._remove_files(meta.stem)
                continue
            found[record.id] = record
        for data in self.root.glob("*.data"):  # bytes whose record was never written: a crash at create
            if data.stem not in found:
                data.unlink(missing_ok=True)
        return found

    # -- bookkeeping ---------------------------------------------------------------------------
    def used(self, owner: str) -> tuple[int, int]:
        """(bytes declared, uploads) of `owner`'s live uploads."""
        mine = [r for r in self._records.values() if r.owner == owner]
        return sum(r.size for r in mine), len(mine)

    def get(self, owner: str, name: str) -> UploadRecord:
        """The caller's live upload `name`; NOT_FOUND for unknown, expired or someone else's."""
        record = self._records.get(upload_id(name))
        if record is None or record.owner != owner or record.expires(self.config) <= self.clock():
            raise not_found(f"no upload {name}")
        return record

    def _check_quota(self, owner: str, size: int) -> None:
        c = self.config
        declared, count = self.used(owner)
        if count >= c.max_per_user:
            raise resource_exhausted(
                f"you have {count} uploads; at most {c.max_per_user} (delete some or let them expire)",
                quota=[(f"user:{owner}", f"at most {c.max_per_user} live uploads")],
            )
        if declared + size > c.quota_bytes:
            raise resource_exhausted(
                f"upload of {size} bytes exceeds your quota: {declared} of {c.quota_bytes} bytes in use",
                quota=[(f"user:{owner}", f"at most {c.quota_bytes} bytes of live uploads")],
            )
        total = sum(r.size for r in self._records.values())
        if total + size > c.total_bytes:
            raise resource_exhausted(
                "the hub's upload space is full; retry later",
                quota=[("hub", f"at most {c.total_bytes} bytes of live uploads")],
                retry_after=60.0,
            )

    # -- create --------------------------------------------------------------------------------
    async def create(
        self, owner: str, size: int, sha256: str, content_type: str, filename: str = ""
    ) -> UploadRecord:
        """A new upload, or the caller's live upload of the same size and SHA-256 (resume by hash)."""
        sha256 = sha256.lower()
        _validate(size, sha256, content_type, filename, self.config.max_bytes)
        now = self.clock()
        for record in self._records.values():
            if (
                record.owner == owner
                and record.sha256 == sha256
                and record.size == size
                and record.expires(self.config) > now
            ):
                record.touched = now
                return record
        self._check_quota(owner, size)
        record = UploadRecord(uuid.uuid4().hex, owner, size, sha256, content_type, filename, now, now)
        self._records[record.id] = record  # reserved before the first await: quotas hold under races
        try:
            await self._run(self._create_files, record)
        except OSError as exc:
            self._records.pop(record.id, None)
            raise HubError(Code.UNAVAILABLE, f"cannot create the upload: {exc.strerror}") from exc
        return record

    def _create_files(self, record: UploadRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._data(record.id).touch()
        self._save_meta(record)

    # -- write ---------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def writer(self, owner: str, name: str) -> AsyncIterator[Writer]:
        """Exclusive write access to one upload for the length of one Write stream."""
        record = self.get(owner, name)
        if record.id in self._writing:
            raise HubError(
                Code.ABORTED,
                f"another Write of {name} is in progress; retry after it ends",
                reason="WRITE_IN_PROGRESS",
                retry_after=1.0,
            )
        self._writing.add(record.id)
        w = Writer(self, record)
        try:
            yield w
        finally:
            try:
                await w.drain_quietly()  # the last chunk counts even when the stream ended with an error
            finally:
                self._writing.discard(record.id)
                if w.file is not None:
                    await self._run(w.file.close)

    # -- read ----------------------------------------------------------------------------------
    async def read(self, owner: str, name: str, offset: int = 0, limit: int = 0) -> AsyncIterator[bytes]:
        """The bytes of a finished upload from `offset`, in chunks of at most 256 KiB."""
        record = self.get(owner, name)
        if not record.complete:
            raise committed_error(
                f"{name} is not finished ({record.committed} of {record.size} bytes)",
                record.committed,
                Code.FAILED_PRECONDITION,
            )
        check_range(offset, limit, record.size)
        end = record.size if not limit else min(record.size, offset + limit)
        f: IO[bytes] = await self._run(open, self._data(record.id), "rb")
        try:
            await self._run(f.seek, offset)
            while offset < end:
                chunk: bytes = await self._run(f.read, min(READ_CHUNK, end - offset))
                if not chunk:
                    raise HubError(Code.DATA_LOSS, f"{name} is shorter on disk than recorded")
                offset += len(chunk)
                yield chunk
        finally:
            await self._run(f.close)

    async def load(self, owner: str, name: str) -> tuple[UploadRecord, bytes]:
        """A finished upload's record and all its bytes (for a job's input)."""
        record = self.get(owner, name)
        if not record.complete:
            raise failed_precondition(
                f"{name} is not finished ({record.committed} of {record.size} bytes written)",
                reason="UPLOAD_INCOMPLETE",
            )
        data: bytes = await self._run(self._data(record.id).read_bytes)
        if len(data) != record.size:
            raise HubError(Code.DATA_LOSS, f"{name} is shorter on disk than recorded")
        return record, data

    # -- delete and expiry ---------------------------------------------------------------------
    async def delete(self, owner: str, name: str) -> None:
        record = self.get(owner, name)
        if record.id in self._writing:
            raise HubError(
                Code.ABORTED,
                f"{name} is being written; end that Write stream first",
                reason="WRITE_IN_PROGRESS",
                retry_after=1.0,
            )
        await self._forget(record)

    async def _forget(self, record: UploadRecord) -> None:
        self._records.pop(record.id, None)
        self._hashes.pop(record.id, None)
        await self._run(self._remove_files, record.id)

    async def sweep(self) -> int:
        """Delete expired uploads (not those being written right now); returns how many."""
        now = self.clock()
        dead = [
            r for r in self._records.values() if r.expires(self.config) <= now and r.id not in self._writing
        ]
        for record in dead:
            await self._forget(record)
        if dead:
            log.info("upload spool: %d expired upload(s) deleted", len(dead))
        return len(dead)

    def records(self) -> Iterator[UploadRecord]:
        return iter(list(self._records.values()))


class Writer:
    """Appends one Write stream's chunks to an upload (created by `Spool.writer`).

    One chunk at a time is on its way to disk (hashed and written on a worker thread) while the
    event loop reads the next message from the stream: a depth-1 pipeline, so receiving and
    storing overlap, and at most one chunk per stream is held beyond the one being read.
    `committed` moves only once a chunk is on disk; `accepted` counts the one in flight too.
    """

    def __init__(self, spool: Spool, record: UploadRecord) -> None:
        self.spool = spool
        self.record = record
        self.file: IO[bytes] | None = None
        self.accepted = record.committed
        self._pending: asyncio.Future[None] | None = None

    def _append(self, offset: int, data: bytes) -> None:
        if self.file is None:
            self.file = open(self.spool._data(self.record.id), "r+b")
        try:
            # At its offset, not appended: bytes a cancelled stream's last store left past the
            # committed size are overwritten by the resumed write instead of shifting it.
            self.file.seek(offset)
            self.file.write(data)
            self.file.flush()
        except OSError:  # e.g. disk full: drop the partial chunk so the committed size stays true
            self.file.close()
            self.file = None
            os.truncate(self.spool._data(self.record.id), self.record.committed)
            raise
        h = self.spool._hashes.get(self.record.id)
        if h is not None and h.upto == self.record.committed:
            h.digest.update(data)
            h.upto += len(data)
        elif self.record.committed == 0:
            h = self.spool._hashes[self.record.id] = _Hash()
            h.digest.update(data)
            h.upto = len(data)

    async def write(self, offset: int, data: bytes) -> int:
        """Accept `data` at `offset` (which must follow what was accepted) and start storing it;
        the previous chunk is on disk when this returns. Returns the bytes accepted."""
        r = self.record
        if r.complete:
            if offset == r.size and not data:  # a retried finish whose reply was lost: a no-op
                return self.accepted
            raise failed_precondition(f"{r.name} is already finished", reason="UPLOAD_COMPLETE")
        await self.drain()  # also surfaces a failed store of the previous chunk
        if offset != self.accepted:
            raise committed_error(
                f"write_offset {offset} is not the committed size {r.committed}; resume from there",
                r.committed,
            )
        if self.accepted + len(data) > r.size:
            raise committed_error(
                f"{len(data)} bytes at {offset} go past the declared size {r.size}", r.committed
            )
        if data:
            self.accepted += len(data)
            self._pending = asyncio.ensure_future(self._store(offset, data))
        return self.accepted

    async def _store(self, offset: int, data: bytes) -> None:
        try:
            await self.spool._run(self._append, offset, data)
        except OSError as exc:
            raise HubError(
                Code.UNAVAILABLE, f"cannot store the chunk: {exc.strerror}", retry_after=5.0
            ) from exc
        self.record.committed += len(data)
        self.record.touched = self.spool.clock()

    async def drain(self) -> None:
        """Wait until the chunk in flight is on disk (raises if storing it failed).

        Shielded: a Write stream cancelled by its client must not cancel the store of its last
        chunk half-way (the worker thread would go on writing while `committed` stayed behind,
        and the resumed upload would be told a size that is not what the file holds). The
        stream's cleanup drains again, so the store is always awaited to its end.
        """
        pending = self._pending
        if pending is None:
            return
        try:
            await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None

    async def drain_quietly(self) -> None:
        """`drain` at the end of a stream that already failed: a store failure is logged only."""
        try:
            await self.drain()
        except HubError:
            log.warning("upload %s: the last chunk could not be stored", self.record.name)

    async def finish(self) -> UploadRecord:
        """Check size and SHA-256, then mark the upload complete. A mismatch deletes the upload."""
        r = self.record
        if r.complete:
            return r
        await self.drain()
        if r.committed != r.size:
            raise committed_error(
                f"finish_write after {r.committed} of {r.size} bytes; write the rest first",
                r.committed,
                Code.FAILED_PRECONDITION,
            )
        if self.file is not None:
            await self.spool._run(self._sync)
        actual = await self.spool._run(self._digest)
        if actual != r.sha256:
            await self.spool._forget(r)
            raise invalid_argument(
                f"SHA-256 mismatch: the bytes received hash to {actual}, not the declared {r.sha256}; "
                "the upload was deleted, upload again",
                [("sha256", f"declared {r.sha256}, received {actual}")],
                reason="CHECKSUM_MISMATCH",
            )
        r.complete = True
        r.touched = self.spool.clock()
        self.spool._hashes.pop(r.id, None)
        await self.spool._run(self.spool._save_meta, r)
        return r

    def _sync(self) -> None:
        assert self.file is not None
        self.file.flush()
        os.fsync(self.file.fileno())

    def _digest(self) -> str:
        h = self.spool._hashes.get(self.record.id)
        if h is not None and h.upto == self.record.size:
            return str(h.digest.hexdigest())
        digest = hashlib.sha256()  # the running hash was lost (a restart): hash the file
        with open(self.spool._data(self.record.id), "rb") as f:
            while block := f.read(1024 * 1024):
                digest.update(block)
        return digest.hexdigest()


def check_range(offset: int, limit: int, size: int) -> None:
    if offset < 0 or offset > size:
        raise HubError(Code.OUT_OF_RANGE, f"read_offset {offset} is outside 0..{size}", reason="OUT_OF_RANGE")
    if limit < 0:
        raise invalid_argument("read_limit must not be negative", [("read_limit", str(limit))])


def _validate(size: int, sha256: str, content_type: str, filename: str, max_bytes: int) -> None:
    bad: list[tuple[str, str]] = []
    if size <= 0:
        bad.append(("size", "must be positive"))
    if not _SHA256.match(sha256):
        bad.append(("sha256", "64 hex digits (the SHA-256 of the whole content)"))
    if not _CONTENT_TYPE.match(content_type):
        bad.append(("content_type", "a MIME type such as image/jpeg"))
    if len(filename) > MAX_FILENAME or "\x00" in filename:
        bad.append(("filename", f"at most {MAX_FILENAME} characters, no NUL"))
    if bad:
        raise invalid_argument("malformed CreateUpload request", bad)
    if size > max_bytes:
        raise HubError(
            Code.OUT_OF_RANGE,
            f"upload of {size} bytes is above the hub's limit of {max_bytes} bytes",
            reason="UPLOAD_TOO_LARGE",
            metadata={"max_bytes": str(max_bytes)},
        )


#: The spool of each running hub, by instance id (the analysis service resolves upload names here).
SPOOLS: dict[str, Spool] = {}
