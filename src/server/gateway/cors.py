"""CORS for the gateway: the gateway's own origin, plus the origins configured (`--cors-origins`).

Browsers can only read a gRPC status cross-origin when grpc-status, grpc-message
and grpc-status-details-bin are exposed, so every answer to an allowed origin
exposes them.
"""

from __future__ import annotations

from collections.abc import Iterable

EXPOSED = "grpc-status, grpc-message, grpc-status-details-bin"
MAX_AGE = "600"


class CorsPolicy:
    """Decides which origins may call, and the headers that tell the browser so."""

    def __init__(self, origins: Iterable[str]) -> None:
        self._origins = frozenset(o.rstrip("/") for o in origins)
        self._any = "*" in self._origins

    def allows(self, origin: str | None, own_origin: str) -> bool:
        """No Origin header (not a browser, or same-origin GET) is allowed; so is our own origin."""
        if origin is None:
            return True
        origin = origin.rstrip("/")
        return self._any or origin == own_origin or origin in self._origins

    def response_headers(self, origin: str | None) -> dict[str, str]:
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": EXPOSED,
            "Vary": "Origin",
        }

    def preflight_headers(self, origin: str, request_headers: str | None) -> dict[str, str]:
        headers = self.response_headers(origin)
        headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
        # Mirror what the browser asks for: grpc-web clients send x-grpc-web, x-user-agent,
        # grpc-timeout, authorization and their own metadata.
        headers["Access-Control-Allow-Headers"] = request_headers or "content-type, x-grpc-web, authorization"
        headers["Access-Control-Max-Age"] = MAX_AGE
        return headers
