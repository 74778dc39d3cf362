"""Settings of the conversation service, from REALTIME_CONVERSATION_* variables and overrides.

The hub's own settings object carries service extras in `Settings.extra["conversation"]`
(a mapping of field name -> value); those beat the environment, which beats the defaults (the
loader every service shares, `platform.service_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..platform.service_config import load_service_config

SECTION = "conversation"


@dataclass(frozen=True)
class ConversationConfig:
    # Engines.
    vad_engine: str = "silero"  # "silero" or "energy"; silero falls back to energy if it cannot load
    stt_engine: str = "pocketsphinx"  # "pocketsphinx" or "hosted" (OpenAI-compatible, falls back)
    tts_engine: str = "espeak"  # "espeak" or "hosted" (OpenAI-compatible, falls back)
    # "screening" (the canned offline responder) or "chat" (an OpenAI-compatible model, streamed,
    # with the canned responder as its fallback).
    responder: str = "screening"
    voice: str = "en-us"
    speech_rate_wpm: int = 175
    # Speech detection.
    vad_threshold: float = 0.5  # speech probability that opens speech
    vad_release: float = 0.35  # probability below which a window counts as silence
    min_speech_ms: int = 90  # speech shorter than this is a click, not speech
    end_silence_ms: int = 300  # silence that ends an utterance (the endpointing wait)
    pre_roll_ms: int = 300  # audio before the VAD opened that the recogniser also gets
    max_utterance_ms: int = 15_000  # an utterance is cut (finalised) at this length
    no_speech_notice_ms: int = 10_000  # status NO_SPEECH after this much audio without speech
    # Barge-in.
    min_interrupt_ms: int = 400  # caller speech shorter than this does not interrupt ("uh-huh")
    playback_lead_ms: int = 120  # reply audio is sent this far ahead of real time
    # Speech recognition pool.
    stt_workers: int = 2
    stt_decoders_per_worker: int = 6
    stt_prewarm_decoders: int = 1  # decoders each worker loads at start (~95 MB each); more on demand
    stt_partial_interval_ms: int = 300
    # Search limits. On the test recordings with transcripts these made decoding ~4-5x cheaper
    # in CPU (from ~1.7x to ~7-10x real time) with the same word error rate (24-25 %); with
    # pocketsphinx's defaults a busy 2-core machine fell behind real time.
    stt_max_hmm_per_frame: int = 2500
    stt_phone_loop_window: int = 5
    stt_top_gaussians: int = 2
    stt_word_beam: float = 1e-16
    stt_max_words_per_frame: int = 8
    # Spawn the recogniser processes when the hub starts; off, they start with the first conversation
    # (so hubs that never converse, such as most test hubs, never pay for them).
    stt_prestart: bool = False
    # Responder.
    max_turns: int = 0  # replies before the call ends; 0 = never forced (per call: start.assistant)
    # The assistant's defaults; each call may override them in `start.assistant`, within the limits below.
    system_prompt: str = (
        "You are a friendly voice assistant on a phone call. Answer in one to three short sentences "
        "of plain spoken English, without lists or markup. Say goodbye when the caller is done."
    )
    greeting: str = ""  # spoken when a call starts ("" = none)
    end_phrases: str = "goodbye"  # comma-separated; a reply containing one ends the call after it
    tool_filler: str = "One moment, let me check."  # spoken while a tool runs ("" = silence)
    tool_timeout_s: float = 8.0  # how long a tool_call waits for its tool_result
    first_token_timeout_s: float = 1.5  # no first token from the model by then: the canned reply
    llm_max_tokens: int = 300
    llm_history_messages: int = 40  # the model sees the system prompt and at most this many more
    # Limits on what one call may ask for.
    max_prompt_chars: int = 8000
    max_greeting_chars: int = 500
    max_turns_limit: int = 200
    max_end_phrases: int = 16
    max_tools: int = 16
    max_tool_schema_bytes: int = 8192
    max_tool_timeout_s: float = 60.0
    max_tool_result_bytes: int = 16384
    max_tool_rounds: int = 4  # model -> tool -> model rounds in one turn
    # JSON file with your own lines: {"scripts": {"sales": ["...", "..."], ...}, "farewell": {...}};
    # intents left out keep the built-in lines.
    scripts_file: str = ""
    # Limits.
    max_conversations: int = 64
    max_chunk_ms: int = 1000  # one audio command may carry at most this much audio
    max_rate_factor: float = 4.0  # audio faster than this x real time is throttled
    rate_burst_ms: int = 2000  # audio a client may send ahead of real time before throttling
    reorder_window: int = 8  # chunks held to fix reordering before a gap is declared
    idle_timeout_s: float = 30.0  # no audio (or text) for this long ends the stream; 0 disables
    drain_timeout_s: float = 15.0  # after `end`, how long queued turns may still take
    event_queue: int = 256  # bounded per-stream queue of outgoing events
    stage_queue: int = 512  # bounded queue in front of each pipeline stage
    # Reply audio cache.
    cache_bytes: int = 32 * 1024 * 1024
    cache_ttl_s: int = 7200
    # Hosted engines (OpenAI-compatible); keys come from the environment only.
    hosted_base_url: str = ""
    hosted_api_key_env: str = "OPENAI_API_KEY"
    hosted_chat_model: str = "gpt-4o-mini"
    hosted_stt_model: str = "whisper-1"
    hosted_stt_language: str = "en"  # ISO-639-1 hint sent with each utterance ("" = let it detect)
    hosted_tts_model: str = "tts-1"
    hosted_tts_voice: str = "alloy"
    hosted_timeout_s: float = 2.0
    breaker_failures: int = 3
    breaker_reset_s: float = 30.0

    def stt_options(self) -> dict[str, Any]:
        """Keyword arguments for pocketsphinx's Decoder."""
        return {
            "maxhmmpf": self.stt_max_hmm_per_frame,
            "pl_window": self.stt_phone_loop_window,
            "topn": self.stt_top_gaussians,
            "wbeam": self.stt_word_beam,
            "maxwpf": self.stt_max_words_per_frame,
        }

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> ConversationConfig:
        return load_service_config(cls, SECTION, {SECTION: overrides or {}}, environ)
