"""A recorded call replayed over /media-stream (Twilio Media Streams protocol) at real-time pace."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from realtime.server.conversation import g711
from realtime.server.platform.auth import mint_token
from realtime.server.testing import running_hub
from tests.fake_llm import fake_llm

from .conversation_client import FAST, goforward
from .gateway_wire import eventually

SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.conversation.service",
    "realtime.server.gateway.service",
)


def mulaw_8k(pcm16k: bytes) -> bytes:
    """The 16 kHz recording as a phone line carries it: 8 kHz G.711 µ-law."""
    pcm = np.frombuffer(pcm16k, dtype="<i2").astype(np.int32)
    pcm = pcm[: len(pcm) // 2 * 2].reshape(-1, 2).mean(axis=1).astype(np.int16)  # average pairs, decimate
    return g711.encode("MULAW", pcm)


class Provider:
    """Plays the telephony provider's side: sends a call, collects what the hub sends back."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.chunk = 0

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.received.append(json.loads(msg.data))
                self.arrived.set()

    async def until(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for m in self.received:
                    if m["event"] == event:
                        return m
                self.arrived.clear()
                await self.arrived.wait()

    async def play(self, mulaw: bytes) -> None:
        """20 ms media messages at real-time pace, as a phone call arrives."""
        began = time.monotonic()
        for n, i in enumerate(range(0, len(mulaw), 160)):
            await asyncio.sleep(max(0.0, began + n * 0.02 - time.monotonic()))
            self.chunk += 1
            payload = base64.b64encode(mulaw[i : i + 160]).decode()
            media = {
                "track": "inbound",
                "chunk": str(self.chunk),
                "timestamp": str(n * 20),
                "payload": payload,
            }
            await self.ws.send_json({"event": "media", "streamSid": "MZ1", "media": media})


def start_message(token: str) -> dict[str, Any]:
    return {
        "event": "start",
        "streamSid": "MZ1",
        "start": {
            "streamSid": "MZ1",
            "callSid": "CA1",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": token, "caller": "+15550100"},
        },
    }


async def test_a_recorded_call_holds_a_dialog_and_barge_in_clears(tmp_path: Path) -> None:
    call = mulaw_8k(goforward())
    silence = b"\xff" * 8000  # one second of µ-law silence
    async with fake_llm(token_delay_s=0.05) as fake:
        conf = {**FAST, "responder": "chat", "hosted_base_url": fake.base_url, "first_token_timeout_s": 5.0}
        async with (
            running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h,
            aiohttp.ClientSession() as http,
            http.ws_connect(h.http_url.replace("http", "ws") + "/media-stream") as ws,
        ):
            provider = Provider(ws)
            reader = asyncio.get_running_loop().create_task(provider.read())
            await ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await ws.send_json(start_message(mint_token(h.secret, "alice")))
            await provider.play(silence[:4000] + call + silence)
            first = await provider.until("media")
            assert first["streamSid"] == "MZ1" and len(base64.b64decode(first["media"]["payload"])) <= 160
            await provider.until("mark")  # the whole first reply was sent
            # The caller talks over the second reply: the hub tells the provider to drop its audio.
            await provider.play(call)
            await provider.play(silence)
            await provider.until("clear")
            await ws.send_json({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})
            async with asyncio.timeout(20):
                await reader
    heard = [m["content"] for b in fake.requests for m in b["messages"] if m["role"] == "user"]
    assert heard and "forward" in heard[0]  # the model was asked about what the caller said
    assert fake.cancelled >= 1 or fake.completed >= 2


async def test_media_stream_needs_a_valid_token(tmp_path: Path) -> None:
    async with (
        running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h,
        aiohttp.ClientSession() as http,
    ):
        url = h.http_url.replace("http", "ws") + "/media-stream"
        for token in ("", "not-a-token"):
            async with http.ws_connect(url) as ws:
                await ws.send_json(start_message(token))
                await ws.send_json({"event": "media", "streamSid": "MZ1", "media": {"payload": "/w=="}})
                async with asyncio.timeout(20):
                    msg = await ws.receive()
                    while msg.type == aiohttp.WSMsgType.TEXT:
                        msg = await ws.receive()
                assert ws.close_code == 1008, (token, msg)
        async with http.ws_connect(url) as ws:  # garbage instead of the protocol
            await ws.send_str("{not json")
            async with asyncio.timeout(20):
                await ws.receive()
            assert ws.close_code == 1008


async def test_a_provider_that_vanishes_mid_call_frees_the_conversation(tmp_path: Path) -> None:
    call = mulaw_8k(goforward())
    async with (
        running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h,
        aiohttp.ClientSession() as http,
    ):
        url = h.http_url.replace("http", "ws") + "/media-stream"

        async def active() -> float:
            async with http.get(h.http_url + "/metrics") as resp:
                for line in (await resp.text()).splitlines():
                    if line.startswith("realtime_conversations_active "):
                        return float(line.split()[1])
            return -1.0

        for _ in range(3):  # twice and more: each vanished call is released
            ws = await http.ws_connect(url)
            provider = Provider(ws)
            reader = asyncio.get_running_loop().create_task(provider.read())
            await ws.send_json(start_message(mint_token(h.secret, "alice")))
            await provider.play(call[:8000])  # one second of speech, then the line drops
            await eventually(lambda: _is(active, 1.0))
            await ws.close()
            async with asyncio.timeout(20):
                await reader
            await eventually(lambda: _is(active, 0.0))


async def _is(read: Callable[[], Awaitable[float]], value: float) -> bool:
    return await read() == value
