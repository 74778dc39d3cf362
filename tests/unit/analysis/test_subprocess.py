"""Subprocess analyzers: input fed once to a slow reader, deadlines that kill the whole process
group, clear errors, and the same OCR job twenty times in a row through the scheduler."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from realtime.server.analysis.analyzers import ocr
from realtime.server.analysis.analyzers.base import AnalysisInput, Cancelled, CancelToken
from realtime.server.analysis.analyzers.proc import run_child
from realtime.server.analysis.analyzers.registry import builtin_registry
from realtime.server.analysis.backend import MemoryBackend
from realtime.server.analysis.model import JobState
from realtime.server.analysis.scheduler import Scheduler, SchedulerConfig
from realtime.server.platform.auth import Principal
from realtime.server.platform.errors import Code, HubError

from .images import photo, photo_jpeg, png_bytes
from .test_analyzers import SCREENSHOT

ALICE = Principal("alice", frozenset(), 0.0)
SLOW_READER = "import sys, time; time.sleep(0.5); print(len(sys.stdin.buffer.read()))"


def _gone(pid: int) -> bool:
    """True once `pid` is dead (absent, or a zombie waiting for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(pid: int) -> None:
    for _ in range(500):
        if _gone(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive")


def test_a_slow_reader_gets_all_of_a_big_input() -> None:
    data = os.urandom(3 * 1024 * 1024)  # far over the 64 KiB pipe buffer
    for _ in range(2):
        out = run_child([sys.executable, "-c", SLOW_READER], data, CancelToken(), timeout=30)
        assert int(out) == len(data)


def test_timeout_kills_the_process_group_and_says_deadline_exceeded(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    with pytest.raises(HubError) as err:
        run_child(["sh", "-c", script], b"", CancelToken(), timeout=0.5)
    assert err.value.code == Code.DEADLINE_EXCEEDED and err.value.reason == "ANALYZER_TIMEOUT"
    assert "sh did not finish within 0.5s" in err.value.message
    _wait_gone(int(pidfile.read_text()))  # the helper the program started died with it


def test_a_child_that_never_reads_its_input_times_out_instead_of_hanging() -> None:
    with pytest.raises(HubError) as err:
        run_child(["sleep", "60"], os.urandom(1024 * 1024), CancelToken(), timeout=0.5)
    assert err.value.code == Code.DEADLINE_EXCEEDED


def test_cancel_stops_the_child(tmp_path: Path) -> None:
    token = CancelToken()
    pidfile = tmp_path / "pid"

    threading.Timer(0.3, token.cancel, args=("user",)).start()
    with pytest.raises(Cancelled):
        run_child(["sh", "-c", f"echo $$ > {pidfile}; sleep 60"], b"", token, timeout=30)
    _wait_gone(int(pidfile.read_text()))


def test_failure_carries_the_programs_reason_and_stderr() -> None:
    with pytest.raises(HubError) as err:
        run_child(
            ["sh", "-c", "cat >/dev/null; echo 'bad image' >&2; exit 3"],
            b"x" * 200_000,
            CancelToken(),
            timeout=30,
            failure_reason="OCR_FAILED",
        )
    assert err.value.code == Code.INTERNAL and err.value.reason == "OCR_FAILED"
    assert err.value.message == "sh failed: bad image"
    assert err.value.metadata["exit_status"] == "3"


def test_a_flood_of_output_does_not_block_the_child() -> None:
    out = run_child(["sh", "-c", "head -c 5000000 /dev/zero"], b"", CancelToken(), timeout=30)
    assert len(out) == 5_000_000


@pytest.fixture
def slow_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tesseract that starts reading its stdin late, as it does on a loaded machine."""
    real = shutil.which("tesseract")
    assert real is not None
    wrapper = tmp_path / "tesseract"
    wrapper.write_text(f'#!/bin/sh\nsleep 0.4\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("REALTIME_TESSERACT", str(wrapper))


def _screenshot_on_a_photo() -> Image.Image:
    shot = Image.open(SCREENSHOT).convert("RGB")
    canvas = photo(shot.width, shot.height + 400)
    canvas.paste(shot, (0, 0))
    return canvas


def test_ocr_with_a_slow_reader_reads_a_big_png(slow_tesseract: None) -> None:
    img = _screenshot_on_a_photo()
    prepared, _ = ocr.prepare(img)
    assert len(png_bytes(prepared)) > 64 * 1024  # the size that used to hang
    direct = ocr.recognize(Image.open(SCREENSHOT).convert("RGB"), CancelToken(), timeout=30)
    for _ in range(2):
        found = ocr.recognize(img, CancelToken(), timeout=30)
        assert direct.lines[0].text in found.text


def test_ocr_timeout_is_deadline_exceeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = tmp_path / "tesseract"
    stuck.write_text("#!/bin/sh\nsleep 60\n")
    stuck.chmod(0o755)
    monkeypatch.setenv("REALTIME_TESSERACT", str(stuck))
    with pytest.raises(HubError) as err:
        ocr.recognize(Image.open(SCREENSHOT).convert("RGB"), CancelToken(), timeout=0.5)
    assert err.value.code == Code.DEADLINE_EXCEEDED and err.value.reason == "ANALYZER_TIMEOUT"


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    s = Scheduler(MemoryBackend(), builtin_registry(), SchedulerConfig(concurrency=2, job_timeout=60))
    s.start()
    yield s
    await s.stop()


async def _run(
    s: Scheduler, analyzer: str, data: AnalysisInput, options: dict[str, object]
) -> dict[str, object]:
    job = await s.submit("alice", analyzer, data, options)
    done = await s.wait(job.id, ALICE, 60)
    assert done.job_state == JobState.SUCCEEDED, (analyzer, done.error)
    assert done.result is not None
    return done.result


async def test_the_same_ocr_job_twenty_times_in_a_row(scheduler: Scheduler) -> None:
    data = AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png")
    texts = set()
    for _ in range(20):
        result = await _run(scheduler, "image.inspect", data, {})
        ocr_part = result["ocr"]
        assert isinstance(ocr_part, dict) and ocr_part["available"] is True
        texts.add(ocr_part["text"])
    assert len(texts) == 1 and "" not in texts  # every run read the same lines


EVERY_ANALYZER = {
    "image.inspect": (AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png"), {}),
    "image.optimize": (AnalysisInput(data=photo_jpeg(800, 600), content_type="image/jpeg"), {}),
    "screenshot.suggest": (AnalysisInput(data=SCREENSHOT.read_bytes(), content_type="image/png"), {}),
    "text.inspect": (AnalysisInput(text="Hello world. Shalom olam!", content_type="text/plain"), {}),
}


def test_every_builtin_analyzer_is_covered() -> None:
    assert set(builtin_registry().names) == set(EVERY_ANALYZER)


@pytest.mark.parametrize("name", sorted(EVERY_ANALYZER))
async def test_every_analyzer_runs_the_same_job_twice(scheduler: Scheduler, name: str) -> None:
    data, options = EVERY_ANALYZER[name]
    first = await _run(scheduler, name, data, options)
    second = await _run(scheduler, name, data, options)
    assert set(first) == set(second)
