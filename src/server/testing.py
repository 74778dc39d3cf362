"""Test harness: a real hub on ephemeral 127.0.0.1 ports, in this process.

    async with running_hub(tmp_path) as h:
        async with h.client("alice") as client:
            await client.diagnostics.Echo(...)

Like grpclib's `ChannelFor`: one line gives a connected client, so service
tests stay short.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.client import Client

from .app import SERVICE_MODULES, Hub
from .config import Settings
from .platform.auth import mint_token


@dataclass
class TestHub:
    hub: Hub
    secret: bytes

    __test__ = False  # not a pytest class

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.hub.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.hub.http_port}"

    def token(self, sub: str = "alice", roles: Iterable[str] = (), ttl: float = 3600.0) -> str:
        return str(mint_token(self.secret, sub, roles=roles, ttl=ttl))

    def client(self, sub: str | None = "alice", roles: Iterable[str] = (), **kwargs: Any) -> Client:
        """A client whose token says `sub` (None: no token at all)."""
        token = None if sub is None else self.token(sub, roles)
        return Client(self.target, token=token, **kwargs)


@contextlib.asynccontextmanager
async def running_hub(
    tmp: Path, services: tuple[str, ...] = SERVICE_MODULES, **settings: Any
) -> AsyncIterator[TestHub]:
    """Start a hub on 127.0.0.1:0 (gRPC and HTTP) with an HS256 secret in `tmp`; stop it after.

    A hub started again on the same `tmp` keeps its secret, so tokens minted for the first one
    stay valid: a restart test then checks reconnection, not a token race.
    """
    secret_file = tmp / "jwt-secret"
    if secret_file.exists():
        secret = secret_file.read_bytes()
    else:
        secret = secrets.token_urlsafe(48).encode()
        secret_file.write_bytes(secret)
    values: dict[str, Any] = {
        "grpc_listen": "127.0.0.1:0",
        "http_listen": "127.0.0.1:0",
        "jwt_secret_file": secret_file,
        "dev_dir": tmp / ".realtime",
        "shutdown_grace": 2.0,
        # Tests get the forgetful engine unless they ask for another (broker="sqlite"...).
        "broker": "memory",
    }
    values.update(settings)
    hub = Hub(Settings(**values), services=services)
    await hub.start()
    try:
        yield TestHub(hub, secret)
    finally:
        await hub.stop(grace=values["shutdown_grace"])
