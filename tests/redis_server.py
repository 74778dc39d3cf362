"""Start a throwaway `redis-server` on a free 127.0.0.1 port (tests only), and talk RESP to it."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisProcess:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_redis(
    port: int | None = None,
    timeout: float = 10.0,
    persist_dir: Path | None = None,
    args: tuple[str, ...] | None = None,
) -> RedisProcess:
    """A fresh redis-server on `port` (default: a free one); waits for PING. No persistence, or
    with `persist_dir` an append-only file fsynced on every write (a restart keeps everything).

    `args` replaces the persistence options entirely (e.g. a chosen append-only file policy)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (see scripts/system-packages.txt)")
    port = port or free_port()
    persistence = ["--appendonly", "no"]
    if persist_dir is not None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(persist_dir)]
    options = args if args is not None else ("--save", "", *persistence)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path("/tmp"),
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping("127.0.0.1", port):
            return RedisProcess(proc, port)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    raise RuntimeError(f"redis-server did not answer on port {port}")


@contextlib.contextmanager
def redis_process(
    port: int | None = None, persist_dir: Path | None = None, args: tuple[str, ...] | None = None
) -> Iterator[RedisProcess]:
    server = start_redis(port, persist_dir=persist_dir, args=args)
    try:
        yield server
    finally:
        server.kill()


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (test cleanup)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def test_prefix() -> str:
    """A fresh key prefix for one test."""
    import secrets

    return f"rt-test:{secrets.token_hex(6)}:"


test_prefix.__test__ = False  # type: ignore[attr-defined]
