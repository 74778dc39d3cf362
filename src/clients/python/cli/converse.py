"""`realtime converse`: stream a recording as a phone call; print transcripts, replies, latencies."""

from __future__ import annotations

import argparse
import asyncio
import io
import struct
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format

from realtime.v1 import conversation_pb2 as pb
from realtime.v1 import conversation_pb2_grpc

from ._context import connect, emit

RATES = (8000, 16000)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "converse",
        help="stream a WAV or raw PCM16 file as a call; print transcripts, replies and latencies",
    )
    p.add_argument(
        "--wav",
        required=True,
        type=Path,
        help="WAV (PCM16, or G.711 µ-law/A-law at 8 kHz, sent as such) or headerless PCM16 mono file",
    )
    p.add_argument(
        "--raw-rate", type=int, default=16000, help="sample rate of a headerless file (default 16000)"
    )
    p.add_argument("--realtime", action="store_true", help="send at real-time pace, as a phone would")
    p.add_argument("--chunk-ms", type=int, default=20, help="audio chunk duration (default 20)")
    p.add_argument("--out", type=Path, help="write the reply audio to this WAV file")
    p.add_argument("--caller", default="", help="caller number or id passed to the responder")
    p.add_argument("--text", action="append", default=[], help="typed caller input sent after the audio")
    p.add_argument("--prompt", default="", help="the assistant's system prompt for this call")
    p.add_argument("--greeting", default="", help="spoken when the call starts")
    p.add_argument("--max-turns", type=int, default=0, help="end the call after this many replies")
    p.set_defaults(func=converse)


WAVE_MULAW, WAVE_ALAW = 7, 6  # WAVE format tags of G.711


