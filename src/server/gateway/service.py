"""Registers the browser gateway's routes on the hub's HTTP port (no gRPC service of its own).

POST    /<pkg.Service>/<Method>      gRPC-Web (binary and -text): unary, server streaming
GET     /<pkg.Service>/<Method>      WebSocket (`grpc-websockets`): client and bidi streaming
GET     /sse/<pkg.Service>/<Method>  Server-Sent Events fallback for server streaming
OPTIONS (the paths above)            CORS preflight
GET     /                            the dashboard; /assets/* its files
POST    /dev/token                   a short-lived token, in the dev default only
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..context import HubContext
from .backend import Backend
from .cors import CorsPolicy
from .gateway import METHOD_PATH, Gateway, own_origin
from .grpcweb import GrpcWebHandler
from .media_stream import register_routes as register_media_stream
from .observe import GatewayMetrics
from .pages import STATIC_DIR, DevTokenHandler, index_handler
from .sse import SseHandler
from .websocket import WebSocketHandler


def _preflight(gw: Gateway) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def preflight(request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if origin is None or not gw.cors.allows(origin, own_origin(request)):
            return web.Response(status=403, text="origin not allowed\n")
        headers = gw.cors.preflight_headers(origin, request.headers.get("Access-Control-Request-Headers"))
        return web.Response(status=204, headers=headers)

    return preflight


def build_gateway(hub: HubContext) -> Gateway:
    return Gateway(hub, Backend(hub), CorsPolicy(hub.settings.cors_origins), GatewayMetrics(hub.metrics))


async def register(hub: HubContext) -> list[str]:
    gw = build_gateway(hub)
    router = hub.http.router
    preflight = _preflight(gw)
    router.add_post(METHOD_PATH, GrpcWebHandler(gw).handle)
    router.add_get(METHOD_PATH, WebSocketHandler(gw).handle, allow_head=False)
    router.add_route("OPTIONS", METHOD_PATH, preflight)
    router.add_get("/sse" + METHOD_PATH, SseHandler(gw).handle, allow_head=False)
    router.add_route("OPTIONS", "/sse" + METHOD_PATH, preflight)
    router.add_get("/", index_handler(hub.settings.dev_mode))
    router.add_static("/assets", STATIC_DIR, follow_symlinks=False)
    if hub.settings.dev_mode:
        router.add_post("/dev/token", DevTokenHandler(gw, hub).handle)
        router.add_route("OPTIONS", "/dev/token", preflight)
    register_media_stream(hub)  # GET /media-stream: telephony calls (Twilio Media Streams protocol)
    hub.on_stop.append(gw.close)
    return []
