"""G.711 µ-law and A-law (ITU-T G.711) with numpy lookup tables (audioop left Python in 3.13).

Decoding maps each byte through a 256-entry table; encoding maps each int16 sample through
a 65,536-entry table built once at import from the reference algorithm.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .audio import Pcm

ENCODINGS = ("MULAW", "ALAW")
_BIAS = 0x84
_CLIP = 32635


def _mulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _mulaw_encode_table() -> npt.NDArray[np.uint8]:
    s = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(s < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(s), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    table: npt.NDArray[np.uint8] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return table


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    s = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13-bit
    mask = np.where(s >= 0, 0xD5, 0x55)
    v = np.where(s >= 0, s, -s - 1)
    ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    seg = np.searchsorted(ends, v)  # the first segment whose end is >= v
    shifted = np.where(seg < 2, v >> 1, v >> np.maximum(seg, 1)) & 0x0F
    aval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | shifted)
    return (aval ^ mask).astype(np.uint8)


_DECODE = {"MULAW": _mulaw_decode_table(), "ALAW": _alaw_decode_table()}
_ENCODE = {"MULAW": _mulaw_encode_table(), "ALAW": _alaw_encode_table()}


def decode(encoding: str, data: bytes) -> Pcm:
    """G.711 bytes (one per sample) to int16 samples."""
    return _DECODE[encoding][np.frombuffer(data, dtype=np.uint8)]


def encode(encoding: str, pcm: Pcm) -> bytes:
    """int16 samples to G.711 bytes."""
    return bytes(_ENCODE[encoding][pcm.astype(np.int32) + 32768].tobytes())
