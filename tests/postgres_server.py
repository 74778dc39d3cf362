"""A PostgreSQL for the tests: the machine's server when it answers, else a private cluster.

`pg_database()` yields a URL of a throwaway database (created for this test run,
dropped at the end). `private_cluster()` always starts its own cluster (initdb
into a temp dir, a free 127.0.0.1 port), which tests may stop and start again:
the machine's PostgreSQL is shared and never restarted by a test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.redis_server import free_port

MACHINE_URL = os.environ.get("REALTIME_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found and name not in ("initdb", "pg_ctl", "postgres"):
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    if found:
        return found
    raise RuntimeError(
        f"{name} not found: install the Debian package `postgresql` (scripts/system-packages.txt)"
    )


def _psql(url: str, sql: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_bin("psql"), url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def answers(url: str) -> bool:
    try:
        return _psql(url, "select 1", timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of one test, in a temp dir; `stop()` and `start()` restart it."""

    data: Path
    port: int
    log: Path
    prefix: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [
                *self.prefix,
                _bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "30",
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", opts, "start")
        deadline = time.monotonic() + 30
        while not answers(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"private PostgreSQL did not answer on port {self.port}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


def _run_as_user() -> list[str]:
    """initdb refuses to run as root: run it (and the server) as `postgres` then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start a private PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    base = Path(tempfile.mkdtemp(prefix="rt-pg-"))
    prefix = _run_as_user()
    if prefix:
        shutil.chown(base, "postgres")
    data, log = base / "data", base / "pg.log"
    subprocess.run(
        [*prefix, _bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = PrivateCluster(data, free_port(), log, prefix)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """The URL of a fresh database on the machine's server (or a private cluster when none answers)."""
    with contextlib.ExitStack() as stack:
        server = MACHINE_URL if answers(MACHINE_URL) else stack.enter_context(private_cluster()).url
        name = "rt_test_" + secrets.token_hex(6)
        done = _psql(server, f"CREATE DATABASE {name}")
        if done.returncode != 0:
            raise RuntimeError(f"cannot create a test database: {done.stderr.strip()}")
        try:
            yield _with_db(server, name)
        finally:
            _psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
