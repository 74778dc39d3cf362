"""The engines one hub shares between its conversations, chosen by configuration."""

from __future__ import annotations

from .assistant import Assistant
from .audio import PIPELINE_RATE
from .breaker import CircuitBreaker
from .cache import KeyValue, ReplyAudioCache
from .config import ConversationConfig
from .hosted import FallbackTts, HostedClient, api_key
from .hosted_stt import HostedStt
from .llm import LlmResponder
from .metrics import ConversationMetrics
from .responder import DEFAULT_SCRIPTS, FAREWELL, Responder, ScreeningResponder, load_scripts
from .stt import PocketsphinxPool, SpeechToText
from .tts import EspeakTts, TextToSpeech
from .vad import VadEngine, make_vad

RESPONDERS = ("screening", "chat")


class Engines:
    def __init__(
        self,
        config: ConversationConfig,
        metrics: ConversationMetrics | None = None,
        l2: KeyValue | None = None,
        stt: SpeechToText | None = None,
        tts: TextToSpeech | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.pool: PocketsphinxPool | None = None
        if stt is None:
            if config.stt_engine not in ("pocketsphinx", "hosted"):
                raise ValueError(f"unknown speech-to-text engine {config.stt_engine!r}")
            self.pool = PocketsphinxPool(
                config.stt_workers,
                config.stt_decoders_per_worker,
                prewarm=config.stt_prewarm_decoders,
                **config.stt_options(),
            )
            stt = self.pool
        self.hosted: HostedClient | None = None
        if config.responder not in RESPONDERS:
            raise ValueError(f"unknown responder {config.responder!r}; use one of {RESPONDERS}")
        if "hosted" in (config.tts_engine, config.stt_engine) or config.responder == "chat":
            if not config.hosted_base_url:
                raise ValueError(
                    "hosted engines need hosted_base_url (REALTIME_CONVERSATION_HOSTED_BASE_URL)"
                )
            self.hosted = HostedClient(
                config.hosted_base_url, api_key(config.hosted_api_key_env), config.hosted_timeout_s
            )
        if config.stt_engine == "hosted" and self.hosted is not None and self.pool is not None:
            stt = HostedStt(
                self.hosted,
                config.hosted_stt_model,
                config.hosted_stt_language,
                self.pool,
                CircuitBreaker(config.breaker_failures, config.breaker_reset_s),
                max_bytes=PIPELINE_RATE * 2 * config.max_utterance_ms // 1000 + PIPELINE_RATE,
                metrics=metrics,
            )
        if tts is None:
            if config.tts_engine not in ("espeak", "hosted"):
                raise ValueError(f"unknown text-to-speech engine {config.tts_engine!r}")
            tts = EspeakTts()
            if config.tts_engine == "hosted" and self.hosted is not None:
                tts = FallbackTts(
                    self.hosted,
                    config.hosted_tts_model,
                    config.hosted_tts_voice,
                    tts,
                    CircuitBreaker(config.breaker_failures, config.breaker_reset_s),
                    metrics,
                )
        self._chat_breaker = CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        # Read once, at hub start, so a bad file stops the hub instead of failing every call.
        self._scripts = (
            load_scripts(config.scripts_file) if config.scripts_file else (DEFAULT_SCRIPTS, FAREWELL)
        )
        self.stt: SpeechToText = stt
        self.tts: TextToSpeech = tts
        self.cache = ReplyAudioCache(config.cache_bytes, l2, config.cache_ttl_s)

    def start(self) -> None:
        """Start the recogniser processes in the background (a call's start; idempotent)."""
        if self.pool is not None:
            self.pool.start()

    async def warm(self) -> None:
        """Load everything the first call would otherwise wait for: the recogniser processes and
        their first decoders, the speech synthesiser and the VAD model (hub start, `stt_prestart`)."""
        if self.pool is not None:
            await self.pool.start()
        local = getattr(self.tts, "fallback", self.tts)
        await local.synthesize("Hello.", self.config.voice, self.config.speech_rate_wpm)
        self.vad()

    def vad(self) -> VadEngine:
        return make_vad(self.config.vad_engine)

    def responder(self, assistant: Assistant) -> Responder:
        """The call's responder: the model when configured, with the canned one as its fallback."""
        c = self.config
        canned = ScreeningResponder(assistant.max_turns, *self._scripts)
        if c.responder == "chat" and self.hosted is not None:
            return LlmResponder(
                self.hosted,
                c.hosted_chat_model,
                canned,
                self._chat_breaker,
                assistant,
                first_token_timeout_s=c.first_token_timeout_s,
                stall_timeout_s=max(c.hosted_timeout_s, c.first_token_timeout_s),
                max_tokens=c.llm_max_tokens,
                max_tool_rounds=c.max_tool_rounds,
                metrics=self.metrics,
                history_messages=c.llm_history_messages,
            )
        return canned

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        tts = getattr(self.tts, "fallback", self.tts)
        close = getattr(tts, "close", None)
        if close is not None:
            close()
        if self.hosted is not None:
            await self.hosted.close()
