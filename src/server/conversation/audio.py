"""PCM16 helpers: conversion, resampling, WAV reading. Internally the pipeline runs at 16 kHz."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt

PIPELINE_RATE = 16_000
SUPPORTED_RATES = (8_000, 16_000)

Pcm = npt.NDArray[np.int16]


def pcm_from_bytes(data: bytes) -> Pcm:
    return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)


def duration_ms(samples: int, rate: int) -> float:
    return samples * 1000.0 / rate


class Upsampler:
    """Streaming 8 kHz -> 16 kHz by linear interpolation; keeps one sample across chunks.

    Telephone audio has no content above 4 kHz, so interpolation loses nothing the
    recogniser could use; a 16 kHz session passes through unchanged.
    """

    def __init__(self, source_rate: int) -> None:
        if source_rate not in SUPPORTED_RATES:
            raise ValueError(f"unsupported sample rate {source_rate}")
        self.factor = PIPELINE_RATE // source_rate
        self._last = 0.0

    def __call__(self, pcm: Pcm) -> Pcm:
        if self.factor == 1 or len(pcm) == 0:
            return pcm
        x = pcm.astype(np.float32)
        prev = np.concatenate(([self._last], x[:-1]))
        self._last = float(x[-1])
        out = np.empty(len(x) * 2, dtype=np.float32)
        out[0::2] = (prev + x) / 2  # the half-way sample before each input sample
        out[1::2] = x
        return out.astype(np.int16)


def resample(pcm: Pcm, source: int, target: int) -> Pcm:
    """Resample a whole buffer: windowed-sinc low-pass when going down, then interpolation."""
    if source == target or len(pcm) == 0:
        return pcm
    x = pcm.astype(np.float64)
    if target < source:
        cutoff = 0.45 * target / source  # of the source rate; a little under Nyquist
        taps = 63
        n = np.arange(taps) - (taps - 1) / 2
        kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
        kernel /= kernel.sum()
        x = np.convolve(x, kernel, mode="same")
    count = round(len(x) * target / source)
    positions = np.arange(count) * (source / target)
    y = np.interp(positions, np.arange(len(x)), x)
    out: Pcm = np.clip(np.round(y), -32768, 32767).astype(np.int16)
    return out


def read_audio_file(data: bytes, raw_rate: int = PIPELINE_RATE) -> tuple[Pcm, int]:
    """A WAV (PCM16 mono) or headerless PCM16 file -> (samples, sample rate)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2:
                raise ValueError("only 16-bit PCM WAV files are supported")
            frames = w.readframes(w.getnframes())
            pcm = pcm_from_bytes(frames)
            if w.getnchannels() > 1:
                pcm = pcm.reshape(-1, w.getnchannels())[:, 0].copy()
            return pcm, w.getframerate()
    if len(data) % 2:
        data = data[:-1]
    return pcm_from_bytes(data), raw_rate


def wav_bytes(pcm: Pcm, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()
