"""`image.inspect`: what a screenshot or photo contains, cheaply and offline.

Dimensions and format, sharpness (variance of the Laplacian; low = blurred),
brightness (mean luminance 0-255), dominant colours, a 64-bit difference hash
(dHash) for duplicate detection (compare with Hamming distance; <= 10 bits
apart is "the same picture"), and text via Tesseract OCR (English and Hebrew).
If Tesseract is missing the `ocr` phase is reported as unavailable and the
result says why.

Options: ocr (bool, default true), languages (list, default ["eng", "heb"]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from ...platform.errors import invalid_argument
from ..model import plan_from_ends
from . import ocr
from .base import IMAGE_TYPES, AnalysisInput, Analyzer, AnalyzerResult, CancelToken, Progress
from .imaging import decode, open_header


def sharpness(gray: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian on a float grayscale array."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1] - 4 * gray[1:-1, 1:-1]
    return float(lap.var())


def dhash(img: Image.Image, size: int = 8) -> str:
    """Difference hash: 64 bits, as 16 hex digits."""
    small = np.asarray(img.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:0{size * size // 4}x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def dominant_colours(img: Image.Image, count: int = 5) -> list[dict[str, Any]]:
    small = img.convert("RGB")
    small.thumbnail((128, 128))
    quant = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette: list[int] = list(quant.getpalette() or [])
    total = small.width * small.height
    found = []
    colours: list[tuple[int, int]] = list(quant.getcolors() or [])  # type: ignore[arg-type]
    for n, index in sorted(colours, reverse=True):
        r, g, b = palette[index * 3 : index * 3 + 3]
        found.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(n / total, 4)})
    return found


def describe(img: Image.Image, source_format: str) -> dict[str, Any]:
    """Everything but OCR (also used per frame by live image streams)."""
    gray_img = img.convert("L")
    if max(gray_img.size) > 1024:
        gray_img.thumbnail((1024, 1024))
    gray = np.asarray(gray_img, dtype=np.float32)
    sharp = sharpness(gray)
    return {
        "width": img.width,
        "height": img.height,
        "format": source_format,
        "has_alpha": img.mode == "RGBA",
        "brightness": round(float(gray.mean()), 2),
        "contrast": round(float(gray.std()), 2),
        "sharpness": round(sharp, 2),
        "blurry": sharp < 100.0,
        "dominant_colours": dominant_colours(img),
        "dhash": dhash(img),
    }


def ocr_section(img: Image.Image, languages: tuple[str, ...], cancel: CancelToken) -> dict[str, Any]:
    ok, why = ocr.available(languages)
    if not ok:
        return {"available": False, "reason": why}
    found = ocr.recognize(img, cancel, languages)
    return {
        "available": True,
        "languages": list(languages),
        "text": found.text,
        "lines": [
            {"text": line.text, "confidence": line.confidence, "box": list(line.box)} for line in found.lines
        ],
        "word_count": len(found.words),
    }


def ocr_languages(options: Mapping[str, Any]) -> tuple[str, ...]:
    langs = options.get("languages", list(ocr.DEFAULT_LANGUAGES))
    if (
        not isinstance(langs, list)
        or not langs
        or not all(isinstance(x, str) and x.isalpha() and len(x) <= 16 for x in langs)
    ):
        raise invalid_argument(
            "languages must be a list of Tesseract language codes", [("options.languages", "")]
        )
    return tuple(langs)


class ImageInspect(Analyzer):
    name = "image.inspect"
    input_types = IMAGE_TYPES
    phases = plan_from_ends([("decode", 10), ("measure", 30), ("ocr", 100)])
    options = frozenset({"ocr", "languages"})

    def validate(self, data: AnalysisInput, options: Mapping[str, Any]) -> None:
        super().validate(data, options)
        ocr_languages(options)
        if not isinstance(options.get("ocr", True), bool):
            raise invalid_argument("ocr must be true or false", [("options.ocr", "")])
        open_header(data.data)

    def run(
        self, data: AnalysisInput, options: Mapping[str, Any], progress: Progress, cancel: CancelToken
    ) -> AnalyzerResult:
        progress.phase("decode")
        img, fmt, _ = decode(data.data, cancel)
        cancel.check()
        progress.phase("measure")
        result = describe(img, fmt)
        cancel.check()
        if options.get("ocr", True):
            langs = ocr_languages(options)
            ok, why = ocr.available(langs)
            if ok:
                progress.phase("ocr")
                result["ocr"] = ocr_section(img, langs, cancel)
            else:
                progress.unavailable("ocr", why)
                result["ocr"] = {"available": False, "reason": why}
        else:
            result["ocr"] = {"available": False, "reason": "disabled by options"}
        return AnalyzerResult(result)
