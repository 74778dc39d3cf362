"""What kind of method a path names, from protobuf's default descriptor pool (no grpc).

Services import their generated code, which registers their descriptors, so the
gateway can tell a unary method (forwarded as one unary call, the fast path) from
a streaming one without knowing any service. Unknown paths are forwarded as
server-streaming calls and the hub answers them (UNIMPLEMENTED for a typo).
"""

from __future__ import annotations

from google.protobuf import descriptor_pool

UNARY = "unary"
SERVER_STREAMING = "server_streaming"
CLIENT_STREAMING = "client_streaming"
BIDI = "bidi"
UNKNOWN = "unknown"


class MethodKinds:
    def __init__(self) -> None:
        self._pool = descriptor_pool.Default()
        self._cache: dict[str, str] = {}

    def kind(self, path: str) -> str:
        found = self._cache.get(path)
        if found is None:
            found = self._cache[path] = self._lookup(path)
        return found

    def _lookup(self, path: str) -> str:
        full = path.strip("/").replace("/", ".")
        try:
            method = self._pool.FindMethodByName(full)
        except KeyError:
            return UNKNOWN
        if method.client_streaming:
            return BIDI if method.server_streaming else CLIENT_STREAMING
        return SERVER_STREAMING if method.server_streaming else UNARY
