"""grpc.health.v1 through grpcio-health-checking's asyncio servicer.

Overall status `""` plus one entry per registered service. A dependency (the
broker) can mark the hub NOT_SERVING while it is down; shutdown turns
everything NOT_SERVING for good.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from .shutdown import Shutdown

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class _Servicer(health_aio.HealthServicer):  # type: ignore[misc]
    """grpc's servicer, plus: a Watch ends (UNAVAILABLE) once shutdown has told it NOT_SERVING,
    so watchers do not hold the server for the whole grace period."""

    def __init__(self, shutdown: Shutdown) -> None:
        super().__init__()
        self._shutdown = shutdown

    async def Watch(self, request: Any, context: Any) -> None:
        watch = asyncio.ensure_future(super().Watch(request, context))
        stop = asyncio.ensure_future(self._shutdown.wait())
        try:
            await asyncio.wait((watch, stop), return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                watch.result()
                return
            await asyncio.sleep(0.05)  # let the NOT_SERVING update reach the watcher first
        finally:
            watch.cancel()
            stop.cancel()
        await context.abort(grpc.StatusCode.UNAVAILABLE, "server shutting down")


class Health:
    def __init__(self, shutdown: Shutdown) -> None:
        self.servicer = _Servicer(shutdown)
        self._services: list[str] = []
        self._problems: set[str] = set()

    async def register(self, service: str) -> None:
        self._services.append(service)
        await self.servicer.set(service, NOT_SERVING if self._problems else SERVING)

    async def mark_problem(self, name: str, present: bool) -> None:
        """Record that a dependency (e.g. "broker") is down (`present=True`) or back."""
        before = bool(self._problems)
        if present:
            self._problems.add(name)
        else:
            self._problems.discard(name)
        if bool(self._problems) != before:
            status = NOT_SERVING if self._problems else SERVING
            for service in ["", *self._services]:
                await self.servicer.set(service, status)

    @property
    def problems(self) -> frozenset[str]:
        return frozenset(self._problems)

    async def shutdown(self) -> None:
        await self.servicer.enter_graceful_shutdown()
