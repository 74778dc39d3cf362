"""The built-in analyzers on real images and text (Pillow pictures, tests/data/chat_screenshot.png)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from realtime.server.analysis.analyzers import ocr
from realtime.server.analysis.analyzers.base import AnalysisInput, Analyzer, Cancelled, CancelToken
from realtime.server.analysis.analyzers.image_inspect import ImageInspect, hamming
from realtime.server.analysis.analyzers.image_optimize import ImageOptimize
from realtime.server.analysis.analyzers.registry import Registry, builtin_registry
from realtime.server.analysis.analyzers.screenshot_suggest import ScreenshotSuggest, validate_suggestions
from realtime.server.analysis.analyzers.text_inspect import TextInspect, inspect_text
from realtime.server.platform.errors import Code, HubError

from .images import bomb_png, photo, photo_jpeg, png_bytes, truncated_png

SCREENSHOT = Path(__file__).resolve().parents[2] / "data" / "chat_screenshot.png"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def phase(self, name: str, fraction: float = 0.0) -> None:
        self.calls.append(("phase", name))

    def update(self, fraction: float) -> None:
        self.calls.append(("update", fraction))

    def partial(self, data: Mapping[str, Any]) -> None:
        self.calls.append(("partial", dict(data)))

    def unavailable(self, name: str, reason: str) -> None:
        self.calls.append(("unavailable", name))

    @property
    def phases(self) -> list[str]:
        return [v for k, v in self.calls if k == "phase"]


def run(
    analyzer: Analyzer, data: AnalysisInput, options: dict[str, Any] | None = None
) -> tuple[Any, Recorder]:
    options = options or {}
    analyzer.validate(data, options)
    rec = Recorder()
    return analyzer.run(data, options, rec, CancelToken()), rec


def jpeg(data: bytes) -> AnalysisInput:
    return AnalysisInput(data=data, content_type="image/jpeg")


def test_optimize_reaches_the_seed_reduction_and_strips_exif() -> None:
    source = photo_jpeg(1600, 1200, exif_orientation=6)  # rotated 90 degrees by EXIF
    result, rec = run(ImageOptimize(), jpeg(source), {"max_side": 1024})
    d = result.data
    assert rec.phases == ["decode", "resize", "compress", "finalize"]
    assert d["target_met"] and d["reduction"] >= 0.6 and d["metadata_stripped"]
    assert (d["width"], d["height"]) == (768, 1024)  # upright after EXIF orientation 6, within max_side
    name, content_type, payload = result.artifacts[0]
    assert (name, content_type) == ("optimized", "image/webp") and len(payload) == d["optimized_bytes"]
    out = Image.open(io.BytesIO(payload))
    assert out.size == (768, 1024) and not out.getexif()


def test_optimize_byte_target_and_quality_floor() -> None:
    source = photo_jpeg(800, 600)
    result, _ = run(ImageOptimize(), jpeg(source), {"target_bytes": 30_000, "format": "jpeg"})
    assert result.data["optimized_bytes"] <= 30_000 and result.data["format"] == "jpeg"
    # An impossible target: the floor's output is returned and the miss is reported.
    floor, _ = run(ImageOptimize(), jpeg(source), {"target_bytes": 100, "min_quality": 50})
    assert floor.data["target_met"] is False and floor.data["quality"] == 50


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "INVALID_ARGUMENT"),  # empty binary input
        (b"definitely not an image", "CORRUPT_IMAGE"),
        (bomb_png(), "IMAGE_TOO_LARGE"),
    ],
)
def test_bad_images_are_refused_at_validation(data: bytes, reason: str) -> None:
    with pytest.raises(HubError) as bad:
        ImageOptimize().validate(AnalysisInput(data=data, content_type="image/png"), {})
    assert (bad.value.code, bad.value.reason) == (Code.INVALID_ARGUMENT, reason)


def test_truncated_image_fails_when_decoded() -> None:
    data = AnalysisInput(data=truncated_png(), content_type="image/png")
    ImageInspect().validate(data, {})  # the header is fine
    with pytest.raises(HubError) as bad:
        ImageInspect().run(data, {"ocr": False}, Recorder(), CancelToken())
    assert bad.value.reason == "CORRUPT_IMAGE"


def test_bad_options() -> None:
    data = jpeg(photo_jpeg(64, 64))
    for options in ({"format": "gif"}, {"min_quality": 90, "max_quality": 50}, {"max_side": "big"}, {"x": 1}):
        with pytest.raises(HubError):
            ImageOptimize().validate(data, options)


def test_inspect_measures_and_hashes() -> None:
    sharp = photo(400, 300)
    blurred = sharp.resize((40, 30)).resize((400, 300))
    a, _ = run(ImageInspect(), AnalysisInput(data=png_bytes(sharp), content_type="image/png"), {"ocr": False})
    b, _ = run(
        ImageInspect(), AnalysisInput(data=png_bytes(blurred), content_type="image/png"), {"ocr": False}
    )
    assert a.data["sharpness"] > 5 * b.data["sharpness"] and b.data["blurry"]
    assert hamming(a.data["dhash"], b.data["dhash"]) <= 10  # same picture
    other, _ = run(
        ImageInspect(),
        AnalysisInput(
            data=png_bytes(photo(400, 300).transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
            content_type="image/png",
        ),
        {"ocr": False},
    )
    assert hamming(a.data["dhash"], other.data["dhash"]) > 10
    assert len(a.data["dominant_colours"]) >= 3 and 0 < a.data["brightness"] < 255


def test_ocr_reads_hebrew_and_english_from_the_screenshot() -> None:
    assert ocr.available() == (True, "")
    result, rec = run(ImageInspect(), AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png"))
    text = result.data["ocr"]["text"]
    for word in ("Hello", "coffee", "tomorrow", "thanks", "שלום", "תודה", "טוב"):
        assert word in text, f"{word!r} not found in OCR text {text!r}"
    assert rec.phases == ["decode", "measure", "ocr"]


def test_ocr_unavailable_is_reported_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "binary", lambda: None)
    result, rec = run(ImageInspect(), AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png"))
    assert result.data["ocr"] == {
        "available": False,
        "reason": "tesseract is not installed (Debian package tesseract-ocr)",
    }
    assert ("unavailable", "ocr") in rec.calls


def test_ocr_is_cancellable() -> None:
    token = CancelToken()
    token.cancel("test")
    with pytest.raises(Cancelled):
        ocr.recognize(Image.open(SCREENSHOT).convert("RGB"), token)


def test_screenshot_suggest_end_to_end() -> None:
    result, rec = run(
        ScreenshotSuggest(), AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png")
    )
    assert rec.phases == ["image_analysis", "context", "generation", "validation"]
    partials = [v for k, v in rec.calls if k == "partial"]
    assert len(partials) == 5 and all(p["suggestion"] for p in partials)
    d = result.data
    assert len(d["suggestions"]) == 3
    assert d["context"]["language"] in ("en", "mixed")
    speakers = [m["speaker"] for m in d["context"]["messages"]]
    assert speakers == ["them", "me", "them", "me", "them"]  # the clock, battery and title are dropped
    # Deterministic: the same screenshot gives the same suggestions.
    again, _ = run(ScreenshotSuggest(), AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png"))
    assert again.data["suggestions"] == d["suggestions"]


def test_suggestion_validation() -> None:
    kept, dropped = validate_suggestions(
        ["Sure!", "sure", "You idiot", "x" * 300, "See you at 8"], frozenset({"idiot"}), 160
    )
    assert kept == ["Sure!", "See you at 8"]
    assert [d["reason"] for d in dropped] == ["duplicate", "blocked_word", "length"]


def test_text_inspect_findings() -> None:
    result, rec = run(
        TextInspect(), AnalysisInput(text="akuo  friend!!! the the x", content_type="text/plain")
    )
    d = result.data
    assert rec.phases == ["language", "findings", "statistics"]
    assert d["wrong_layout"][0]["replacement"] == "שלום"
    assert d["wrong_layout"][0]["source"] == "text-service"  # the text service's own layout operation
    assert [f["type"] for f in d["cleaning"]] == ["repeated_spaces", "repeated_punctuation", "repeated_word"]
    he = inspect_text("שלום לכולם, מה שלומכם היום? @dana #חדשות")
    assert he["language"]["code"] == "he" and he["language"]["direction"] == "rtl"
    assert he["mentions"][0]["text"] == "@dana" and he["hashtags"][0]["text"] == "#חדשות"
    assert inspect_text("")["language"]["code"] == "unknown"


def test_registry_loads_configured_analyzers() -> None:
    registry = builtin_registry()
    assert registry.names == ["image.inspect", "image.optimize", "screenshot.suggest", "text.inspect"]
    registry.load_spec("tests.unit.analysis.fakes:Echo")
    assert "test.echo" in registry.names
    with pytest.raises(ValueError):
        registry.load_spec("no-colon")
    with pytest.raises(HubError) as unknown:
        Registry().get("x")
    assert unknown.value.reason == "UNKNOWN_ANALYZER"


def test_text_inspect_without_the_text_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime.server.analysis.analyzers import text_inspect

    monkeypatch.setattr(text_inspect, "text_service_suggestions", lambda text: None)
    found = inspect_text("akuo friend, יקךךם")
    assert [(f["text"], f["replacement"]) for f in found["wrong_layout"]] == [
        ("akuo", "שלום"),
        ("יקךךם", "hello"),
    ]
    assert "source" not in found["wrong_layout"][0]
