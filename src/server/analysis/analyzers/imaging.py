"""Safe image decoding shared by the image analyzers.

Decompression bombs are refused from the header (before any pixel is decoded):
at most `MAX_PIXELS` pixels and `MAX_SIDE` per side. Truncated or corrupt data
is INVALID_ARGUMENT, never a crash. EXIF orientation is applied, so what the
analyzers see is what a viewer shows.

A process-wide budget (`BUDGET`, `analysis_decode_pixels`, default 40 M, the largest image allowed) bounds
the pixels decoded and held at once by all running analyzers: a job reserves its
image's width x height before decoding and keeps the reservation until its
analyzer returns (the local runner opens a `BUDGET.scope()` around each run).
A job whose image does not fit waits (cancellable) until others release theirs;
one image larger than the whole budget runs alone. So a flood of allowed images
that decode huge from a few KB (a 36-megapixel PNG of 4 KB) costs at most the
budget, not concurrency x image size.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import threading
import warnings
from collections.abc import Callable, Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from ...platform.errors import invalid_argument
from .base import CancelToken

MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


class DecodeBudget:
    """Pixels decoded and held at once by this process's analyzers (see the module doc)."""

    def __init__(self, pixels: int) -> None:
        self.capacity = pixels
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._local = threading.local()

    def configure(self, pixels: int) -> None:
        with self._cond:
            self.capacity = pixels
            self._cond.notify_all()

    def acquire(self, pixels: int, cancel: CancelToken | None = None) -> None:
        """Wait until `pixels` fit (or nothing else is held); raises Cancelled when cancelled."""
        with self._cond:
            while self.capacity > 0 and self.used > 0 and self.used + pixels > self.capacity:
                if cancel is not None:
                    cancel.check()
                self._cond.wait(0.05)
            self.used += pixels
            self.peak = max(self.peak, self.used)

    def release(self, pixels: int) -> None:
        with self._cond:
            self.used -= pixels
            self._cond.notify_all()

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Reservations made on this thread inside the block are released when it ends."""
        held: list[int] = []
        outer = getattr(self._local, "held", None)
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = outer
            if held:
                _trim()  # give the freed pixel memory back before the next job may take its place
                self.release(sum(held))

    @contextlib.contextmanager
    def hold(self, pixels: int, cancel: CancelToken | None) -> Iterator[None]:
        """Reserve `pixels` for the enclosing scope (or, outside any scope, for this block)."""
        self.acquire(pixels, cancel)
        held: list[int] | None = getattr(self._local, "held", None)
        if held is not None:
            held.append(pixels)
            yield
            return
        try:
            yield
        finally:
            self.release(pixels)


def _load_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):
        return None  # not glibc: the allocator keeps its own policy


_MALLOC_TRIM = _load_trim()


def _trim() -> None:
    """Return freed heap to the OS. Pillow allocates pixels in 16 MiB blocks, under glibc's mmap
    threshold, so without this each pool thread's malloc arena keeps its last image's memory
    and RSS grows to threads x largest image, whatever the budget."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


BUDGET = DecodeBudget(40_000_000)


def open_header(data: bytes) -> Image.Image:
    """Parse the header only and check the size limits (cheap: no pixel decoding)."""
    if not data:
        raise invalid_argument("the image is empty", [("input.data", "empty")], reason="CORRUPT_IMAGE")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise invalid_argument(
            f"the data is not a readable image: {exc}",
            [("input.data", "not an image")],
            reason="CORRUPT_IMAGE",
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(0, 0) from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise invalid_argument(
            "the image has no pixels", [("input.data", "0 pixels")], reason="CORRUPT_IMAGE"
        )
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise _too_large(width, height)
    return img


def _too_large(width: int, height: int) -> Exception:
    return invalid_argument(
        f"the image is too large ({width}x{height}); at most {MAX_PIXELS:,} pixels and {MAX_SIDE} per side",
        [("input.data", "decompression bomb or oversize image")],
        reason="IMAGE_TOO_LARGE",
    )


def decode(data: bytes, cancel: CancelToken | None = None) -> tuple[Image.Image, str, bool]:
    """Fully decode with limits, within the decode budget; returns (RGB or RGBA image, source
    format, had EXIF).

    The returned image is upright (EXIF orientation applied) and carries no metadata.
    """
    img = open_header(data)
    with BUDGET.hold(img.width * img.height, cancel):
        return _decode(img)


def _decode(img: Image.Image) -> tuple[Image.Image, str, bool]:
    fmt = img.format or ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            exif = img.getexif()
            had_exif = len(exif) > 0
            img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise invalid_argument(
            f"the image is truncated or corrupt: {exc}",
            [("input.data", "cannot decode")],
            reason="CORRUPT_IMAGE",
        ) from None
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")
    img.info.clear()
    return img, fmt, had_exif
