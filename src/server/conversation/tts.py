"""Text to speech: the interface and eSpeak NG (from `espeakng-loader`) driven through ctypes.

libespeak-ng is one global state per process, so every call goes through one thread
(serialised) and the voice and rate are set before each sentence.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .audio import Pcm, pcm_from_bytes

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
MAX_TEXT_CHARS = 2000

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass
class Speech:
    pcm: Pcm
    sample_rate: int
    engine: str = "espeak"  # the engine that really spoke
    fallback_reason: str = ""  # set when a hosted engine failed and the local one answered


class TextToSpeech(Protocol):
    name: str

    async def synthesize(self, text: str, voice: str, rate_wpm: int) -> Speech:
        """Speak `text`; the result is at the engine's own rate (the caller resamples)."""
        ...


class _Espeak:
    """The process-wide library handle; use only from the engine's one thread."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib: Any = ctypes.CDLL(espeakng_loader.get_library_path())
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        # The data folder must go to espeak_Initialize itself (a separate path call fails).
        data = espeakng_loader.get_data_path().encode()
        self.rate = int(lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.rate <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._on_audio)  # kept referenced for the library
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: Any, count: int, events: Any) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def speak(self, text: str, voice: str, rate_wpm: int) -> bytes:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"unknown voice {voice!r}")
        self.lib.espeak_SetParameter(ESPEAK_RATE, int(rate_wpm), 0)
        self._chunks = []
        data = text.encode() + b"\0"
        if self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None) != 0:
            raise RuntimeError("espeak_Synth failed")
        self.lib.espeak_Synchronize()
        out, self._chunks = b"".join(self._chunks), []
        return out


_lock = threading.Lock()
_library: _Espeak | None = None


def _library_instance() -> _Espeak:
    global _library
    with _lock:
        if _library is None:
            _library = _Espeak()
        return _library


class EspeakTts:
    name = "espeak"

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="espeak")

    def _speak(self, text: str, voice: str, rate_wpm: int) -> Speech:
        lib = _library_instance()
        with _lock:  # several hubs in one process (tests) share the one library
            raw = lib.speak(text, voice, rate_wpm)
        return Speech(pcm_from_bytes(raw).copy() if raw else np.zeros(0, np.int16), lib.rate)

    async def synthesize(self, text: str, voice: str, rate_wpm: int) -> Speech:
        text = " ".join(text.split())[:MAX_TEXT_CHARS]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._speak, text, voice, rate_wpm)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
