"""Text in images through the Tesseract binary (Debian `tesseract-ocr`, `-eng`, `-heb`).

Runs `tesseract` as a subprocess through `proc.run_child` (it is a separate
program, so OCR never holds the GIL): the image is fed once, the job's
cancellation token is polled while it works, and its process group is killed on
cancel or timeout. When Tesseract or a language is missing, `available()` says
why, and the analyzers report the OCR phase as unavailable instead of failing.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from ...platform.errors import Code, HubError
from .base import CancelToken
from .proc import run_child

DEFAULT_LANGUAGES = ("eng", "heb")
TIMEOUT = 60.0


@functools.cache
def _installed_languages(binary: str) -> frozenset[str]:
    try:
        out = subprocess.run(
            [binary, "--list-langs"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


def binary() -> str | None:
    return os.environ.get("REALTIME_TESSERACT") or shutil.which("tesseract")


def available(languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> tuple[bool, str]:
    """(True, "") when OCR can run with `languages`; else (False, why)."""
    found = binary()
    if found is None:
        return False, "tesseract is not installed (Debian package tesseract-ocr)"
    missing = [lang for lang in languages if lang not in _installed_languages(found)]
    if missing:
        return False, "tesseract language data missing: " + ", ".join(f"tesseract-ocr-{m}" for m in missing)
    return True, ""


@dataclass
class OcrLine:
    text: str
    confidence: float
    box: tuple[int, int, int, int]  # left, top, width, height (in the analysed image's pixels)


@dataclass
class OcrResult:
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[str]:
        return [w for line in self.lines for w in line.text.split()]


def prepare(img: Image.Image) -> tuple[Image.Image, float]:
    """Grayscale, and upscale small images (Tesseract wants ~30 px tall glyphs). Returns (image, scale)."""
    gray = ImageOps.grayscale(img)
    scale = 1.0
    if gray.height < 1200:
        scale = min(3.0, 1200 / gray.height)
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)), Image.Resampling.LANCZOS)
    return gray, scale


def recognize(
    img: Image.Image,
    cancel: CancelToken,
    languages: tuple[str, ...] = DEFAULT_LANGUAGES,
    timeout: float = TIMEOUT,
) -> OcrResult:
    """OCR `img`; raises `Cancelled` on cancel, HubError when Tesseract fails or times out (see proc.py)."""
    exe = binary()
    if exe is None:
        raise HubError(Code.FAILED_PRECONDITION, "tesseract is not installed", reason="OCR_UNAVAILABLE")
    prepared, scale = prepare(img)
    buf = io.BytesIO()
    prepared.save(buf, "PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread each: jobs already run in parallel
    out = run_child(
        [exe, "stdin", "stdout", "-l", "+".join(languages), "--psm", "3", "tsv"],
        buf.getvalue(),
        cancel,
        timeout=timeout,
        env=env,
        failure_reason="OCR_FAILED",
    )
    return parse_tsv(out.decode("utf-8", errors="replace"), scale)


def parse_tsv(tsv: str, scale: float = 1.0) -> OcrResult:
    """Group Tesseract's TSV words into lines (words with confidence < 0 are layout rows)."""
    lines: dict[tuple[int, int, int, int], list[tuple[str, float, int, int, int, int]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        try:
            conf = float(row.get("conf") or -1)
        except ValueError:
            continue
        if not text or conf < 0:
            continue
        key = (int(row["page_num"]), int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        box = (int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
        lines.setdefault(key, []).append((text, conf, *box))
    result = OcrResult()
    for words in lines.values():
        left = min(w[2] for w in words)
        top = min(w[3] for w in words)
        right = max(w[2] + w[4] for w in words)
        bottom = max(w[3] + w[5] for w in words)
        result.lines.append(
            OcrLine(
                " ".join(w[0] for w in words),
                round(sum(w[1] for w in words) / len(words), 1),
                (
                    round(left / scale),
                    round(top / scale),
                    round((right - left) / scale),
                    round((bottom - top) / scale),
                ),
            )
        )
    result.lines.sort(key=lambda line: (line.box[1], line.box[0]))
    return result
