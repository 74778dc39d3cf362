"""`realtime converse --wav` against a real hub: transcript, spoken reply, latency figures."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from realtime.client.cli import build_parser
from realtime.server.testing import running_hub

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
    assert "caller [1]:" in text and "assistant [1000001] (sales" in text
    assert "latency [" in text and "first audio" in text
    assert "ended: END_REASON_CLIENT_ENDED" in text
