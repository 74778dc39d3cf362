"""The shutdown signal every stream can watch to say "going away" before the server stops."""

from __future__ import annotations

import asyncio


class Shutdown:
    """Set once when graceful shutdown starts.

    Stream handlers race their work against `future` (one shared future, so an
    open stream costs no extra task); when it fires they send a `going_away`
    event and end the stream, within `grace` seconds.
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._future: asyncio.Future[None] | None = None
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    @property
    def future(self) -> asyncio.Future[None]:
        """Done once shutdown starts. Never cancel it: it is shared by every stream."""
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
            if self._started:
                self._future.set_result(None)
        return self._future

    def start(self) -> None:
        self._started = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        await asyncio.shield(self.future)
