"""Which HTTP headers become gRPC metadata, and back (pure; no grpc, no HTTP server)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..platform.errors import invalid_argument
from .framing import b64_header, b64_header_decode, encode_grpc_message

# Headers that describe the HTTP hop or the browser, never the call.
_HOP = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "host",
        "keep-alive",
        "last-event-id",
        "origin",
        "pragma",
        "referer",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-grpc-web",
        "x-user-agent",
    }
)
_HOP_PREFIXES = ("sec-", "grpc-", "access-control-", ":", "proxy-")
_VALID_KEY = re.compile(r"^[0-9a-z_.\-]+$")
# What gRPC allows in a text (non `-bin`) metadata value: printable ASCII.
_VALID_VALUE = re.compile(r"^[\x20-\x7e]*$")

MetadataValue = str | bytes
Metadata = tuple[tuple[str, MetadataValue], ...]


def to_grpc_metadata(headers: Iterable[tuple[str, str]], peer: str | None = None) -> Metadata:
    """Request headers -> call metadata (authorization included); `-bin` values decoded."""
    out: list[tuple[str, MetadataValue]] = []
    for raw_key, value in headers:
        key = raw_key.lower()
        if key in _HOP or key.startswith(_HOP_PREFIXES) or not _VALID_KEY.match(key):
            continue
        if key.endswith("-bin"):
            out.append((key, b64_header_decode(value)))
            continue
        if not _VALID_VALUE.match(value):
            # grpc would refuse the call with no status at all (the gateway answered HTTP 500).
            raise invalid_argument(
                f"header {key!r} has characters other than printable ASCII; send text metadata as "
                f"ASCII, or binary/UTF-8 values base64-encoded in a '{key}-bin' header",
                [(key, "metadata values must be printable ASCII")],
                reason="INVALID_METADATA",
            )
        out.append((key, value))
    if peer:
        out.append(("x-forwarded-for", peer))
    return tuple(out)


def to_http_headers(metadata: Iterable[tuple[str, MetadataValue]]) -> list[tuple[str, str]]:
    """Call metadata -> HTTP header pairs (binary values base64, unpadded)."""
    out: list[tuple[str, str]] = []
    for key, value in metadata:
        if key.startswith(":") or key in ("content-type", "content-length"):
            continue
        out.append((key, b64_header(value) if isinstance(value, bytes) else value))
    return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: status code, message and trailing metadata (details included)."""

    code: int
    message: str = ""
    trailers: tuple[tuple[str, MetadataValue], ...] = ()

    def status_headers(self) -> list[tuple[str, str]]:
        """grpc-status, grpc-message, then trailing metadata (grpc-status-details-bin among it)."""
        pairs = [("grpc-status", str(self.code))]
        if self.message:
            pairs.append(("grpc-message", encode_grpc_message(self.message)))
        pairs.extend(to_http_headers(k_v for k_v in self.trailers if k_v[0] not in _STATUS_KEYS))
        return pairs

    def details_bin(self) -> bytes | None:
        for key, value in self.trailers:
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                return value
        return None


_STATUS_KEYS = frozenset({"grpc-status", "grpc-message"})


def header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(k, v) for k, v in items]
