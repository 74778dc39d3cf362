"""Safe image decoding shared by the image analyzers.

Decompression bombs are refused from the header (before any pixel is decoded):
at most `MAX_PIXELS` pixels and `MAX_SIDE` per side. Truncated or corrupt data
is INVALID_ARGUMENT, never a crash. EXIF orientation is applied, so what the
analyzers see is what a viewer shows.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ...platform.errors import invalid_argument

MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


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


def decode(data: bytes) -> tuple[Image.Image, str, bool]:
    """Fully decode with limits; returns (RGB or RGBA image, source format, had EXIF).

    The returned image is upright (EXIF orientation applied) and carries no metadata.
    """
    img = open_header(data)
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
