"""What the composition root hands each service when it registers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web

from .config import Settings
from .platform.health import Health
from .platform.metrics import Metrics
from .platform.shutdown import Shutdown

log = logging.getLogger("realtime.hub")


@dataclass
class HubContext:
    """The shared rooms of one hub process.

    A service's `register(hub)` adds its servicer to `server`, may add HTTP
    routes to `http`, start background tasks with `spawn`, and add cleanup to
    `on_stop`. It returns the full names of the services it added.
    """

    settings: Settings
    server: grpc.aio.Server
    http: web.Application
    metrics: Metrics
    health: Health
    shutdown: Shutdown
    instance_id: str
    started_at: float
    broker: Any = None
    # The bound gRPC port, set by the hub once it listens (the browser gateway dials it).
    grpc_port: int = 0
    # Where the in-process gateway dials the gRPC server ("" = 127.0.0.1:<grpc_port>); under TLS
    # a private unix socket.
    gateway_target: str = ""
    services: list[str] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a background task for the life of the hub; its crash is logged, not lost."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
