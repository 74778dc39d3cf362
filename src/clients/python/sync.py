"""A thin synchronous facade for scripts: runs a `Client` on a private event loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .client import Client

T = TypeVar("T")


class SyncClient:
    """`SyncClient(target, token=...)`; `run(lambda c: c.diagnostics.Echo(req))` returns the result."""

    def __init__(self, target: str = "127.0.0.1:50051", **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="realtime-sync-client", daemon=True
        )
        self._thread.start()
        self.client: Client = self._submit(self._make(target, kwargs))

    @staticmethod
    async def _make(target: str, kwargs: dict[str, Any]) -> Client:
        return Client(target, **kwargs)

    def _submit(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    def run(self, call: Callable[[Client], Awaitable[T]], timeout: float | None = None) -> T:
        """Run `call(client)` on the client's loop and wait for its result."""

        async def go() -> T:
            return await call(self.client)

        return self._submit(go(), timeout)

    def check_health(self, service: str = "") -> str:
        return self.run(lambda c: c.check_health(service))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._submit(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
