"""Speech to text: the streaming interface and the pocketsphinx engine on a process pool.

A worker process holds several decoders ("slots"); an utterance is pinned to one slot of
one worker for its whole life, because a pocketsphinx decoder is stateful. Each worker is
driven through its own one-thread executor, so requests to it are sent in order and the
event loop never blocks on a pipe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ..platform.errors import unavailable

log = logging.getLogger("realtime.conversation")


@dataclass
class Hypothesis:
    text: str
    confidence: float
    fallback_reason: str = ""  # set when a hosted recogniser failed and the offline one answered


class SttStream(Protocol):
    """One utterance. Calls are made in order by one task."""

    async def feed(self, pcm: bytes, want_partial: bool) -> str | None:
        """Add 16 kHz PCM16; return the partial transcript when asked (None otherwise)."""
        ...

    async def finish(self, pcm: bytes) -> Hypothesis:
        """Add the last audio and return the final transcript."""
        ...

    async def abort(self) -> None:
        """Drop the utterance (never raises)."""
        ...


class SpeechToText(Protocol):
    name: str

    async def open(self, pre_roll: bytes) -> SttStream:
        """Start an utterance with the audio from just before speech was detected."""
        ...


class _Worker:
    def __init__(self, index: int, slots: int, options: dict[str, Any], prewarm: int = 1) -> None:
        self.index = index
        self.slots = slots
        self.prewarm = prewarm
        self.options = options
        self.free = list(range(slots))
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"stt-worker-{index}")
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None

    def spawn(self) -> None:
        """Start the process and wait for its first decoder (blocking; runs in the executor).

        A plain `python -m ...stt_worker` child on one end of a socket pair: unlike
        multiprocessing's spawn it does not re-import the parent's main module (the whole
        server), and unlike fork it is safe beside gRPC's threads.
        """
        parent, child = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "realtime.server.conversation.stt_worker",
                    str(child.fileno()),
                    str(self.slots),
                    json.dumps(self.options),
                    str(self.prewarm),
                ],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        try:
            status, message, _ = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise RuntimeError(f"speech worker failed to start: {exc}") from exc
        if status != "ready":
            self.stop()
            raise RuntimeError(f"speech worker failed to start: {message}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def call(self, request: tuple[str, str, int, bytes, bool]) -> tuple[str, str, float]:
        """Send one request and wait for its reply (blocking; runs in the worker's executor).

        A dead worker is replaced; the utterances it held fail once, and a `start` is retried
        on the replacement, so the next utterance works.
        """
        for attempt in (1, 2):
            if self.conn is None or not self.alive():
                self.stop()
                self.spawn()
                if request[0] != "start":
                    return ("error", "speech worker restarted", 0.0)
            assert self.conn is not None
            try:
                self.conn.send(request)
                reply: tuple[str, str, float] = self.conn.recv()
                return reply
            except (EOFError, OSError) as exc:
                self.stop()  # it may not be reaped yet: never write to its pipe again
                if request[0] != "start" or attempt == 2:
                    return ("error", f"speech worker died: {exc}", 0.0)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(("stop", "", 0, b"", False))
                if self.conn.poll(2.0):
                    self.conn.recv()
            except (EOFError, OSError):
                pass
            self.conn.close()
            self.conn = None
        if self.process is not None:
            try:
                self.process.wait(3.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(3.0)
            self.process = None


class PocketsphinxPool:
    """Pocketsphinx decoders in worker processes (`open` waits while every slot is busy)."""

    name = "pocketsphinx"

    def __init__(
        self, workers: int = 2, decoders_per_worker: int = 4, prewarm: int = 1, **options: Any
    ) -> None:
        self._workers = [
            _Worker(i, max(1, decoders_per_worker), options, prewarm) for i in range(max(1, workers))
        ]
        self._slot_freed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._started: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> asyncio.Task[None]:
        """Spawn the workers in the background (idempotent); `open` waits for it."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._spawn_all())
        return self._started

    async def _spawn_all(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(w.executor, w.spawn) for w in self._workers))

    @property
    def busy_slots(self) -> int:
        return sum(w.slots - len(w.free) for w in self._workers)

    async def call(self, worker: _Worker, request: tuple[str, str, int, bytes, bool]) -> tuple[str, float]:
        if self._closed:
            # After close() queued the workers' stop, a late request (an abort from a call that
            # is being torn down) would make _Worker.call spawn a replacement nobody stops.
            raise unavailable("speech recognition is shutting down", reason="STT_UNAVAILABLE")
        loop = asyncio.get_running_loop()
        status, text, confidence = await loop.run_in_executor(worker.executor, worker.call, request)
        if status != "ok":
            raise unavailable(f"speech recognition failed: {text}", reason="STT_FAILED")
        return text, confidence

    async def open(self, pre_roll: bytes) -> _PocketsphinxStream:
        if self._closed:
            raise unavailable("speech recognition is shutting down", reason="STT_UNAVAILABLE")
        try:
            await self.start()
        except Exception as exc:
            self._started = None  # the next utterance tries again
            log.exception("speech workers failed to start")
            raise unavailable(f"speech recognition is unavailable: {exc}", reason="STT_UNAVAILABLE") from exc
        async with self._slot_freed:
            while True:
                worker = max(self._workers, key=lambda w: len(w.free))
                if worker.free:
                    slot = min(worker.free)  # low slots first: their decoders are already loaded
                    worker.free.remove(slot)
                    break
                await self._slot_freed.wait()
        stream = _PocketsphinxStream(self, worker, slot, f"u{next(self._ids)}")
        try:
            await self.call(worker, ("start", stream.utt, slot, pre_roll, False))
        except BaseException:
            await self._release(worker, slot)
            raise
        return stream

    async def _release(self, worker: _Worker, slot: int) -> None:
        async with self._slot_freed:
            worker.free.append(slot)
            self._slot_freed.notify()

    async def close(self) -> None:
        """Stop every worker process (the hub's on_stop hook)."""
        self._closed = True
        if self._started is not None:
            await asyncio.gather(self._started, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(w.executor, w.stop) for w in self._workers))
        for w in self._workers:
            w.executor.shutdown(wait=True)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None]


class _PocketsphinxStream:
    def __init__(self, pool: PocketsphinxPool, worker: _Worker, slot: int, utt: str) -> None:
        self._pool = pool
        self._worker = worker
        self._slot = slot
        self.utt = utt
        self._open = True

    async def feed(self, pcm: bytes, want_partial: bool) -> str | None:
        text, _ = await self._pool.call(self._worker, ("feed", self.utt, self._slot, pcm, want_partial))
        return text if want_partial else None

    async def finish(self, pcm: bytes) -> Hypothesis:
        try:
            text, confidence = await self._pool.call(self._worker, ("end", self.utt, self._slot, pcm, False))
        finally:
            await self._close()
        return Hypothesis(text, confidence)

    async def abort(self) -> None:
        if not self._open:
            return
        try:
            # Shielded: the abort must reach the worker even when the caller is being cancelled.
            await asyncio.shield(self._pool.call(self._worker, ("abort", self.utt, self._slot, b"", False)))
        except Exception:
            log.debug("abort of %s failed", self.utt, exc_info=True)
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._open:
            self._open = False
            await self._pool._release(self._worker, self._slot)