def _g711_table(alaw: bool) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Byte -> sample for G.711 (ITU-T reference), for writing G.711 reply audio as PCM16."""
    codes = np.arange(256, dtype=np.int32)
    if alaw:
        a = codes ^ 0x55
        t = np.where((a & 0x70) == 0, ((a & 0x0F) << 4) + 8, ((a & 0x0F) << 4) + 0x108)
        seg = (a & 0x70) >> 4
        t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
        return np.where(a & 0x80, t, -t).astype(np.int16)
    u = ~codes & 0xFF
    magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def read_g711_wav(data: bytes) -> tuple[bytes, str] | None:
    """(G.711 bytes, "MULAW"/"ALAW") of an 8 kHz mono G.711 WAV; None for any other WAV."""
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHI", body[:8])
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None or fmt[0] not in (WAVE_MULAW, WAVE_ALAW):
        return None
    tag, channels, rate = fmt
    if channels != 1 or rate != 8000:
        raise ValueError(f"G.711 WAV must be mono 8000 Hz, got {channels} channels at {rate} Hz")
    return payload, "MULAW" if tag == WAVE_MULAW else "ALAW"


def load_audio(path: Path, raw_rate: int) -> tuple[np.ndarray[Any, np.dtype[np.int16]], int]:
    """Samples and rate; other rates are resampled to 16 kHz, stereo takes the first channel."""
    data = path.read_bytes()
    if data[:4] == b"RIFF":
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            if w.getnchannels() > 1:
                pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
            rate = w.getframerate()
    else:
        pcm, rate = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2"), raw_rate
    if rate not in RATES:
        count = round(len(pcm) * 16000 / rate)
        pcm = np.interp(np.arange(count) * rate / 16000, np.arange(len(pcm)), pcm).astype(np.int16)
        rate = 16000
    return pcm.astype(np.int16), rate


async def converse(args: argparse.Namespace) -> int:
    raw = args.wav.read_bytes()
    g711 = read_g711_wav(raw) if raw[:4] == b"RIFF" else None
    if g711 is not None:  # sent as it is: the hub decodes G.711 and answers in it
        payload, encoding_name = g711
        rate, width = 8000, 1
        audio: bytes = payload
        encoding = pb.AUDIO_ENCODING_MULAW if encoding_name == "MULAW" else pb.AUDIO_ENCODING_ALAW
    else:
        pcm, rate = load_audio(args.wav, args.raw_rate)
        audio, width, encoding = pcm.astype("<i2").tobytes(), 2, pb.AUDIO_ENCODING_PCM16LE
    per_chunk = rate * args.chunk_ms // 1000 * width

    async def commands() -> AsyncIterator[pb.ConverseRequest]:
        fmt = pb.AudioFormat(encoding=encoding, sample_rate_hz=rate, chunk_ms=args.chunk_ms)
        assistant = pb.AssistantSettings(
            system_prompt=args.prompt, greeting=args.greeting, max_turns=args.max_turns
        )
        yield pb.ConverseRequest(
            id="start", start=pb.StartCommand(format=fmt, caller_number=args.caller, assistant=assistant)
        )
        began = time.monotonic()
        for seq, i in enumerate(range(0, len(audio), per_chunk)):
            if args.realtime:
                due = began + seq * args.chunk_ms / 1000
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield pb.ConverseRequest(audio=pb.AudioCommand(sequence=seq, data=audio[i : i + per_chunk]))
        for n, line in enumerate(args.text):
            yield pb.ConverseRequest(id=f"text-{n + 1}", text=pb.TextCommand(text=line))
        yield pb.ConverseRequest(id="end", end=pb.EndCommand())

    reply_audio: list[bytes] = []
    status = 0
    async with connect(args) as client:
        stub = client.stub(conversation_pb2_grpc.ConversationServiceStub)
        async for event in stub.Converse(commands()):
            kind = event.WhichOneof("event")
            if kind == "reply_audio":
                reply_audio.append(event.reply_audio.data)
                continue  # audio goes to --out, not the terminal
            text = _describe(event, kind)
            if text is None and not args.json:
                continue
            emit(args, {"event": kind, **_as_dict(event, kind)}, text)
            if kind == "error":
                status = 1
    if args.out is not None:
        data = b"".join(reply_audio)
        if width == 1:  # G.711 reply audio: written as PCM16 so any player opens it
            data = _g711_table(encoding == pb.AUDIO_ENCODING_ALAW)[np.frombuffer(data, np.uint8)].tobytes()
        with wave.open(str(args.out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data)
        print(
            f"wrote {len(data) / 2 / rate:.2f} s of reply audio to {args.out}",
            file=sys.stderr,
        )
    return status


def _as_dict(event: pb.ConverseResponse, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = json_format.MessageToDict(getattr(event, kind), preserving_proto_field_name=True)
    return found


def _ms(d: Any) -> str:
    return f"{d.ToNanoseconds() / 1e6:.0f} ms"


def _describe(event: pb.ConverseResponse, kind: str | None) -> str | None:
    """The human line for an event; None for events only --json shows."""
    if kind == "ready":
        r = event.ready
        return f"ready: session {r.session_id} ({r.vad_engine} VAD, {r.stt_engine} STT, {r.tts_engine} TTS)"
    if kind == "transcript" and event.transcript.final:
        t = event.transcript
        return f"caller [{t.turn}]: {t.text or '(no words)'}  (confidence {t.confidence:.2f})"
    if kind == "reply":
        r = event.reply
        end = "  [ends call]" if r.should_terminate else ""
        who = f"{r.responder}, fallback" if r.fallback else r.responder
        return f"assistant [{r.turn}] ({who}, {r.intent}, {r.confidence:.2f}): {r.text}{end}"
    if kind == "tool_call":
        c = event.tool_call
        return f"tool call [{c.turn}]: {c.name}({c.arguments_json}) — nobody answers it from this command"
    if kind == "latency":
        lat = event.latency
        stages = ", ".join(f"{k} {_ms(v)}" for k, v in lat.stages.items())
        return (
            f"latency [{lat.turn}]: end of speech -> transcript {_ms(lat.to_transcript)}, "
            f"reply {_ms(lat.to_reply)}, first audio {_ms(lat.to_first_audio)} ({stages})"
        )
    if kind == "interrupted":
        return f"interrupted: reply {event.interrupted.turn} cut after {_ms(event.interrupted.audio_sent)}"
    if kind == "status" and event.status.reason:
        return f"status: {event.status.reason}: {event.status.message}"
    if kind == "gap":
        return f"audio gap: chunks {event.gap.first_missing}..{event.gap.last_missing} missing"
    if kind == "error":
        e = event.error
        return f"error ({e.reason}) for {event.command_id or '-'}: {e.message}"
    if kind == "ended":
        return f"ended: {pb.EndReason.Name(event.ended.reason)}: {event.ended.message}"
    if kind == "going_away":
        return f"going away: {event.going_away.reason}"
    return None
