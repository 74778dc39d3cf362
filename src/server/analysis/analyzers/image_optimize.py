"""`image.optimize`: the seed's compression step.

Decode safely, honour EXIF orientation and strip metadata, downscale to fit
`max_side`, then binary-search the encoder quality (JPEG or WebP) for the
smallest setting that still meets the target: a byte budget (`target_bytes`)
or a size reduction (`target_ratio`, default 0.6 = the seed's 60 %), never
below `min_quality`. The best found is returned as the `optimized` artifact.

Options: format ("webp" | "jpeg" | "auto"), max_side (64-8192, default 2048),
target_ratio (0.05-0.95), target_bytes, min_quality (10-95, default 40),
max_quality (20-100, default 90).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from ...platform.errors import invalid_argument
from ..model import plan_from_ends
from .base import IMAGE_TYPES, AnalysisInput, Analyzer, AnalyzerResult, CancelToken, Progress, option
from .imaging import decode, open_header


def encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        rgb = img.convert("RGB") if img.mode != "RGB" else img
        rgb.save(out, "JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0")
    else:
        img.save(out, "WEBP", quality=quality, method=0)  # fastest effort: the search encodes ~6 times
    return out.getvalue()


class ImageOptimize(Analyzer):
    name = "image.optimize"
    input_types = IMAGE_TYPES
    phases = plan_from_ends([("decode", 15), ("resize", 30), ("compress", 95), ("finalize", 100)])
    options = frozenset({"format", "max_side", "target_ratio", "target_bytes", "min_quality", "max_quality"})

    def validate(self, data: AnalysisInput, options: Mapping[str, Any]) -> None:
        super().validate(data, options)
        self._settings(options, len(data.data))
        open_header(data.data)

    def _settings(self, options: Mapping[str, Any], size: int) -> dict[str, Any]:
        fmt = options.get("format", "auto")
        if fmt not in ("auto", "webp", "jpeg"):
            raise invalid_argument("format must be auto, webp or jpeg", [("options.format", repr(fmt))])
        lo = option(options, "min_quality", 40, int, 10, 95)
        hi = option(options, "max_quality", 90, int, 20, 100)
        if lo > hi:
            raise invalid_argument(
                "min_quality exceeds max_quality", [("options.min_quality", f"{lo} > {hi}")]
            )
        ratio = option(options, "target_ratio", 0.6, float, 0.05, 0.95)
        target = option(options, "target_bytes", 0, int, 0, 1 << 30)
        return {
            "format": fmt,
            "max_side": option(options, "max_side", 2048, int, 64, 8192),
            "min_quality": lo,
            "max_quality": hi,
            "ratio": ratio,
            "target": target or max(1, int(size * (1 - ratio))),
        }

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        s = self._settings(options, len(data.data))
        progress.phase("decode")
        img, source_format, had_exif = decode(data.data, cancel)
        original_size = img.size
        cancel.check()
        progress.phase("resize")
        if max(img.size) > s["max_side"]:
            img.thumbnail((s["max_side"], s["max_side"]), Image.Resampling.LANCZOS)
        cancel.check()
        progress.phase("compress")
        fmt = s["format"]
        if fmt == "auto":
            fmt = "webp"  # smaller than JPEG at equal quality and keeps alpha
        lo, hi = s["min_quality"], s["max_quality"]
        best: tuple[int, bytes] | None = None
        steps = 0
        # Binary search for the HIGHEST quality whose output fits the target.
        while lo <= hi:
            cancel.check()
            q = (lo + hi) // 2
            out = encode(img, fmt, q)
            steps += 1
            progress.update(min(0.95, steps / 7))
            if len(out) <= s["target"]:
                best = (q, out)
                lo = q + 1
            else:
                hi = q - 1
        met = best is not None
        if best is None:  # even the quality floor misses the target: keep the floor's output
            best = (s["min_quality"], encode(img, fmt, s["min_quality"]))
        progress.phase("finalize")
        quality, payload = best
        size = len(data.data)
        return AnalyzerResult(
            {
                "source_format": source_format,
                "format": fmt,
                "quality": quality,
                "original_bytes": size,
                "optimized_bytes": len(payload),
                "reduction": round(1 - len(payload) / size, 4) if size else 0.0,
                "target_bytes": s["target"],
                "target_met": met,
                "original_width": original_size[0],
                "original_height": original_size[1],
                "width": img.size[0],
                "height": img.size[1],
                "metadata_stripped": had_exif,
                "encode_attempts": steps,
            },
            [("optimized", "image/webp" if fmt == "webp" else "image/jpeg", payload)],
        )
