"""grpc.health.v1 through grpcio-health-checking's asyncio servicer.

Overall status `""` plus one entry per registered service. A dependency (the
broker) can mark the hub NOT_SERVING while it is down; shutdown turns
everything NOT_SERVING for good. `List` (which the library's servicer leaves
unimplemented) answers every registered status; `Watch` streams need no token,
so they are counted per peer address instead of per user.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from .errors import resource_exhausted
from .shutdown import Shutdown
from .status import abort

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class _Servicer(health_aio.HealthServicer):  # type: ignore[misc]
    """grpc's servicer, plus: a Watch ends (UNAVAILABLE) once shutdown has told it NOT_SERVING,
    so watchers do not hold the server for the whole grace period."""

    def __init__(self, shutdown: Shutdown, max_watches_per_peer: int) -> None:
        super().__init__()
        self._shutdown = shutdown
        self._max_watches = max_watches_per_peer
        self._watches: Counter[str] = Counter()

    async def List(self, request: Any, context: Any) -> Any:
        """Every registered service's status (a snapshot), `""` being the hub as a whole."""
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in sorted(self._server_status.items())
            }
        )

    async def Watch(self, request: Any, context: Any) -> None:
        peer = watcher_address(context)
        if self._max_watches and self._watches[peer] >= self._max_watches:
            await abort(
                context,
                resource_exhausted(
                    f"{self._max_watches} health Watch streams already open from {peer} "
                    "(--max-health-watches-per-peer)",
                    retry_after=1.0,
                ),
            )
        self._watches[peer] += 1
        try:
            await self._watch(request, context)
        finally:
            self._watches[peer] -= 1
            if self._watches[peer] <= 0:
                del self._watches[peer]

    def open_watches(self, peer: str) -> int:
        return self._watches.get(peer, 0)

    async def _watch(self, request: Any, context: Any) -> None:
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


def peer_host(peer: str) -> str:
    """The address part of a grpc peer string: `ipv4:127.0.0.1:5000` -> `127.0.0.1`,
    `ipv6:[::1]:5000` -> `::1`; anything else (unix sockets) as given."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or rest
    return peer


def watcher_address(context: Any) -> str:
    """Whom a Watch is counted against: the peer's address; for a call from loopback that
    carries `x-forwarded-for` (the browser gateway, which runs beside the gRPC port) the browser's
    address, so browsers behind the gateway do not share one budget. A remote peer cannot choose
    its address this way."""
    host = peer_host(context.peer() or "")
    # unix: the gateway's private socket under TLS (app.py)
    if host in ("127.0.0.1", "::1") or host.startswith(("127.", "unix:")):
        for key, value in context.invocation_metadata() or ():
            if key == "x-forwarded-for" and isinstance(value, str) and value:
                return value.rsplit(",", 1)[-1].strip()
    return host


class Health:
    def __init__(self, shutdown: Shutdown, max_watches_per_peer: int = 100) -> None:
        self.servicer = _Servicer(shutdown, max_watches_per_peer)
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
