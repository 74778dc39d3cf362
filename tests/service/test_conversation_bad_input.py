"""Bad input gets a clear error event or status, never a crash, a hang or a leaked process."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from realtime.server.testing import running_hub
from realtime.v1 import conversation_pb2 as pb

from .conversation_client import FAST, SERVICES, Session, audio, end, ping, start, text

QUIET = {**FAST, "stt_prestart": False}


def error_of(s: Session, cid: str) -> pb.ConverseResponse:
    found = [e for e in s.events if e.WhichOneof("event") == "error" and e.command_id == cid]
    assert found, f"no error for {cid}"
    return found[-1]


async def test_commands_out_of_place_get_error_events_and_the_stream_stays_open(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": QUIET}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(
                audio(0, b"\0\0", cid="early"),
                text("hello", cid="early-text"),
                pb.ConverseRequest(id="empty"),
            )
            s.send(start(rate=44_100))
            s.send(
                pb.ConverseRequest(
                    id="enc", start=pb.StartCommand(format=pb.AudioFormat(sample_rate_hz=16_000))
                )
            )
            s.send(start(chunk_ms=500), start(language="fr-FR"), start(profile="karaoke"))
            # An encoding number the contract does not define: a validation error, not INTERNAL.
            unknown = start()
            unknown.id = "enc99"
            unknown.start.format.encoding = 99  # type: ignore[assignment]
            s.send(unknown)
            s.send(ping("alive"))
            await s.until(lambda e: e.command_id == "alive")
            assert error_of(s, "early").error.reason == "NOT_STARTED"
            assert error_of(s, "early").error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
            assert error_of(s, "early-text").error.reason == "NOT_STARTED"
            assert error_of(s, "empty").error.reason == "INVALID_ARGUMENT"
            starts = [e.error for e in s.events if e.command_id == "start"]
            assert len(starts) == 4 and all(e.reason == "UNSUPPORTED_FORMAT" for e in starts)
            assert "field:start.format.sample_rate_hz" in starts[0].metadata
            assert "field:start.format.chunk_ms" in starts[1].metadata
            assert "field:start.language" in starts[2].metadata
            assert error_of(s, "enc").error.metadata["field:start.format.encoding"]
            assert error_of(s, "enc99").error.reason == "UNSUPPORTED_FORMAT"
            assert "99" in error_of(s, "enc99").error.metadata["field:start.format.encoding"]
            # After all that, a good start still works; a second one does not.
            s.send(
                start(), pb.ConverseRequest(id="again", start=pb.StartCommand(format=start().start.format))
            )
            await s.until_kind("ready")
            await s.until(lambda e: e.command_id == "again")
            assert error_of(s, "again").error.reason == "ALREADY_STARTED"
            s.send(
                audio(0, b"\0" * 641, cid="odd"),
                audio(1, b"\0" * 40_000, cid="big"),
                audio(2, b"", cid="none"),
            )
            s.send(text("   ", cid="blank"), text("x" * 3000, cid="long"), ping("alive2"))
            await s.until(lambda e: e.command_id == "alive2")
            assert error_of(s, "odd").error.reason == "ODD_BYTE_COUNT"
            assert error_of(s, "big").error.reason == "CHUNK_TOO_LARGE"
            assert error_of(s, "none").error.reason == "INVALID_ARGUMENT"
            assert error_of(s, "blank").error.reason == "INVALID_ARGUMENT"
            assert error_of(s, "long").error.reason == "INVALID_ARGUMENT"
            assert not s.of("gap")  # rejected chunks still used their sequence numbers
            s.send(end(), pb.ConverseRequest(id="after", end=pb.EndCommand()))
            events = await s.finished()
    assert events[-1].WhichOneof("event") == "ended"


async def test_random_bytes_and_long_silence(tmp_path: Path) -> None:
    conf = {**FAST, "no_speech_notice_ms": 1000}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            seq = await s.send_audio(b"\0" * 32_000 * 2)  # two seconds of digital silence
            await s.until(lambda e: e.WhichOneof("event") == "status" and e.status.reason == "NO_SPEECH")
            noise = np.random.default_rng(7).integers(-32768, 32767, 16_000 * 2, dtype=np.int16).tobytes()
            await s.send_audio(noise, first_seq=seq)
            s.send(end())
            events = await s.finished(timeout=40)
    assert events[-1].WhichOneof("event") == "ended"
    assert not s.of("error")


async def test_idle_conversation_ends_with_a_clear_status(tmp_path: Path) -> None:
    conf = {**QUIET, "idle_timeout_s": 0.4}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            events = await s.finished(timeout=10)
    assert events[-1].ended.reason == pb.END_REASON_IDLE_TIMEOUT
    assert "no audio" in events[-1].ended.message


async def test_too_fast_audio_is_throttled(tmp_path: Path) -> None:
    conf = {**QUIET, "max_rate_factor": 4.0, "rate_burst_ms": 200}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            await s.send_audio(b"\0" * 32_000 * 2)
            status = await s.until(
                lambda e: e.WhichOneof("event") == "status" and e.status.reason == "THROTTLED"
            )
            assert "real time" in status.status.message
            s.send(end())
            await s.finished()
        metrics = await _metrics(h.http_url)
    assert "realtime_conversation_throttled_total 1.0" in metrics


async def test_conversation_limit_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    conf = {**QUIET, "max_conversations": 1}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            first = Session(client)
            first.send(start())
            await first.until_kind("ready")
            second = Session(client)
            second.send(start())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await second.finished()
                await second.call.code()
                raise AssertionError("second conversation was accepted")
            await first.aclose()
    err = caught.value
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(err)
    assert status is not None
    kinds = {d.TypeName() for d in status.details}
    assert error_details_pb2.RetryInfo.DESCRIPTOR.full_name in kinds


async def test_unauthenticated_caller_is_refused(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": QUIET}) as h:
        async with h.client(None) as client:
            s = Session(client)
            s.send(start())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.finished()
                raise AssertionError("accepted without a token")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_shutdown_says_going_away_and_stops_the_recognisers(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            s.send(text("hello"))  # a typed turn; meanwhile the recogniser pool has spawned
            await s.until_kind("reply")
            pids = stt_worker_pids()
            assert pids
            await h.hub.stop(grace=2.0)
            # One going-away rule for every stream: the events, then UNAVAILABLE (GOING_AWAY).
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await s.finished()
            assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
            events = s.events
    names = [e.WhichOneof("event") for e in events]
    assert names[-2:] == ["going_away", "ended"]
    assert events[-1].ended.reason == pb.END_REASON_SHUTDOWN
    assert not stt_worker_pids()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def stt_worker_pids() -> list[int]:
    """This process's live speech-recognition workers, from /proc."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"stt_worker" in cmdline and state != "Z":
                found.append(int(pid))
    return found


async def _metrics(url: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as resp:
        return await resp.text()


async def test_a_server_bug_ends_the_conversation_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime.server.conversation.conversation import Conversation

    async def broken(self: Conversation, value: str) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(Conversation, "text", broken)
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": QUIET}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start(), text("hello"))
            events = await s.finished()
    assert s.of("error")[-1].reason == "INTERNAL"
    assert "bug" not in s.of("error")[-1].message  # no internals leak to the client
    assert events[-1].ended.reason == pb.END_REASON_ERROR
