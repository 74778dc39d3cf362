"""The SQLite broker: one process, durable (`--broker sqlite`, the `make run` default).

History (with its epoch), key-value state, idempotency records, leases and
read marks live in one SQLite file and survive a restart; presence and live
subscriptions stay in memory (`local.py`, shared with the memory engine).

Threads (sqlite_threads.py): SQLite never runs on the event loop.
- ONE writer thread owns the write connection. Callers put operations on a
  bounded queue (`max_queue` operations in flight; a caller finding it full
  waits: backpressure) and await a future. The writer takes everything queued
  (up to `max_batch`) and runs it in ONE transaction: a group commit, so a
  thousand concurrent publications cost one commit, not a thousand.
- After the commit the loop resolves the batch's futures in order and hands
  its publications to live subscribers: a publication is acknowledged and
  delivered only once it is committed, and offsets are assigned by the single
  writer, so they have no gaps and arrive in order.
- Reads (history, kv_get, read marks) run on a small pool of reader threads,
  each with its own connection; WAL mode lets them read while the writer writes.

Durability: WAL with synchronous=NORMAL. A commit is in the WAL file before it
is acknowledged, so a crash or SIGKILL of the hub loses nothing acknowledged;
the WAL is fsync'ed at checkpoints only, so a power loss or OS crash can lose
the last commits (never corrupt the file). `?durability=queued` acknowledges a
publication once the writer has numbered it, before its batch commits (lower
latency); a crash can then lose acknowledged publications, so after a crash in
that mode every channel gets a new epoch at start and clients re-sync
(`recovered: false`) instead of trusting positions that may have been reused.

Retention: history size is trimmed on every publish; a background sweep (every
`sweep_interval` s) deletes what expired, then returns free pages to the file
system (auto_vacuum=INCREMENTAL, `PRAGMA incremental_vacuum`) and checkpoints the
WAL. No full VACUUM. Details and figures: docs/broker.md.

One process per file: the hub holds an exclusive lock on `<file>.lock` while it
runs; several replicas share state through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import sqlite_store as store
from .base import DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL, DEFAULT_IDEMPOTENCY_TTL, Clock
from .local import LocalFanout, LocalPresence
from .model import (
    CLOSED_UNAVAILABLE,
    BrokerUnavailable,
    HistoryResult,
    PresenceEntry,
    Publication,
    StreamPosition,
)
from .sqlite_threads import DURABILITY_COMMIT, DURABILITY_QUEUED, SqliteThreads, _Op
from .subscription import Subscription
from .validate import check_channel, check_key, check_publish_args

log = logging.getLogger("realtime.broker.sqlite")

DEFAULT_MAX_QUEUE = 4096
DEFAULT_MAX_BATCH = 512
DEFAULT_SWEEP_INTERVAL = 30.0


class SqliteBroker(SqliteThreads):
    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        durability: str = DURABILITY_COMMIT,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_batch: int = DEFAULT_MAX_BATCH,
        sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
        readers: int = 2,
    ) -> None:
        super().__init__(clock)
        if durability not in (DURABILITY_COMMIT, DURABILITY_QUEUED):
            raise ValueError("durability must be 'commit' or 'queued'")
        if max_queue <= 0 or max_batch <= 0 or readers <= 0 or sweep_interval <= 0:
            raise ValueError("queue, batch, readers and sweep interval must be positive")
        self.path = Path(path)
        self.durability = durability
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._sweep_interval = sweep_interval
        self._fanout = LocalFanout()
        self._presence = LocalPresence()
        self._slots = asyncio.Semaphore(max_queue)
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._in_flight = 0
        self._writer: threading.Thread | None = None
        self._wconn: sqlite3.Connection | None = None
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-read")
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._lock_fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._mark_seq = 0
        self._heads = store.Heads()
        self._started = False
        self._closed = False

    @property
    def engine(self) -> str:
        return "sqlite"

    @property
    def durable(self) -> bool:
        return True

    @property
    def queued(self) -> int:
        """Write operations in flight (queued or in the batch being committed)."""
        return self._in_flight

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Lock and check the file, then start the writer. Raises `BrokerUnavailable` with a
        one-line reason (unwritable, corrupt, used by another hub)."""
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._open)
        except BrokerUnavailable:
            self._release_lock()
            raise
        self._started = True
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._sweeper = self._loop.create_task(self._sweep_forever())

    def _open(self) -> None:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot write {path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BrokerUnavailable(
                f"{path} is in use by another hub process (it holds {path}.lock); one process per file: "
                "give each hub its own file, or run several replicas on --broker redis://"
            ) from exc
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise BrokerUnavailable(f"cannot write {path}: permission denied")
        conn: sqlite3.Connection | None = None
        try:
            conn = store.connect(path)
            meta = store.open_store(conn, path)
        except (store.StoreError, sqlite3.DatabaseError) as exc:
            if conn is not None:
                conn.close()
            reason = str(exc) if isinstance(exc, store.StoreError) else f"cannot open {path}: {exc}"
            raise BrokerUnavailable(reason) from exc
        if meta.get("clean") == "0" and meta.get("durability") == DURABILITY_QUEUED:
            rotated = store.rotate_epochs(conn)
            log.warning(
                "previous run used durability=queued and did not stop cleanly: %d channels get a new epoch",
                rotated,
            )
        store.set_meta(conn, "clean", "0")
        store.set_meta(conn, "durability", self.durability)
        self._mark_seq = store.max_mark_seq(conn)
        self._wconn = conn
        log.info("state kept in %s (sqlite); to start afresh, stop the hub and delete %s*", path, path)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._set_healthy(False)
        self._fanout.close_all(CLOSED_UNAVAILABLE)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._writer is not None:
            self._queue.put(None)  # after every queued operation: they all commit first
            await asyncio.to_thread(self._writer.join)
        await asyncio.to_thread(self._shutdown_files)

    def _shutdown_files(self) -> None:
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        if self._wconn is not None:
            try:
                store.set_meta(self._wconn, "clean", "1")
                self._wconn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                log.exception("sqlite: final checkpoint failed")
            self._wconn.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # -- retention ------------------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Delete expired state now (the background sweep calls this every `sweep_interval`)."""
        now = self.clock()
        self._presence.sweep(now)
        done = await self._write(lambda c: store.sweep(c, now), channels=True)
        done["pages_released"] = await self._write(store.give_back_space, after_commit=True)
        return done

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                done = await self.sweep()
            except BrokerUnavailable:
                log.warning("sqlite: retention sweep failed; retrying in %.0f s", self._sweep_interval)
                continue
            if any(done.values()):
                log.debug("sqlite retention sweep", extra=done)

    # -- publications -----------------------------------------------------------------------------
    async def publish(
        self,
        channel: str,
        data: bytes,
        *,
        meta: Mapping[str, str] | None = None,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_ttl: float = DEFAULT_HISTORY_TTL,
        idempotency_key: str | None = None,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
    ) -> tuple[Publication, bool]:
        check_publish_args(channel, history_size, history_ttl, idempotency_key, idempotency_ttl)
        now, payload, tags = self.clock(), bytes(data), dict(meta or {})
        idem = f"\x00idem:{channel}:{idempotency_key}" if idempotency_key else None
        return await self._write(
            lambda c: store.publish(
                c, self._heads, channel, payload, tags, now, history_size, history_ttl, idem, idempotency_ttl
            ),
            publish=True,
        )

    async def history(
        self, channel: str, *, since: StreamPosition | None = None, limit: int | None = None
    ) -> HistoryResult:
        check_channel(channel)
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        now = self.clock()
        top, pubs, recovered = await self._read(lambda c: store.history(c, channel, since, limit, now))
        return HistoryResult(top, pubs, recovered)

    async def history_page(
        self, channel: str, *, before_offset: int | None = None, limit: int = 50
    ) -> HistoryResult:
        check_channel(channel)
        if limit < 0:
            raise ValueError("limit must be >= 0")
        now = self.clock()
        top, pubs = await self._read(lambda c: store.history_page(c, channel, before_offset, limit, now))
        return HistoryResult(top, pubs, True)

    async def remove_history(self, channel: str) -> None:
        check_channel(channel)
        await self._write(lambda c: store.remove_history(c, channel), channels=True)

    # -- live subscriptions and presence (in memory) --------------------------------------------
    async def _attach(self, sub: Subscription, channels: list[str]) -> None:
        self._fanout.attach(sub, channels)

    async def _detach(self, sub: Subscription, channels: list[str]) -> None:
        self._fanout.detach(sub, channels)

    def subscriber_count(self, channel: str) -> int:
        return self._fanout.count(channel)

    async def presence_add(
        self, channel: str, client_id: str, *, user_id: str, info: bytes = b"", ttl: float = 60.0
    ) -> None:
        self._presence.add(channel, client_id, user_id, info, ttl, self.clock())

    async def presence_remove(self, channel: str, client_id: str) -> None:
        self._presence.remove(channel, client_id)

    async def presence(self, channel: str) -> dict[str, PresenceEntry]:
        return self._presence.get(channel, self.clock())

    # -- key-value -----------------------------------------------------------------------------
    def _expiry(self, ttl: float | None, now: float) -> float | None:
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive (or None for no expiry)")
        return None if ttl is None else now + ttl

    async def kv_get(self, key: str) -> bytes | None:
        check_key(key)
        now = self.clock()
        return await self._read(lambda c: store.kv_get(c, key, now))

    async def kv_set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_key(key)
        expires, payload = self._expiry(ttl, self.clock()), bytes(value)
        await self._write(lambda c: store.kv_put(c, key, payload, expires))

    async def kv_set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        check_key(key)
        now = self.clock()
        expires, payload = self._expiry(ttl, now), bytes(value)
        return await self._write(lambda c: store.kv_set_if_absent(c, key, payload, expires, now))

    async def kv_compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float | None = None
    ) -> bool:
        check_key(key)
        now = self.clock()
        expires, old, new = self._expiry(ttl, now), bytes(expected), bytes(value)
        return await self._write(lambda c: store.kv_compare_and_set(c, key, old, new, expires, now))

    async def kv_compare_and_delete(self, key: str, expected: bytes) -> bool:
        check_key(key)
        now, old = self.clock(), bytes(expected)
        return await self._write(lambda c: store.kv_compare_and_delete(c, key, old, now))

    async def kv_delete(self, key: str) -> bool:
        check_key(key)
        now = self.clock()
        return await self._write(lambda c: store.kv_delete(c, key, now))

    # -- read marks ----------------------------------------------------------------------------
    async def mark_read_ids(
        self, user_id: str, ids: Iterable[str], *, ttl: float = DEFAULT_HISTORY_TTL
    ) -> set[str]:
        check_key(user_id, "user_id")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now, marks = self.clock(), list(dict.fromkeys(ids))

        def mark(conn: sqlite3.Connection) -> set[str]:
            # Numbered on the writer thread, in commit order: the newest marks survive the per-user cap.
            seq = self._mark_seq + 1
            self._mark_seq += len(marks)
            return store.mark_read(conn, user_id, marks, now + ttl, now, seq)

        return await self._write(mark)

    async def read_marks(self, user_id: str, ids: Iterable[str]) -> set[str]:
        check_key(user_id, "user_id")
        now, wanted = self.clock(), list(dict.fromkeys(ids))
        if not wanted:
            return set()
        return await self._read(lambda c: store.read_marks(c, user_id, wanted, now))
