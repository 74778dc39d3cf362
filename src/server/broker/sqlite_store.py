"""The SQL of the SQLite engine: schema, opening checks and one function per operation.

Plain synchronous functions on a `sqlite3.Connection`; `sqlite.py` runs the
writes on its one writer thread (inside a batch transaction) and the reads on
its reader threads. Nothing here touches the event loop.

Times are the broker clock's seconds (floats), passed in by the caller, so the
injectable clock of the contract tests governs expiry here too.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from .model import Publication, StreamPosition
from .replay import replay_after

SCHEMA_VERSION = 1
MAX_READ_MARKS_PER_USER = 10_000
#: Rows one sweep step deletes per table (bounds the time the writer spends on retention).
SWEEP_LIMIT = 5000
#: Free pages above which the sweep gives space back to the file system.
VACUUM_FREE_PAGES = 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS channels (
    name TEXT PRIMARY KEY, epoch TEXT NOT NULL, top INTEGER NOT NULL,
    history_ttl REAL NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS channels_expiry ON channels (expires_at);
CREATE TABLE IF NOT EXISTS history (
    channel TEXT NOT NULL, "offset" INTEGER NOT NULL, time REAL NOT NULL, data BLOB NOT NULL, meta TEXT,
    PRIMARY KEY (channel, "offset")
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_age ON history (time);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS marks (
    user TEXT NOT NULL, id TEXT NOT NULL, expires_at REAL NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (user, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS marks_order ON marks (user, seq);
CREATE INDEX IF NOT EXISTS marks_expiry ON marks (expires_at);
"""


class StoreError(Exception):
    """The file cannot be used (corrupt, unwritable, from a newer version); the message says why."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA busy_timeout = 10000")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def _configure_writer(conn: sqlite3.Connection) -> None:
    # auto_vacuum first: it only takes effect on a new file, before any table exists.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    # WAL: readers never block the writer nor each other. synchronous=NORMAL: a commit is
    # written to the WAL (safe from a process crash or SIGKILL) but fsync'ed only at checkpoints,
    # so a power loss or OS crash can lose the last commits; the file never corrupts.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    conn.execute("PRAGMA journal_size_limit = 67108864")


def open_store(conn: sqlite3.Connection, path: Path) -> dict[str, str]:
    """Check the file, create the schema, and return the `meta` table."""
    how_to = (
        f"stop the hub, move {path} (and {path}-wal, {path}-shm if present) aside, "
        "then start again to begin with an empty store"
    )
    try:
        [verdict] = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a usable SQLite database ({exc}); {how_to}") from exc
    if verdict != "ok":
        raise StoreError(f"{path} is corrupt (quick_check: {verdict}); {how_to}")
    try:
        _configure_writer(conn)
        conn.executescript(_SCHEMA)
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        version = int(meta.get("schema", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer hub (schema {version}); use that version")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
    return meta


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def rotate_epochs(conn: sqlite3.Connection) -> int:
    """Give every channel a new epoch (after a crash that may have lost acknowledged publications)."""
    names = [n for (n,) in conn.execute("SELECT name FROM channels")]
    for name in names:
        conn.execute("UPDATE channels SET epoch = ? WHERE name = ?", (secrets.token_hex(4), name))
    return len(names)


def max_mark_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM marks").fetchone()[0])


# -- publications -----------------------------------------------------------------------------
def _meta_text(meta: dict[str, str]) -> str | None:
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":")) if meta else None


def _pub(channel: str, epoch: str, row: tuple[int, float, bytes, str | None]) -> Publication:
    offset, time, data, meta = row
    return Publication(channel, epoch, offset, bytes(data), time, json.loads(meta) if meta else {})


def _live_kv(conn: sqlite3.Connection, key: str, now: float) -> bytes | None:
    row = conn.execute(
        "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)", (key, now)
    ).fetchone()
    return None if row is None else bytes(row[0])


class Heads:
    """The writer's copy of channel heads, so a batch of publications reads and writes each
    channel's row once, not once per publication. Only the writer thread uses it: `flush` before
    COMMIT and before any operation that reads or changes `channels` in SQL; `forget` after such an
    operation and after a rollback."""

    MAX_CACHED = 50_000

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, int, float, float]] = {}
        self._dirty: set[str] = set()

    def get(self, conn: sqlite3.Connection, channel: str) -> tuple[str, int, float, float] | None:
        row = self._rows.get(channel)
        if row is None:
            found = conn.execute(
                "SELECT epoch, top, history_ttl, expires_at FROM channels WHERE name = ?", (channel,)
            ).fetchone()
            if found is None:
                return None
            row = self._rows[channel] = (found[0], found[1], found[2], found[3])
        return row

    def put(self, channel: str, epoch: str, top: int, ttl: float, expires_at: float) -> None:
        self._rows[channel] = (epoch, top, ttl, expires_at)
        self._dirty.add(channel)

    def flush(self, conn: sqlite3.Connection) -> None:
        if self._dirty:
            conn.executemany(
                "INSERT OR REPLACE INTO channels VALUES (?, ?, ?, ?, ?)",
                [(name, *self._rows[name]) for name in self._dirty],
            )
            self._dirty.clear()
        if len(self._rows) > self.MAX_CACHED:
            self._rows.clear()

    def forget(self) -> None:
        self._rows.clear()
        self._dirty.clear()


def publish(
    conn: sqlite3.Connection,
    heads: Heads,
    channel: str,
    data: bytes,
    meta: dict[str, str],
    now: float,
    history_size: int,
    history_ttl: float,
    idem_key: str | None,
    idem_ttl: float,
) -> tuple[Publication, bool]:
    """Number, store and trim one publication (inside the writer's transaction)."""
    if idem_key is not None:
        seen = _live_kv(conn, idem_key, now)
        if seen is not None:
            epoch, _, offset = seen.decode().rpartition(":")
            return Publication(channel, epoch, int(offset), data, now, meta), True
    row = heads.get(conn, channel)
    if row is None or row[3] <= now:
        if row is not None:  # expired: its history goes with it, the next epoch starts at 1
            conn.execute("DELETE FROM history WHERE channel = ?", (channel,))
        epoch, top = secrets.token_hex(4), 0
    else:
        epoch, top = row[0], row[1]
    top += 1
    heads.put(channel, epoch, top, history_ttl, now + history_ttl)
    if history_size > 0:
        conn.execute(
            "INSERT INTO history VALUES (?, ?, ?, ?, ?)", (channel, top, now, data, _meta_text(meta))
        )
        if top > history_size:
            conn.execute(
                'DELETE FROM history WHERE channel = ? AND "offset" <= ?', (channel, top - history_size)
            )
    else:
        conn.execute("DELETE FROM history WHERE channel = ?", (channel,))
    if idem_key is not None:
        conn.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)",
            (idem_key, f"{epoch}:{top}".encode(), now + idem_ttl),
        )
    return Publication(channel, epoch, top, data, now, meta), False


