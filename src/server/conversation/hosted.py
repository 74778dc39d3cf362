"""Hosted engines behind the same interfaces: OpenAI-compatible text to speech and chat.

They are off by default and touch the network only when configured (base URL in the
settings, key from the environment). Each sits behind a circuit breaker with the local
engine as fallback: a failure or a slow answer falls back at once, and the result says so,
so the conversation can tell the client in a `status` event.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import aiohttp
import numpy as np

from .breaker import CircuitBreaker
from .metrics import ConversationMetrics
from .tts import Speech, TextToSpeech

log = logging.getLogger("realtime.conversation")

HOSTED_PCM_RATE = 24_000  # OpenAI-style /audio/speech with response_format=pcm


class HostedClient:
    """One HTTP session for the hosted endpoints of a hub."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def post_json(
        self, path: str, body: dict[str, Any], timeout: aiohttp.ClientTimeout | None = None
    ) -> aiohttp.ClientResponse:
        if timeout is None:
            response = await self.session().post(self.base_url + path, json=body)
        else:
            response = await self.session().post(self.base_url + path, json=body, timeout=timeout)
        return await _ok(path, response)

    async def post_form(self, path: str, form: aiohttp.FormData) -> aiohttp.ClientResponse:
        return await _ok(path, await self.session().post(self.base_url + path, data=form))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _ok(path: str, response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    if response.status != 200:
        text = (await response.text())[:200]
        response.release()
        raise RuntimeError(f"{path} answered HTTP {response.status}: {text}")
    return response


def api_key(env_name: str) -> str:
    return os.environ.get(env_name, "")


class FallbackTts:
    """Hosted speech when the breaker allows and it answers in time; eSpeak otherwise."""

    name = "hosted"

    def __init__(
        self,
        client: HostedClient,
        model: str,
        voice: str,
        fallback: TextToSpeech,
        breaker: CircuitBreaker,
        metrics: ConversationMetrics | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.voice = voice
        self.fallback = fallback
        self.breaker = breaker
        self.metrics = metrics

    async def _hosted(self, text: str) -> Speech:
        body = {"model": self.model, "input": text, "voice": self.voice, "response_format": "pcm"}
        response = await self.client.post_json("/audio/speech", body)
        async with response:
            data = await response.read()
        if not data or len(data) % 2:
            raise RuntimeError(f"speech endpoint returned {len(data)} bytes of PCM16")
        return Speech(np.frombuffer(data, dtype="<i2").astype(np.int16), HOSTED_PCM_RATE, engine="hosted")

    async def synthesize(self, text: str, voice: str, rate_wpm: int) -> Speech:
        reason = "circuit open after repeated failures"
        if self.breaker.allow():
            try:
                speech = await self._hosted(text)
                self.breaker.success()
                return speech
            except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError) as exc:
                self.breaker.failure()
                reason = f"hosted speech failed: {type(exc).__name__}: {exc}"[:200]
                log.warning("%s; using eSpeak", reason)
        if self.metrics is not None:
            self.metrics.fallbacks.labels("tts").inc()
        speech = await self.fallback.synthesize(text, voice, rate_wpm)
        speech.fallback_reason = reason
        return speech
