"""A small driver for Converse streams in tests: send commands, collect events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from realtime.client import Client
from realtime.v1 import common_pb2, conversation_pb2, conversation_pb2_grpc

pb = conversation_pb2
DATA = Path("/usr/share/pocketsphinx/test/data")
SERVICES = ("realtime.server.diagnostics.service", "realtime.server.conversation.service")
# Small pool, so each test hub is cheap on a shared 2-core machine.
FAST = {"stt_workers": 1, "stt_decoders_per_worker": 2, "idle_timeout_s": 20.0}


def goforward() -> bytes:
    return (DATA / "goforward.raw").read_bytes()


def chunks(data: bytes, rate: int = 16_000, chunk_ms: int = 20) -> list[bytes]:
    size = rate * 2 * chunk_ms // 1000
    return [data[i : i + size] for i in range(0, len(data), size)]


def start(rate: int = 16_000, chunk_ms: int = 20, **kw: Any) -> pb.ConverseRequest:
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_PCM16LE, sample_rate_hz=rate, chunk_ms=chunk_ms)
    return pb.ConverseRequest(id="start", start=pb.StartCommand(format=fmt, **kw))


def audio(seq: int, data: bytes, cid: str = "") -> pb.ConverseRequest:
    return pb.ConverseRequest(id=cid, audio=pb.AudioCommand(sequence=seq, data=data))


def text(value: str, cid: str = "t") -> pb.ConverseRequest:
    return pb.ConverseRequest(id=cid, text=pb.TextCommand(text=value))


def end() -> pb.ConverseRequest:
    return pb.ConverseRequest(id="end", end=pb.EndCommand())


def ping(cid: str = "p") -> pb.ConverseRequest:
    return pb.ConverseRequest(id=cid, ping=common_pb2.PingCommand())


class Session:
    """One Converse call: `send` commands, `until` an event matches, `events` so far (`metadata`:
    call metadata such as a `traceparent`)."""

    def __init__(self, client: Client, metadata: list[tuple[str, str]] | None = None) -> None:
        self._outbox: asyncio.Queue[pb.ConverseRequest | None] = asyncio.Queue()
        self.events: list[pb.ConverseResponse] = []
        self._arrived = asyncio.Event()
        self.closed = asyncio.Event()
        stub = client.stub(conversation_pb2_grpc.ConversationServiceStub)
        self.call = stub.Converse(self._requests(), metadata=metadata)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _requests(self) -> AsyncIterator[pb.ConverseRequest]:
        while (cmd := await self._outbox.get()) is not None:
            yield cmd

    async def _read(self) -> None:
        try:
            async for event in self.call:
                self.events.append(event)
                self._arrived.set()
        finally:
            self.closed.set()
            self._arrived.set()

    def send(self, *commands: pb.ConverseRequest) -> None:
        for cmd in commands:
            self._outbox.put_nowait(cmd)

    def half_close(self) -> None:
        self._outbox.put_nowait(None)

    async def send_audio(
        self, data: bytes, first_seq: int = 0, pace_s: float = 0.0, rate: int = 16_000
    ) -> int:
        seq = first_seq
        for piece in chunks(data, rate):
            self.send(audio(seq, piece))
            seq += 1
            if pace_s:
                await asyncio.sleep(pace_s)
        return seq

    async def until(
        self, match: Callable[[pb.ConverseResponse], bool], timeout: float = 20.0
    ) -> pb.ConverseResponse:
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[seen:]:
                    if match(event):
                        return event
                seen = len(self.events)
                if self.closed.is_set():
                    raise AssertionError(f"stream closed before a match; events: {kinds(self.events)}")
                self._arrived.clear()
                await self._arrived.wait()

    async def until_kind(self, kind: str, timeout: float = 20.0) -> pb.ConverseResponse:
        return await self.until(lambda e: e.WhichOneof("event") == kind, timeout)

    async def finished(self, timeout: float = 20.0) -> list[pb.ConverseResponse]:
        async with asyncio.timeout(timeout):
            await self.closed.wait()
        await self._reader
        return self.events

    def of(self, kind: str) -> list[Any]:
        return [getattr(e, kind) for e in self.events if e.WhichOneof("event") == kind]

    async def aclose(self) -> None:
        self.call.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


def kinds(events: list[pb.ConverseResponse]) -> list[str]:
    return [str(e.WhichOneof("event")) for e in events]
