"""Upload settings: from the hub's `Settings.extra` ("uploads_*" keys), then
REALTIME_UPLOADS_* environment variables, then defaults.

| key (extra / env suffix)   | default            | meaning                                               |
| -------------------------- | ------------------ | ----------------------------------------------------- |
| uploads_dir                | <dev_dir>/uploads  | spool directory on this replica's disk                |
| uploads_max_bytes          | 268435456 (256 MiB)| largest upload                                        |
| uploads_quota_bytes        | 1073741824 (1 GiB) | bytes one user's live uploads may declare in total    |
| uploads_total_bytes        | 8589934592 (8 GiB) | bytes all live uploads on this replica may declare    |
| uploads_max_per_user       | 16                 | live uploads per user                                 |
| uploads_ttl                | 3600               | seconds an unfinished upload lives after its last write |
| uploads_retention          | 3600               | seconds a finished upload lives (until deleted)       |
| uploads_sweep_interval     | 30                 | seconds between expiry sweeps                         |
| uploads_write_idle         | 60                 | seconds a silent Write stream stays open              |
| uploads_io_concurrency     | 4                  | disk reads/writes in flight at once (thread pool)     |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class UploadConfig:
    #: Spool directory; empty means `<dev_dir>/uploads`.
    dir: str = ""
    #: Largest upload in bytes.
    max_bytes: int = 256 * MIB
    #: Bytes one user's live (unfinished or finished, not yet deleted or expired) uploads may declare.
    quota_bytes: int = 1024 * MIB
    #: Bytes all live uploads of this replica may declare together (the disk budget).
    total_bytes: int = 8192 * MIB
    #: Live uploads per user.
    max_per_user: int = 16
    #: Seconds an unfinished upload lives after its last write (then it is abandoned and deleted).
    ttl: float = 3600.0
    #: Seconds a finished upload lives unless deleted first.
    retention: float = 3600.0
    #: Seconds between expiry sweeps.
    sweep_interval: float = 30.0
    #: Seconds a Write stream may stay silent before the hub closes it (its upload's lock is freed).
    write_idle: float = 60.0
    #: Disk reads/writes in flight at once (each on a worker thread, off the event loop).
    io_concurrency: int = 4

    @classmethod
    def load(cls, extra: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> UploadConfig:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            kind: Any = str if f.name == "dir" else int if f.type in ("int", int) else float
            key = "uploads_" + f.name
            raw = extra[key] if key in extra else environ.get("REALTIME_" + key.upper())
            if raw is None:
                continue
            value = kind(raw)
            if kind is not str and value <= 0:
                raise ValueError(f"{key} must be positive")
            values[f.name] = value
        return cls(**values)

    def spool_dir(self, dev_dir: Path) -> Path:
        return Path(self.dir) if self.dir else Path(dev_dir) / "uploads"
