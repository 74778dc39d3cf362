"""Live content analysis (AnalyzeStream): rolling results over a stream of chunks.

- Text: chunks are appended; each result is text.inspect over the newest
  `WINDOW` characters (older text scrolls out, so cost per chunk is bounded).
- Image frames: each frame is described (size, brightness, sharpness, colours,
  dHash) and compared with the previous frame (Hamming distance of the hashes),
  so a client sees when the picture changed. No OCR per frame (too slow for a
  live feed; submit a job for that).

Plain Python; the service runs `add_*` in a worker thread.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..platform.errors import invalid_argument
from .analyzers.image_inspect import describe, hamming
from .analyzers.imaging import decode
from .analyzers.text_inspect import inspect_text

WINDOW = 20_000
MAX_CHUNK = 256 * 1024
SAME_PICTURE_BITS = 10


@dataclass
class LiveSession:
    kind: str  # "text" | "image"
    clock: Callable[[], float] = time.time
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    chunks: int = 0
    bytes_received: int = 0
    started: float = 0.0
    last_chunk: float = 0.0
    _text: str = ""
    _last_hash: str = ""
    last_result: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def add_text(self, text: str) -> dict[str, Any]:
        if self.kind != "text":
            raise invalid_argument("this stream carries images; send image chunks", [("chunk", "text")])
        size = len(text.encode())
        if size > MAX_CHUNK:
            raise invalid_argument(
                f"a chunk may hold at most {MAX_CHUNK} bytes", [("chunk.text", f"{size} bytes")]
            )
        self._count(size)
        self._text = (self._text + text)[-WINDOW:]
        result = inspect_text(self._text)
        result["window_characters"] = len(self._text)
        self.last_result = result
        return result

    def add_image(self, data: bytes) -> dict[str, Any]:
        if self.kind != "image":
            raise invalid_argument("this stream carries text; send text chunks", [("chunk", "image")])
        if len(data) > MAX_CHUNK * 16:
            raise invalid_argument(
                "an image frame may hold at most 4 MiB", [("chunk.image", f"{len(data)} bytes")]
            )
        img, fmt, _ = decode(data)  # raises INVALID_ARGUMENT for corrupt frames; the stream stays open
        self._count(len(data))
        result = describe(img, fmt)
        if self._last_hash:
            distance = hamming(self._last_hash, result["dhash"])
            result["changed_bits"] = distance
            result["same_as_previous"] = distance <= SAME_PICTURE_BITS
        self._last_hash = result["dhash"]
        self.last_result = result
        return result

    def _count(self, size: int) -> None:
        self.chunks += 1
        self.bytes_received += size
        self.last_chunk = self.clock()
