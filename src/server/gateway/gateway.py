"""The gateway facade: what every protocol handler shares (backend, CORS, metrics, limits)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web

from ..context import HubContext
from .backend import Backend, BackendCall, CancelSlot
from .cors import CorsPolicy
from .methods import MethodKinds
from .observe import GatewayMetrics

# How often a waiting stream checks that its browser is still connected. aiohttp does not
# cancel handlers when the client goes away, and an idle stream has nothing to write.
DISCONNECT_POLL = 1.0

# A method path: /package.Service/Method.
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
METHOD_PATH = rf"/{{service:{_IDENT}(?:\.{_IDENT})+}}/{{method:{_IDENT}}}"


class ClientGone(Exception):
    """The browser disconnected; the forwarded call is cancelled."""


@dataclass
class Gateway:
    hub: HubContext
    backend: Backend
    cors: CorsPolicy
    metrics: GatewayMetrics
    kinds: MethodKinds = field(default_factory=MethodKinds)
    disconnect_poll: float = DISCONNECT_POLL
    _watched: dict[object, tuple[web.Request, BackendCall | CancelSlot]] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None

    @property
    def max_message_bytes(self) -> int:
        return self.hub.settings.max_message_bytes

    @property
    def keepalive(self) -> float:
        return self.hub.settings.keepalive_time

    def check_origin(self, request: web.Request) -> web.Response | None:
        """A 403 for a browser origin that is not allowed (it could not read the answer anyway)."""
        origin = request.headers.get("Origin")
        if self.cors.allows(origin, own_origin(request)):
            return None
        return web.Response(status=403, text=f"origin {origin} is not allowed by --cors-origins\n")

    @contextlib.contextmanager
    def watch(self, request: web.Request, call: BackendCall | CancelSlot) -> Iterator[None]:
        """Cancel `call` if the browser disconnects while the gateway waits on the backend.

        One task checks every watched call each `disconnect_poll` seconds (cheaper than a
        timer per call on the unary hot path).
        """
        key = object()
        self._watched[key] = (request, call)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch_loop())
        try:
            yield
        finally:
            del self._watched[key]

    async def close(self) -> None:
        """At hub stop: no more watching, and the channel to the gRPC port is closed."""
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.backend.close()

    async def _watch_loop(self) -> None:
        while self._watched:
            await asyncio.sleep(self.disconnect_poll)
            for request, call in list(self._watched.values()):
                if is_gone(request):
                    cancel = call.cancel
                    if cancel is not None:
                        cancel()


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def is_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
