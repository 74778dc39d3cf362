"""`realtime converse --wav` against a real hub: transcript, spoken reply, latency figures."""

from __future__ import annotations

import json
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from realtime.client.cli import build_parser
from realtime.server.conversation import g711
from realtime.server.testing import running_hub
from tests.fake_llm import fake_llm

from .conversation_client import DATA, FAST, SERVICES


async def test_converse_a_wav_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reply.wav"
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        argv = ["converse", "--wav", str(DATA / "goforward.raw"), "--server", h.target, "--token", h.token()]
        args = build_parser().parse_args([*argv, "--out", str(out), "--json"])
        assert await args.func(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_kind = {line["event"]: line for line in lines}
    finals = [line for line in lines if line["event"] == "transcript" and line.get("final")]
    assert "forward" in finals[0]["text"]
    assert by_kind["reply"]["text"]
    assert "to_first_audio" in by_kind["latency"]
    assert by_kind["ended"]["reason"] == "END_REASON_CLIENT_ENDED"
    with wave.open(str(out)) as w:
        assert w.getframerate() == 16000 and w.getnframes() > 8000


async def test_converse_text_output_and_a_8khz_wav(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "call.wav"
    pcm = (DATA / "goforward.raw").read_bytes()
    with wave.open(str(src), "wb") as w:  # an 8 kHz telephone-style recording (every other sample)
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(pcm[i : i + 2] for i in range(0, len(pcm), 4)))
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        argv = ["converse", "--wav", str(src), "--server", h.target, "--token", h.token()]
        args = build_parser().parse_args([*argv, "--text", "we have a special offer for you"])
        assert await args.func(args) == 0
    text = capsys.readouterr().out
    assert "caller [1]:" in text and "assistant [1000001] (canned, sales" in text
    assert "latency [" in text and "first audio" in text
    assert "ended: END_REASON_CLIENT_ENDED" in text


def mulaw_wav(path: Path, pcm16k: bytes) -> None:
    """A µ-law WAV (format tag 7) as telephony systems record calls; `wave` cannot write one."""
    pcm8k = np.frombuffer(pcm16k, dtype="<i2")[::2]
    data = g711.encode("MULAW", pcm8k)
    fmt = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


async def test_converse_a_mulaw_wav_with_the_fake_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "call.wav", tmp_path / "reply.wav"
    mulaw_wav(src, (DATA / "goforward.raw").read_bytes() + bytes(16_000))
    async with fake_llm() as fake:
        conf = {**FAST, "responder": "chat", "hosted_base_url": fake.base_url, "first_token_timeout_s": 5.0}
        async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
            argv = ["converse", "--wav", str(src), "--server", h.target, "--token", h.token()]
            # No --text here: a typed turn enters at the responder and could be answered (and end
            # the call) before the spoken turn is transcribed.
            args = build_parser().parse_args([*argv, "--out", str(out), "--greeting", "Hi!"])
            assert await args.func(args) == 0
    text = capsys.readouterr().out
    assert "assistant [0] (greeting" in text and "Hi!" in text
    assert "assistant [1] (llm" in text and "I heard go forward" in text
    assert "ended: END_REASON_CLIENT_ENDED" in text
    with wave.open(str(out)) as w:  # the µ-law reply audio, written as PCM16 at 8 kHz
        assert w.getframerate() == 8000 and w.getnframes() > 8000
