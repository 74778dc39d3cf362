"""The SQLite broker's threads: ONE writer thread with group commit, and a pool of readers.

Callers put write operations on a bounded queue and await a future; the writer runs everything
queued (up to `max_batch`) in ONE transaction, then resolves the futures in order on the loop and
hands the publications to live subscribers (see the `SqliteBroker` docstring in sqlite.py for the
ordering and durability guarantees). Reads run on reader threads, each with its own connection.
`SqliteBroker` sets up every attribute declared here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import sqlite_store as store
from .base import Broker
from .local import LocalFanout
from .model import BrokerUnavailable

log = logging.getLogger("realtime.broker.sqlite")
T = TypeVar("T")

DURABILITY_COMMIT = "commit"
DURABILITY_QUEUED = "queued"


@dataclass(slots=True)
class _Op:
    run: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    publish: bool = False
    #: Runs after the batch's COMMIT, outside any transaction (checkpoint, incremental vacuum).
    after_commit: bool = False
    #: Reads or changes the `channels` table in SQL (remove_history, sweep): cached heads are
    #: written before it and forgotten after it.
    channels: bool = False


class SqliteThreads(Broker):
    """The writer and the readers of `SqliteBroker`."""

    path: Path
    durability: str
    _max_batch: int
    _fanout: LocalFanout
    _slots: asyncio.Semaphore
    _queue: queue.SimpleQueue[_Op | None]
    _in_flight: int
    _wconn: sqlite3.Connection | None
    _readers: ThreadPoolExecutor
    _reader_conns: list[sqlite3.Connection]
    _local: threading.local
    _loop: asyncio.AbstractEventLoop | None
    _heads: store.Heads
    _started: bool
    _closed: bool

    # -- the writer ----------------------------------------------------------------------------
    async def _write(
        self,
        run: Callable[[sqlite3.Connection], T],
        *,
        publish: bool = False,
        after_commit: bool = False,
        channels: bool = False,
    ) -> T:
        if self._closed or not self._started:
            raise BrokerUnavailable("broker is closed" if self._closed else "broker is not started")
        await self._slots.acquire()  # backpressure: wait while `max_queue` operations are in flight
        if self._closed:
            self._slots.release()
            raise BrokerUnavailable("broker is closed")
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self._in_flight += 1
        self._queue.put(_Op(run, future, publish, after_commit, channels))
        return await asyncio.shield(future)  # a cancelled caller does not un-queue a write

    def _write_loop(self) -> None:
        conn = self._wconn
        assert conn is not None and self._loop is not None
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            results = self._commit(conn, batch)
            self._loop.call_soon_threadsafe(self._finish, batch, results)

    def _commit(self, conn: sqlite3.Connection, batch: list[_Op]) -> list[Any]:
        """Run `batch` in one transaction; each result, or the error every operation gets."""
        results: list[Any] = []
        early = self.durability == DURABILITY_QUEUED
        heads = self._heads
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                if op.channels:
                    heads.flush(conn)
                result = None if op.after_commit else op.run(conn)
                if op.channels:
                    heads.forget()
                results.append(result)
            if early:  # durability=queued: numbered and in the open transaction, not yet committed
                assert self._loop is not None
                self._loop.call_soon_threadsafe(_ack_publications, batch, list(results))
            heads.flush(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # a failed commit fails every operation of the batch, loudly
            log.exception("sqlite: a batch of %d writes failed", len(batch))
            heads.forget()
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            error = BrokerUnavailable(f"sqlite write failed: {exc}")
            return [error] * len(batch)
        for i, op in enumerate(batch):
            if op.after_commit:
                try:
                    results[i] = op.run(conn)
                except sqlite3.Error as exc:
                    results[i] = BrokerUnavailable(f"sqlite maintenance failed: {exc}")
        return results

    def _finish(self, batch: list[_Op], results: list[Any]) -> None:
        """On the loop, after the commit: deliver publications and resolve futures, in order."""
        for op, result in zip(batch, results, strict=True):
            self._in_flight -= 1
            self._slots.release()
            if isinstance(result, BaseException):
                if not op.future.done():
                    op.future.set_exception(result)
                continue
            if op.publish and not result[1]:
                self._fanout.deliver(result[0])
            _resolve(op.future, result)

    # -- the readers ---------------------------------------------------------------------------
    async def _read(self, run: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or not self._started:
            raise BrokerUnavailable("broker is closed" if self._closed else "broker is not started")
        assert self._loop is not None
        try:
            return await self._loop.run_in_executor(self._readers, self._read_in_thread, run)
        except sqlite3.Error as exc:
            raise BrokerUnavailable(f"sqlite read failed: {exc}") from exc

    def _read_in_thread(self, run: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = store.connect(self.path, readonly=True)
            self._reader_conns.append(conn)
        conn.execute("BEGIN")  # one snapshot for the whole read
        try:
            return run(conn)
        finally:
            conn.execute("COMMIT")


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _ack_publications(batch: list[_Op], results: list[Any]) -> None:
    for op, result in zip(batch, results, strict=True):
        if op.publish:
            _resolve(op.future, result)
