"""The gateway's one link to gRPC: a channel to the hub's own gRPC port, bytes in and bytes out.

Multicallables are built with no serializers, so a message is forwarded as the
bytes the browser sent and the gateway needs no change when a service is
added. Every call is made as server-streaming or bidi: on the wire a unary
method answers a server-streaming call exactly as it answers a unary one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from ..context import HubContext
from ..platform.errors import Code, HubError
from ..platform.status import to_status
from .metadata import Metadata, MetadataValue, Outcome

# Room for the message plus framing and metadata on the loopback channel.
_SLACK = 64 * 1024


def outcome_of(err: HubError) -> Outcome:
    """A gateway-side refusal as the same rich status the hub's interceptor sends."""
    status = to_status(err)
    return Outcome(int(err.code), err.message, tuple(status.trailing_metadata))


class CancelSlot:
    """Where the disconnect watcher finds how to cancel the call it watches."""

    __slots__ = ("cancel",)

    def __init__(self) -> None:
        self.cancel: Callable[[], object] | None = None


class BackendCall:
    """One forwarded call: read response messages, then how it ended."""

    __slots__ = ("_call", "_error")

    def __init__(self, call: grpc.aio.Call) -> None:
        self._call = call
        self._error: grpc.aio.AioRpcError | None = None

    async def initial_metadata(self) -> tuple[tuple[str, MetadataValue], ...]:
        try:
            md = await self._call.initial_metadata()
        except grpc.aio.AioRpcError as exc:
            self._error = exc
            return ()
        return tuple(md or ())

    async def read(self) -> bytes | None:
        """The next response message; None once the call has ended (well or not)."""
        if self._error is not None:
            return None
        try:
            message = await self._call.read()  # type: ignore[attr-defined]
        except grpc.aio.AioRpcError as exc:
            self._error = exc
            return None
        except asyncio.CancelledError:
            # grpc.aio raises CancelledError from a call we cancelled (browser gone); only
            # a cancellation of this task itself must propagate.
            task = asyncio.current_task()
            if (task is not None and task.cancelling()) or not self._call.cancelled():
                raise
            return None
        if message is grpc.aio.EOF:
            return None
        assert isinstance(message, bytes)
        return message

    async def outcome(self) -> Outcome:
        err = self._error
        if err is not None:
            return Outcome(err.code().value[0], err.details() or "", tuple(err.trailing_metadata() or ()))
        code = await self._call.code()
        details = await self._call.details()
        trailers = await self._call.trailing_metadata()
        return Outcome(code.value[0], details or "", tuple(trailers or ()))

    def cancel(self) -> None:
        self._call.cancel()


# Seconds the loopback channel gives bridged calls to read their final status at hub stop.
_CLOSE_GRACE_S = 2.0


class Backend:
    """A lazily opened channel to 127.0.0.1:<grpc port> (the port is known once the hub listens)."""

    def __init__(self, hub: HubContext) -> None:
        self._hub = hub
        self._channel: grpc.aio.Channel | None = None
        self._closed = False

    def _target(self) -> str:
        if self._hub.gateway_target:
            return self._hub.gateway_target
        port = self._hub.grpc_port
        if not port:
            raise HubError(Code.UNAVAILABLE, "the gRPC port is not listening yet; retry")
        host = self._hub.settings.grpc_listen.rpartition(":")[0].strip("[]")
        if host in ("", "0.0.0.0", "::", "*"):
            host = "127.0.0.1"
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _get_channel(self) -> grpc.aio.Channel:
        if self._closed:
            raise HubError(Code.UNAVAILABLE, "the hub is shutting down; reconnect later")
        if self._channel is None:
            limit = self._hub.settings.max_message_bytes + _SLACK
            self._channel = grpc.aio.insecure_channel(
                self._target(),
                options=[
                    ("grpc.max_receive_message_length", limit),
                    ("grpc.max_send_message_length", limit),
                    ("grpc.enable_retries", 0),
                    # One loopback connection carries every browser call.
                    ("grpc.keepalive_time_ms", int(self._hub.settings.keepalive_time * 1000)),
                ],
            )
        return self._channel

    async def unary(
        self, method: str, payload: bytes, metadata: Metadata, timeout: float | None, watch: CancelSlot
    ) -> tuple[bytes | None, tuple[tuple[str, MetadataValue], ...], Outcome]:
        """One unary call: (response or None, initial metadata, outcome)."""
        call = self._get_channel().unary_unary(method)(payload, metadata=metadata, timeout=timeout)
        watch.cancel = call.cancel
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            outcome = Outcome(exc.code().value[0], exc.details() or "", tuple(exc.trailing_metadata() or ()))
            return None, tuple(exc.initial_metadata() or ()), outcome
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if (task is not None and task.cancelling()) or not call.cancelled():
                raise
            return None, (), Outcome(int(Code.CANCELLED), "browser disconnected")
        initial = tuple(await call.initial_metadata() or ())
        trailers = tuple(await call.trailing_metadata() or ())
        assert isinstance(response, bytes)
        return response, initial, Outcome(0, await call.details() or "", trailers)

    def server_stream(
        self, method: str, payload: bytes, metadata: Metadata, timeout: float | None
    ) -> BackendCall:
        multicallable = self._get_channel().unary_stream(method)
        return BackendCall(multicallable(payload, metadata=metadata, timeout=timeout))

    def bidi(
        self, method: str, requests: AsyncIterator[bytes], metadata: Metadata, timeout: float | None
    ) -> BackendCall:
        multicallable = self._get_channel().stream_stream(method)
        return BackendCall(multicallable(requests, metadata=metadata, timeout=timeout))

    async def close(self) -> None:
        self._closed = True
        if self._channel is not None:
            channel, self._channel = self._channel, None
            # By now the gRPC server has stopped, so every bridged call has its final status on the
            # wire; a short grace lets the relays read it (a status, not CANCELLED) before the
            # channel cancels what is left.
            await channel.close(grace=_CLOSE_GRACE_S)


async def cancel_quietly(task: asyncio.Task[Any] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
