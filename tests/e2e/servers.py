"""Start `realtime-server` processes on free 127.0.0.1 ports and always stop them."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from realtime.server.platform.auth import mint_token

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int
    secret: bytes
    log: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def token(self, sub: str = "alice", roles: tuple[str, ...] = ()) -> str:
        return mint_token(self.secret, sub, roles=roles)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_serving(
    target: str,
    timeout: float = 20.0,
    ca_file: Path | None = None,
    client_pair: tuple[Path, Path] | None = None,
) -> None:
    """Poll grpc health until SERVING (bounded); over TLS trusting `ca_file` when given, with the
    client certificate and key `client_pair` under mutual TLS."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    if ca_file is not None:
        cert, key = (p.read_bytes() for p in client_pair) if client_pair else (None, None)
        creds = grpc.ssl_channel_credentials(ca_file.read_bytes(), private_key=key, certificate_chain=cert)
        opened = grpc.secure_channel(target, creds)
    else:
        opened = grpc.insecure_channel(target)
    with opened as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError as err:
                last = err
            time.sleep(0.1)
    raise TimeoutError(f"server at {target} not SERVING after {timeout}s: {last}")


@contextlib.contextmanager
def server_process(
    tmp: Path,
    *args: str,
    name: str = "hub",
    env: dict[str, str] | None = None,
    ca_file: Path | None = None,
    client_pair: tuple[Path, Path] | None = None,
) -> Iterator[ServerProcess]:
    secret_file = tmp / "jwt-secret"
    if not secret_file.exists():
        secret_file.write_bytes(secrets.token_urlsafe(48).encode())
    grpc_port, http_port = free_port(), free_port()
    log = tmp / f"{name}-{grpc_port}.log"
    command = [
        tool("realtime-server"),
        f"--grpc-listen=127.0.0.1:{grpc_port}",
        f"--http-listen=127.0.0.1:{http_port}",
        f"--jwt-secret-file={secret_file}",
        "--log-format=json",
        *args,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env={**os.environ, **(env or {})}
        )
    server = ServerProcess(proc, grpc_port, http_port, secret_file.read_bytes().strip(), log)
    try:
        wait_serving(server.target, ca_file=ca_file, client_pair=client_pair)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
