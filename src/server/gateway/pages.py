"""The dashboard page and, in the dev default only, the endpoint that mints a short-lived dev token."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ..context import HubContext
from ..platform.auth import load_or_create_dev_secret, mint_token
from .gateway import Gateway, own_origin

STATIC_DIR = Path(__file__).with_name("static")
DEV_TOKEN_TTL = 900.0
_SUBJECT = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_ROLE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")

# The page loads only its own script and style and talks only to its own origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


def index_handler(dev_mode: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /: the dashboard page; in the dev default it shows the dev sign-in button."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    if dev_mode:
        page = page.replace('data-dev-mode="0"', 'data-dev-mode="1"', 1)
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)

    return index


class DevTokenHandler:
    """POST /dev/token {"sub": "alice", "roles": ["admin"]} -> {"token", "expires_in", "sub"}.

    Exists only when the hub runs on the embedded dev secret (no key configured), and answers
    only what `realtime token` could do on this machine: the peer must be on loopback and send
    an `Origin` that is the page's own (or one in --cors-origins); the `Host` it names was
    already checked against the listen address (DNS rebinding, platform/hosts.py). JSON bodies
    only, so a cross-origin page needs a CORS preflight, which the gateway refuses for origins
    not allowed.
    """

    def __init__(self, gw: Gateway, hub: HubContext) -> None:
        self._gw = gw
        self._hub = hub

    async def handle(self, request: web.Request) -> web.Response:
        if not _is_loopback(request.remote):
            return web.json_response({"error": "/dev/token answers only loopback peers"}, status=403)
        origin = request.headers.get("Origin")
        if origin is None or not self._gw.cors.allows(origin, own_origin(request)):
            return web.json_response(
                {"error": "/dev/token needs the Origin of this hub's own page (or one in --cors-origins)"},
                status=403,
            )
        if request.content_type != "application/json":
            return web.json_response({"error": "send Content-Type: application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not valid JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        sub = body.get("sub", "dev-user")
        roles = body.get("roles", [])
        if not isinstance(sub, str) or not _SUBJECT.match(sub):
            return web.json_response({"error": "sub: 1-64 characters of A-Z a-z 0-9 _ . @ -"}, status=400)
        if not isinstance(roles, list) or not all(isinstance(r, str) and _ROLE.match(r) for r in roles):
            return web.json_response({"error": "roles: a list of short role names"}, status=400)
        s = self._hub.settings
        secret, _ = load_or_create_dev_secret(s.dev_secret_path)
        token = mint_token(
            secret, sub, roles=roles, ttl=DEV_TOKEN_TTL, audience=s.jwt_audience, issuer=s.jwt_issuer
        )
        headers = self._gw.cors.response_headers(request.headers.get("Origin"))
        headers["Cache-Control"] = "no-store"
        return web.json_response(
            {"token": token, "expires_in": int(DEV_TOKEN_TTL), "sub": sub}, headers=headers
        )


def _is_loopback(remote: str | None) -> bool:
    """True for a loopback peer address, IPv4-mapped ones (`::ffff:127.0.0.1`) included."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)
