"""The hub's grpc.aio server: every method handler is wrapped once, when it is registered.

A grpc.aio `ServerInterceptor` runs per call: grpc awaits `intercept_service` (plus its own
continuation coroutine) for every call before the handler starts, which cost more than the
rest of the wrapper on a small unary call. Wrapping the handlers as services register them
gives the same single wrapper (`HubInterceptor._wrap`: authentication, limits, metrics, the
call log) with no per-call dispatch at all. Unknown methods stay unwrapped and grpc answers
them UNIMPLEMENTED, as it did with the interceptor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc.aio import _server

from .interceptor import HubInterceptor


class _WrappedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose answers are the hub's wrapped handlers (each wrapped once)."""

    __slots__ = ("_hub", "_inner")

    def __init__(self, hub: HubInterceptor, inner: grpc.GenericRpcHandler) -> None:
        self._hub = hub
        self._inner = inner

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(handler_call_details)
        if handler is None:
            return None
        return self._hub.wrapped(handler, handler_call_details.method)  # type: ignore[attr-defined]


class _MethodTable(grpc.GenericRpcHandler):
    """Every method services register with `add_registered_method_handlers`, in one dict."""

    __slots__ = ("methods",)

    def __init__(self) -> None:
        self.methods: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self.methods.get(handler_call_details.method)  # type: ignore[attr-defined]


class HubServer(_server.Server):
    """`grpc.aio.server(options=...)` whose registrations go through `hub`'s wrapper.

    Registered methods are served as generic ones, from one dict. grpc.aio's accept loop keeps
    one pending request per registered method and `asyncio.wait`s on all of them for every call
    it accepts: with the hub's ~60 methods that wait (an isinstance check, a done callback added
    and removed per future) cost more CPU per small unary call than the call itself. One generic
    request and one dict lookup do the same job.
    """

    def __init__(self, hub: HubInterceptor, options: Sequence[tuple[str, Any]]) -> None:
        # The arguments grpc.aio.server() passes: no thread pool, handlers or interceptors.
        super().__init__(None, (), (), tuple(options), None, None)
        self._hub = hub
        self._table = _MethodTable()
        super().add_generic_rpc_handlers((self._table,))

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        super().add_generic_rpc_handlers(tuple(_WrappedGeneric(self._hub, h) for h in generic_rpc_handlers))

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        for name, handler in method_handlers.items():
            method = f"/{service_name}/{name}"
            self._table.methods[method] = self._hub.wrapped(handler, method)