def remove_history(conn: sqlite3.Connection, channel: str) -> None:
    conn.execute("DELETE FROM history WHERE channel = ?", (channel,))
    conn.execute("DELETE FROM channels WHERE name = ?", (channel,))


def _top(conn: sqlite3.Connection, channel: str, now: float) -> tuple[str, int, float] | None:
    row = conn.execute(
        "SELECT epoch, top, history_ttl FROM channels WHERE name = ? AND expires_at > ?", (channel, now)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def history(
    conn: sqlite3.Connection, channel: str, since: StreamPosition | None, limit: int | None, now: float
) -> tuple[StreamPosition, list[Publication], bool]:
    found = _top(conn, channel, now)
    if found is None:
        top = StreamPosition("", 0)
        return top, [], since is None or (since.offset == 0 and since.epoch == "")
    epoch, offset, ttl = found
    top = StreamPosition(epoch, offset)
    oldest = now - ttl
    if since is None:
        if limit == 0:
            return top, [], True
        rows = conn.execute(
            'SELECT "offset", time, data, meta FROM history WHERE channel = ? AND time >= ? '
            'ORDER BY "offset" DESC LIMIT ?',
            (channel, oldest, -1 if limit is None else limit),
        ).fetchall()
        return top, [_pub(channel, epoch, r) for r in reversed(rows)], True
    missing = top.offset - since.offset
    if since.epoch != epoch or missing < 0 or since.offset < 0 or (limit is not None and missing > limit):
        return top, [], False
    rows = conn.execute(
        'SELECT "offset", time, data, meta FROM history WHERE channel = ? AND "offset" > ? AND time >= ? '
        'ORDER BY "offset" LIMIT ?',
        (channel, since.offset, oldest, missing),
    ).fetchall()
    return top, *replay_after([_pub(channel, epoch, r) for r in rows], top, since, limit)


def history_page(
    conn: sqlite3.Connection, channel: str, before_offset: int | None, limit: int, now: float
) -> tuple[StreamPosition, list[Publication]]:
    found = _top(conn, channel, now)
    if found is None:
        return StreamPosition("", 0), []
    epoch, offset, ttl = found
    before = offset + 1 if before_offset is None else before_offset
    rows = conn.execute(
        'SELECT "offset", time, data, meta FROM history WHERE channel = ? AND "offset" < ? AND time >= ? '
        'ORDER BY "offset" DESC LIMIT ?',
        (channel, before, now - ttl, limit),
    ).fetchall()
    return StreamPosition(epoch, offset), [_pub(channel, epoch, r) for r in rows]


# -- key-value --------------------------------------------------------------------------------
def kv_get(conn: sqlite3.Connection, key: str, now: float) -> bytes | None:
    return _live_kv(conn, key, now)


def kv_put(conn: sqlite3.Connection, key: str, value: bytes, expires_at: float | None) -> None:
    conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, expires_at))


