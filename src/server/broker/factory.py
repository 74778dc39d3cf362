"""Build the broker named by `--broker`: "memory", "sqlite", a sqlite: URL or a redis:// URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Broker, Clock

DEFAULT_PREFIX = "rt:"
#: The file `--broker sqlite` uses, under `--dev-dir`.
SQLITE_DEFAULT_FILE = "hub.db"
ENGINES_HELP = (
    "shared-state engine: 'sqlite' (one process, durable: <dev-dir>/hub.db; or sqlite:///ABS/PATH.db, "
    "sqlite:REL/PATH.db, add ?durability=queued to acknowledge before the commit), "
    "'memory' (one process, forgets on restart) or redis://HOST:PORT/DB (several replicas)"
)


def split_prefix(url: str) -> tuple[str, str]:
    """`redis://h:6379/0?prefix=app1:` -> ("redis://h:6379/0", "app1:"): the key prefix rides in the URL
    so several hubs (or test runs) can share one Redis without seeing each other."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def sqlite_target(spec: str, dev_dir: Path) -> tuple[Path, str]:
    """The file and durability of a sqlite spec: `sqlite` (`<dev_dir>/hub.db`), `sqlite:///abs.db`,
    `sqlite:rel.db`, each with an optional `?durability=commit|queued`. ValueError if malformed."""
    if spec == "sqlite":
        return dev_dir / SQLITE_DEFAULT_FILE, "commit"
    parts = urlsplit(spec)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path or parts.fragment:
        raise ValueError(
            f"--broker {spec!r}: expected sqlite, sqlite:///ABSOLUTE/PATH.db or sqlite:RELATIVE.db"
        )
    durability = "commit"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "durability" or value not in ("commit", "queued"):
            raise ValueError(f"--broker {spec!r}: the only option is durability=commit or durability=queued")
        durability = value
    return Path(parts.path), durability


def broker_spec_error(spec: str, dev_dir: Path) -> str | None:
    """Why `spec` names no engine, or None when it does (for the settings check)."""
    if spec == "memory" or spec.startswith(("redis://", "rediss://", "unix://")):
        return None
    if spec == "sqlite" or spec.startswith("sqlite:"):
        try:
            sqlite_target(spec, dev_dir)
        except ValueError as exc:
            return str(exc)
        return None
    return "--broker must be 'sqlite', 'memory', a sqlite: URL or a redis:// URL"


def create_broker(spec: str, *, clock: Clock | None = None, dev_dir: Path = Path(".realtime")) -> Broker:
    """A broker for `spec` (not started: call `await broker.start()`)."""
    if spec == "memory":
        from .memory import MemoryBroker

        return MemoryBroker(clock)
    if spec == "sqlite" or spec.startswith("sqlite:"):
        from .sqlite import SqliteBroker

        path, durability = sqlite_target(spec, dev_dir)
        return SqliteBroker(path, clock=clock, durability=durability)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBroker

        url, prefix = split_prefix(spec)
        return RedisBroker(url, prefix=prefix, clock=clock)
    raise ValueError(f"unknown broker {spec!r}: expected 'sqlite', 'memory', a sqlite: URL or a redis:// URL")
