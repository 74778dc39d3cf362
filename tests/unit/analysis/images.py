"""Test images made with Pillow: photo-like (noisy gradients), with EXIF orientation, broken ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """A photo-like picture: smooth gradients, a few shapes, and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / max(1, width) * 6.0) * np.cos(y / max(1, height) * 3.0)
    g = 128 + 90 * np.cos((x + y) / max(1, width + height) * 9.0)
    b = 100 + 80 * np.sin(y / max(1, height) * 5.0 + 1)
    arr = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def photo_jpeg(width: int, height: int, quality: int = 95, exif_orientation: int | None = None) -> bytes:
    img = photo(width, height)
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        exif[0x010F] = "TestCam"  # Make: metadata that must be stripped
        kwargs["exif"] = exif.tobytes()
    img.save(out, "JPEG", quality=quality, **kwargs)
    return out.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def truncated_png() -> bytes:
    data = png_bytes(photo(200, 200))
    return data[: len(data) // 2]


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\0" + b"\0" * 16
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * 4))
        + chunk(b"IEND", b"")
    )
