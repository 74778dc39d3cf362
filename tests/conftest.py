"""Shared fixtures. `hub` is a real hub on ephemeral 127.0.0.1 ports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis  # noqa: F401  (imported here, at shallow depth: pytest's assertion rewriter hits a
import pytest  # CPython 3.11.7 ast bug when hypothesis's plugin first imports it during the final summary)

from realtime.server.testing import TestHub, running_hub
from tests.postgres_server import pg_database
from tests.redis_server import delete_prefix, ping, redis_process, test_prefix


@pytest.fixture(scope="session", autouse=True)
def _private_dev_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hubs and CLIs started by tests keep any dev secret in a throwaway state directory,
    never in the user's ~/.local/state/realtime (the per-user dev default)."""
    saved = {name: os.environ.get(name) for name in ("XDG_STATE_HOME", "REALTIME_DEV_DIR")}
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    os.environ.pop("REALTIME_DEV_DIR", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[TestHub]:
    async with running_hub(tmp_path) as h:
        yield h


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for this test run: 127.0.0.1:6379 if it answers PING, else a throwaway redis-server."""
    if ping("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    with redis_process() as server:
        yield server.url


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test alone (give it to RedisBroker); its keys are deleted afterwards."""
    prefix = test_prefix()
    yield prefix
    await delete_prefix(redis_url, prefix)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test run (the machine's server, else a private cluster)."""
    with pg_database() as url:
        yield url