def kv_set_if_absent(
    conn: sqlite3.Connection, key: str, value: bytes, expires_at: float | None, now: float
) -> bool:
    if _live_kv(conn, key, now) is not None:
        return False
    kv_put(conn, key, value, expires_at)
    return True


def kv_compare_and_set(
    conn: sqlite3.Connection, key: str, expected: bytes, value: bytes, expires_at: float | None, now: float
) -> bool:
    if _live_kv(conn, key, now) != expected:
        return False
    kv_put(conn, key, value, expires_at)
    return True


def kv_compare_and_delete(conn: sqlite3.Connection, key: str, expected: bytes, now: float) -> bool:
    if _live_kv(conn, key, now) != expected:
        return False
    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    return True


def kv_delete(conn: sqlite3.Connection, key: str, now: float) -> bool:
    live = _live_kv(conn, key, now) is not None
    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    return live


# -- read marks -------------------------------------------------------------------------------
def mark_read(
    conn: sqlite3.Connection, user: str, ids: Sequence[str], expires_at: float, now: float, seq: int
) -> set[str]:
    """Mark `ids` read (numbered from `seq` on, newest last); keep the newest 10,000 per user.
    Returns the ids that were not marked before."""
    new: set[str] = set()
    for i, mid in enumerate(ids):
        row = conn.execute("SELECT expires_at FROM marks WHERE user = ? AND id = ?", (user, mid)).fetchone()
        if row is None or row[0] <= now:
            new.add(mid)
        conn.execute("INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?)", (user, mid, expires_at, seq + i))
    if ids:
        [count] = conn.execute("SELECT COUNT(*) FROM marks WHERE user = ?", (user,)).fetchone()
        if count > MAX_READ_MARKS_PER_USER:
            conn.execute(
                "DELETE FROM marks WHERE user = ? AND seq IN "
                "(SELECT seq FROM marks WHERE user = ? ORDER BY seq LIMIT ?)",
                (user, user, count - MAX_READ_MARKS_PER_USER),
            )
    return new


def read_marks(conn: sqlite3.Connection, user: str, ids: Sequence[str], now: float) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        found.update(
            mid
            for (mid,) in conn.execute(
                f"SELECT id FROM marks WHERE user = ? AND expires_at > ? AND id IN ({marks})",
                (user, now, *chunk),
            )
        )
    return found


# -- retention ----------------------------------------------------------------------------------
def sweep(conn: sqlite3.Connection, now: float) -> dict[str, int]:
    """Delete what expired (at most `SWEEP_LIMIT` rows per kind per call); counts by kind."""
    done = {}
    gone = [n for (n,) in conn.execute("SELECT name FROM channels WHERE expires_at <= ? LIMIT 1000", (now,))]
    for name in gone:
        remove_history(conn, name)
    done["channels"] = len(gone)
    shortest = conn.execute("SELECT MIN(history_ttl) FROM channels").fetchone()[0]
    aged = 0
    if shortest is not None:
        aged = conn.execute(
            'DELETE FROM history WHERE (channel, "offset") IN (SELECT h.channel, h."offset" FROM history h '
            "JOIN channels c ON c.name = h.channel WHERE h.time < ? AND h.time < ? - c.history_ttl LIMIT ?)",
            (now - shortest, now, SWEEP_LIMIT),
        ).rowcount
    done["history"] = aged
    done["kv"] = conn.execute(
        "DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at <= ? LIMIT ?)", (now, SWEEP_LIMIT)
    ).rowcount
    done["marks"] = conn.execute(
        "DELETE FROM marks WHERE (user, id) IN (SELECT user, id FROM marks WHERE expires_at <= ? LIMIT ?)",
        (now, SWEEP_LIMIT),
    ).rowcount
    return done


def give_back_space(conn: sqlite3.Connection) -> int:
    """Outside a transaction: return free pages to the file system (auto_vacuum=INCREMENTAL) and
    checkpoint the WAL so neither file keeps the space retention freed. Returns pages released."""
    [free] = conn.execute("PRAGMA freelist_count").fetchone()
    released = 0
    if free > VACUUM_FREE_PAGES:
        # executescript steps the pragma to its end (each step of `execute` frees one page only).
        conn.executescript("PRAGMA incremental_vacuum;")
        released = free
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return int(released)
