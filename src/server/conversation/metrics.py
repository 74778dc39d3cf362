"""The conversation service's `realtime_*` metrics, registered on the hub's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Voice latencies live between 5 ms and a few seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.5, 5.0)


class ConversationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.stage_seconds = Histogram(
            "realtime_conversation_stage_seconds",
            "Per-turn latency by stage: endpointing, stt, responder, tts, end_of_speech_to_first_audio.",
            ("stage",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.active = Gauge("realtime_conversations_active", "Conversations open now.", registry=r)
        self.turns = Counter("realtime_conversation_turns", "Turns answered with a reply.", registry=r)
        self.interruptions = Counter(
            "realtime_conversation_interruptions", "Replies cut off by the caller (barge-in).", registry=r
        )
        self.cache = Counter(
            "realtime_conversation_reply_cache",
            "Reply audio cache lookups by result: l1, l2 (hits) or miss.",
            ("result",),
            registry=r,
        )
        self.fallbacks = Counter(
            "realtime_conversation_engine_fallbacks",
            "Times a hosted engine failed or was open-circuited and the local engine answered.",
            ("engine",),
            registry=r,
        )
        self.sequence = Counter(
            "realtime_conversation_audio_sequence",
            "Audio chunks that arrived out of line, by kind: duplicate, reordered, gap (missing chunks).",
            ("kind",),
            registry=r,
        )
        self.throttled = Counter(
            "realtime_conversation_throttled",
            "Times a client sent audio faster than allowed and was slowed down.",
            registry=r,
        )
        self.rejected = Counter(
            "realtime_conversation_rejected",
            "Conversations refused because the per-process limit was reached.",
            registry=r,
        )
        self.ended = Counter(
            "realtime_conversation_ended", "Conversations ended, by reason.", ("reason",), registry=r
        )
