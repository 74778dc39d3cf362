"""The upload spool without a server: disk failures, restarts, quotas under races, expiry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from realtime.server.platform.errors import Code, HubError
from realtime.server.uploads.config import UploadConfig
from realtime.server.uploads.spool import Spool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def spool_at(root: Path, clock: Clock | None = None, **config: object) -> Spool:
    spool = Spool(root, UploadConfig(**config), clock or Clock())  # type: ignore[arg-type]
    await spool.open()
    return spool


async def test_a_failed_disk_write_keeps_the_committed_size_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = await spool_at(tmp_path)
    data = b"a" * 3000
    rec = await spool.create("alice", len(data), sha(data), "application/octet-stream")
    async with spool.writer("alice", rec.name) as w:
        await w.write(0, data[:1000])
        await w.drain()
        assert w.file is not None
        real_write = w.file.write

        def half_then_fail(chunk: bytes) -> int:  # a disk that fills up half way through a chunk
            real_write(chunk[: len(chunk) // 2])
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(w.file, "write", half_then_fail)
        await w.write(1000, data[1000:2000])
        with pytest.raises(HubError) as err:
            await w.drain()
        assert err.value.code == Code.UNAVAILABLE and "No space" in err.value.message
    assert rec.committed == 1000 and (tmp_path / f"{rec.id}.data").stat().st_size == 1000
    async with spool.writer("alice", rec.name) as w:  # space again: the upload goes on, hash intact
        await w.write(1000, data[1000:])
        done = await w.finish()
    assert done.complete


async def test_restart_picks_up_uploads_and_cleans_debris(tmp_path: Path) -> None:
    spool = await spool_at(tmp_path)
    data = bytes(range(256)) * 40
    rec = await spool.create("alice", len(data), sha(data), "image/png", "a.png")
    async with spool.writer("alice", rec.name) as w:
        await w.write(0, data[:5000])
    (tmp_path / "0123.json").write_text("{not json")
    (tmp_path / ("f" * 32 + ".data")).write_bytes(b"orphan: its record was never written")
    (tmp_path / ("e" * 32 + ".json")).write_text(json.dumps({"id": "e" * 32}))  # fields missing
    again = await spool_at(tmp_path)
    back = again.get("alice", rec.name)
    assert back.committed == 5000 and back.filename == "a.png" and not back.complete
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == [f"{rec.id}.data", f"{rec.id}.json"]
    async with again.writer("alice", rec.name) as w:  # no running hash after a restart: recomputed
        await w.write(5000, data[5000:])
        await w.finish()
    assert (await again.load("alice", rec.name))[1] == data


async def test_concurrent_creates_never_overshoot_the_quotas(tmp_path: Path) -> None:
    spool = await spool_at(tmp_path, quota_bytes=1000, total_bytes=2500)
    results = await asyncio.gather(
        *(spool.create(f"user{i % 4}", 400, sha(bytes([i])), "text/plain") for i in range(40)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, HubError)]
    assert len(made) + len(refused) == 40
    assert sum(r.size for r in made) <= 2500
    for user in ("user0", "user1", "user2", "user3"):
        assert spool.used(user)[0] <= 1000
    assert {e.quota[0].subject for e in refused} <= {
        "hub",
        "user:user0",
        "user:user1",
        "user:user2",
        "user:user3",
    }
    assert all(e.code == Code.RESOURCE_EXHAUSTED for e in refused)


async def test_resume_by_hash_is_per_owner_and_expiry_is_from_the_last_write(tmp_path: Path) -> None:
    clock = Clock()
    spool = await spool_at(tmp_path, clock, ttl=100.0, retention=10.0)
    data = b"z" * 100
    first = await spool.create("alice", 100, sha(data), "text/plain")
    assert (await spool.create("alice", 100, sha(data), "text/plain")) is first
    assert (await spool.create("bob", 100, sha(data), "text/plain")).id != first.id
    clock.now += 90
    async with spool.writer("alice", first.name) as w:
        await w.write(0, data[:10])
    clock.now += 90  # 180 s after create, 90 s after the last write: alive
    assert await spool.sweep() == 1  # bob's, untouched since create, is gone
    assert spool.get("alice", first.name).committed == 10
    clock.now += 11
    assert await spool.sweep() == 1
    with pytest.raises(HubError) as err:
        spool.get("alice", first.name)
    assert err.value.code == Code.NOT_FOUND


async def test_a_write_stream_cancelled_mid_store_resumes_onto_exactly_the_bytes_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client cancels while a chunk is on its way to disk (found by the 50 MB resume test: the
    store was cancelled with the stream, its thread still appended the chunk, and the resumed upload
    went on from a committed size that no longer matched the file, so the bytes read back differed)."""
    import threading

    from realtime.server.uploads import spool as spool_module

    spool = await spool_at(tmp_path)
    data = os.urandom(3000)
    rec = await spool.create("alice", len(data), sha(data), "application/octet-stream")
    entered, release = threading.Event(), threading.Event()
    real_append = spool_module.Writer._append

    def slow_append(self: spool_module.Writer, offset: int, chunk: bytes) -> None:
        if offset == 1000:  # the second chunk: hold it in the worker thread
            entered.set()
            release.wait(10)
        real_append(self, offset, chunk)

    monkeypatch.setattr(spool_module.Writer, "_append", slow_append)

    async def stream() -> None:
        async with spool.writer("alice", rec.name) as w:
            await w.write(0, data[:1000])
            await w.write(1000, data[1000:2000])
            await asyncio.Event().wait()  # the client stays until it cancels

    task = asyncio.ensure_future(stream())
    assert await asyncio.to_thread(entered.wait, 10)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    on_disk = (tmp_path / f"{rec.id}.data").stat().st_size
    assert rec.committed == on_disk == 2000  # the chunk in flight was stored and counted
    async with spool.writer("alice", rec.name) as w:
        await w.write(rec.committed, data[rec.committed :])
        done = await w.finish()
    assert done.complete
    assert (await spool.load("alice", rec.name))[1] == data
