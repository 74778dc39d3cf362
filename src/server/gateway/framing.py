"""gRPC and gRPC-Web framing, as pure functions over bytes (no grpc, no HTTP).

A frame is 1 flag byte + a 4-byte big-endian length + the payload. gRPC-Web
adds the trailer frame (flag 0x80) whose payload is an HTTP/1-style header
block. `FrameReader` parses frames from a byte stream that arrives in pieces
of any size (HTTP bodies, WebSocket messages), with a size cap checked before
any payload is buffered.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from ..platform.errors import Code, HubError

FLAG_DATA = 0x00
FLAG_COMPRESSED = 0x01
FLAG_TRAILER = 0x80
PREFIX = 5
_LEN = struct.Struct(">I")


def bad_frame(message: str) -> HubError:
    """A malformed request body: INTERNAL with a clear message (what gRPC servers answer)."""
    return HubError(Code.INTERNAL, message, reason="BAD_FRAME")


def too_large(size: int, limit: int) -> HubError:
    return HubError(
        Code.RESOURCE_EXHAUSTED,
        f"message of {size} bytes exceeds the limit of {limit} bytes",
        reason="MESSAGE_TOO_LARGE",
    )


@dataclass(frozen=True, slots=True)
class Frame:
    flag: int
    payload: bytes

    @property
    def is_trailer(self) -> bool:
        return bool(self.flag & FLAG_TRAILER)


def encode_frame(payload: bytes, flag: int = FLAG_DATA) -> bytes:
    return bytes((flag,)) + _LEN.pack(len(payload)) + payload


class FrameReader:
    """Incremental frame parser: `feed()` pieces of a byte stream, get whole frames back."""

    def __init__(self, max_payload: int) -> None:
        self._max = max_payload
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= PREFIX:
            flag = self._buf[0]
            (size,) = _LEN.unpack_from(self._buf, 1)
            if flag & ~(FLAG_COMPRESSED | FLAG_TRAILER):
                raise bad_frame(f"invalid frame flag 0x{flag:02x}")
            if size > self._max:
                raise too_large(size, self._max)
            if len(self._buf) < PREFIX + size:
                break
            payload = bytes(self._buf[PREFIX : PREFIX + size])
            del self._buf[: PREFIX + size]
            if flag & FLAG_COMPRESSED:
                raise HubError(
                    Code.UNIMPLEMENTED,
                    "compressed messages are not supported by the gateway; send uncompressed frames",
                    reason="COMPRESSION_UNSUPPORTED",
                )
            frames.append(Frame(flag, payload))
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered (non-zero at end of input = truncated)."""
        return len(self._buf)


class Base64Decoder:
    """Decodes a grpc-web-text body that arrives in pieces.

    Each write of a text server or client is base64 on its own, so padding
    (`=`) may occur mid-stream: decode quantum by quantum up to each padded one.
    """

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> bytes:
        data = self._buf + re.sub(rb"\s+", b"", data)
        usable = len(data) // 4 * 4
        self._buf = data[usable:]
        chunk = data[:usable]
        out = bytearray()
        while chunk:
            pad = chunk.find(b"=")
            end = len(chunk) if pad < 0 else (pad // 4 + 1) * 4
            try:
                out += base64.b64decode(chunk[:end], validate=True)
            except binascii.Error:
                raise bad_frame("grpc-web-text body is not valid base64") from None
            chunk = chunk[end:]
        return bytes(out)

    def finish(self) -> None:
        if self._buf:
            raise bad_frame("grpc-web-text body ends in the middle of a base64 quantum")


def encode_text(data: bytes) -> bytes:
    return base64.b64encode(data)


# Header blocks: "key: value\r\n" lines (gRPC-Web trailers, WebSocket request headers).

Pairs = Iterable[tuple[str, str]]


def encode_header_block(pairs: Pairs) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8")


def parse_header_block(data: bytes) -> list[tuple[str, str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_frame("header block is not UTF-8") from None
    pairs: list[tuple[str, str]] = []
    for line in text.split("\r\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise bad_frame(f"malformed header line {line[:40]!r}: expected 'name: value'")
        pairs.append((key.strip().lower(), value.strip()))
    return pairs


def trailer_frame(pairs: Pairs) -> bytes:
    return encode_frame(encode_header_block(pairs), FLAG_TRAILER)


# grpc-message is percent-encoded (gRPC over HTTP/2 spec): printable ASCII except '%' passes.
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def encode_grpc_message(message: str) -> str:
    return quote(message, safe=_SAFE)


def decode_grpc_message(value: str) -> str:
    return unquote(value)


_TIMEOUT = re.compile(r"^(\d{1,8})([HMSmun])$")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def parse_timeout(value: str) -> float:
    """`grpc-timeout` ("100m", "5S", ...) in seconds."""
    match = _TIMEOUT.match(value.strip())
    if match is None:
        raise bad_frame(f"malformed grpc-timeout {value[:20]!r}: expected 1-8 digits and a unit H/M/S/m/u/n")
    return int(match.group(1)) * _UNITS[match.group(2)]


def b64_header(value: bytes) -> str:
    """Binary (`-bin`) metadata for an HTTP header: unpadded base64, as gRPC emits it."""
    return base64.b64encode(value).decode("ascii").rstrip("=")


def b64_header_decode(value: str) -> bytes:
    """Decode `-bin` header values, padded or not (gRPC accepts both)."""
    text = value.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise bad_frame("a -bin metadata header is not valid base64") from None
