"""ConversationService: the only module that touches grpc and the generated messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import duration_pb2

from realtime.v1 import common_pb2, conversation_pb2, conversation_pb2_grpc

from ..context import HubContext
from ..platform.errors import Code, HubError, invalid_argument
from ..platform.status import error_event, going_away_event
from ..platform.streams import commands_until_shutdown
from . import events as ev
from .assistant import AssistantParams
from .cache import KeyValue
from .config import ConversationConfig
from .conversation import Conversation, ConversationManager, StartParams
from .engines import Engines
from .metrics import ConversationMetrics

SERVICE = "realtime.v1.ConversationService"
log = logging.getLogger("realtime.conversation")

pb = conversation_pb2
_STAGES = {
    "LISTENING": pb.CONVERSATION_STAGE_LISTENING,
    "TRANSCRIBING": pb.CONVERSATION_STAGE_TRANSCRIBING,
    "RESPONDING": pb.CONVERSATION_STAGE_RESPONDING,
    "SYNTHESIZING": pb.CONVERSATION_STAGE_SYNTHESIZING,
    "SPEAKING": pb.CONVERSATION_STAGE_SPEAKING,
}
_END_REASONS = {
    "CLIENT_ENDED": pb.END_REASON_CLIENT_ENDED,
    "IDLE_TIMEOUT": pb.END_REASON_IDLE_TIMEOUT,
    "CONVERSATION_COMPLETE": pb.END_REASON_CONVERSATION_COMPLETE,
    "SHUTDOWN": pb.END_REASON_SHUTDOWN,
    "ERROR": pb.END_REASON_ERROR,
}


_ENCODINGS = {
    pb.AUDIO_ENCODING_PCM16LE: "PCM16LE",
    pb.AUDIO_ENCODING_MULAW: "MULAW",
    pb.AUDIO_ENCODING_ALAW: "ALAW",
}
_ENCODING_NUMBERS = {name: number for number, name in _ENCODINGS.items()}


def _duration_ms(ms: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(ms * 1e6))
    return d


def _start_params(cmd: conversation_pb2.StartCommand) -> StartParams:
    f = cmd.format
    # An encoding number this contract does not define (a newer or a broken client) is named, not
    # looked up: `AudioEncoding.Name` raises on it, which surfaced as INTERNAL instead of the
    # validation error `Conversation.start` gives every unsupported encoding.
    if f.encoding in _ENCODINGS:
        encoding = _ENCODINGS[f.encoding]
    elif f.encoding in pb.AudioEncoding.values():
        encoding = pb.AudioEncoding.Name(f.encoding)
    else:
        encoding = f"unknown encoding {f.encoding}"
    return StartParams(
        encoding=encoding,
        sample_rate=f.sample_rate_hz,
        chunk_ms=f.chunk_ms,
        channels=f.channels,
        caller_number=cmd.caller_number,
        caller_name=cmd.caller_name,
        callee_name=cmd.callee_name,
        profile=cmd.profile,
        language=cmd.language,
        voice=cmd.voice,
        assistant=_assistant_params(cmd.assistant),
    )


def _assistant_params(a: conversation_pb2.AssistantSettings) -> AssistantParams:
    return AssistantParams(
        system_prompt=a.system_prompt,
        greeting=a.greeting,
        no_greeting=a.no_greeting,
        max_turns=a.max_turns,
        end_phrases=list(a.end_phrases),
        tools=[(t.name, t.description, t.parameters_json) for t in a.tools],
        tool_timeout_s=a.tool_timeout.ToNanoseconds() / 1e9 if a.HasField("tool_timeout") else 0.0,
        tool_filler=a.tool_filler,
    )


def to_proto(event: ev.Event) -> conversation_pb2.ConverseResponse:
    """The stream message for `event` (reply audio, the most frequent, is looked at first)."""
    R = conversation_pb2.ConverseResponse
    if isinstance(event, ev.ReplyAudio):
        return R(
            reply_audio=pb.ReplyAudioEvent(
                turn=event.turn, sequence=event.sequence, data=event.pcm, last=event.last
            )
        )
    response = _turn_event(event)
    if response is None:
        response = _session_event(event)
    if response is None:
        raise TypeError(f"no protobuf form for {type(event).__name__}")
    return response


def _turn_event(event: ev.Event) -> conversation_pb2.ConverseResponse | None:
    """What happened in a turn: speech, transcripts, replies, tool calls, interruptions, latency."""
    R = conversation_pb2.ConverseResponse
    if isinstance(event, ev.SpeechStarted):
        return R(
            speech_started=pb.SpeechStartedEvent(turn=event.turn, audio_offset=_duration_ms(event.audio_ms))
        )
    if isinstance(event, ev.SpeechStopped):
        return R(
            speech_stopped=pb.SpeechStoppedEvent(
                turn=event.turn, audio_offset=_duration_ms(event.audio_ms), ignored=event.ignored
            )
        )
    if isinstance(event, ev.Transcript):
        return R(
            transcript=pb.TranscriptEvent(
                turn=event.turn, text=event.text, confidence=event.confidence, final=event.final
            )
        )
    if isinstance(event, ev.Reply):
        return R(
            reply=pb.ReplyEvent(
                turn=event.turn,
                text=event.text,
                confidence=event.confidence,
                intent=event.intent,
                should_terminate=event.should_terminate,
                responder=event.responder,
                fallback=event.fallback,
            )
        )
    if isinstance(event, ev.ReplySegment):
        return R(reply_segment=pb.ReplySegmentEvent(turn=event.turn, segment=event.segment, text=event.text))
    if isinstance(event, ev.ToolCall):
        return R(
            tool_call=pb.ToolCallEvent(
                turn=event.turn,
                call_id=event.call_id,
                name=event.name,
                arguments_json=event.arguments_json,
                deadline=_duration_ms(event.deadline_s * 1000),
            )
        )
    if isinstance(event, ev.Interrupted):
        return R(
            interrupted=pb.InterruptedEvent(turn=event.turn, audio_sent=_duration_ms(event.audio_sent_ms))
        )
    if isinstance(event, ev.Latency):
        latency = pb.LatencyEvent(
            turn=event.turn,
            endpointing=_duration_ms(event.endpointing_ms),
            to_transcript=_duration_ms(event.transcript_ms),
            to_reply=_duration_ms(event.reply_ms),
            to_first_audio=_duration_ms(event.first_audio_ms),
        )
        for stage, ms in event.stages_ms.items():
            latency.stages[stage].CopyFrom(_duration_ms(ms))
        return R(latency=latency)
    return None


def _session_event(event: ev.Event) -> conversation_pb2.ConverseResponse | None:
    """The conversation's own events: ready, status, gaps, errors, pong, going away, ended."""
    R = conversation_pb2.ConverseResponse
    if isinstance(event, ev.Ready):
        return R(
            command_id=event.command_id,
            ready=pb.ReadyEvent(
                session_id=event.session_id,
                format=pb.AudioFormat(
                    encoding=_ENCODING_NUMBERS.get(event.encoding, pb.AUDIO_ENCODING_PCM16LE),
                    sample_rate_hz=event.sample_rate,
                    chunk_ms=event.chunk_ms,
                    channels=1,
                ),
                stt_engine=event.stt_engine,
                tts_engine=event.tts_engine,
                vad_engine=event.vad_engine,
                responder=event.responder,
            ),
        )
    if isinstance(event, ev.Status):
        return R(
            status=pb.StatusEvent(
                stage=_STAGES.get(event.stage, pb.CONVERSATION_STAGE_UNSPECIFIED),
                reason=event.reason,
                message=event.message,
                queue_depth=event.queue_depth,
                queue_capacity=event.queue_capacity,
                details=event.details,
            )
        )
    if isinstance(event, ev.AudioGap):
        return R(gap=pb.AudioGapEvent(first_missing=event.first_missing, last_missing=event.last_missing))
    if isinstance(event, ev.Error):
        return R(command_id=event.command_id, error=error_event(event.error, event.command_id))
    if isinstance(event, ev.Pong):
        return R(command_id=event.command_id, pong=common_pb2.PongEvent())
    if isinstance(event, ev.GoingAway):
        return R(going_away=going_away_event(event.grace_s, event.reason))
    if isinstance(event, ev.Ended):
        return R(
            ended=pb.EndedEvent(
                reason=_END_REASONS.get(event.reason, pb.END_REASON_UNSPECIFIED), message=event.message
            )
        )
    return None


class _BrokerKeyValue:
    """The reply cache's L2 on the broker's key-value API."""

    def __init__(self, broker: Any) -> None:
        self._broker = broker

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._broker.kv_get(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._broker.kv_set(key, value, ttl=ttl_s)


def l2_for(broker: Any) -> KeyValue | None:
    """A shared L2 only when the broker is shared (Redis); an in-process broker adds nothing."""
    if broker is None or not hasattr(broker, "kv_get") or getattr(broker, "engine", "memory") == "memory":
        return None
    return _BrokerKeyValue(broker)


class ConversationServicer(conversation_pb2_grpc.ConversationServiceServicer):
    def __init__(self, hub: HubContext, manager: ConversationManager) -> None:
        self._hub = hub
        self._manager = manager

    async def Converse(
        self, requests: AsyncIterator[conversation_pb2.ConverseRequest], context: Any
    ) -> AsyncIterator[conversation_pb2.ConverseResponse]:
        conv = self._manager.open()  # RESOURCE_EXHAUSTED with RetryInfo past the limit
        refused: list[HubError] = []  # a request that did not parse: the stream ends with its status
        reader = asyncio.get_running_loop().create_task(
            self._read(conv, requests, refused), name="conversation-read"
        )
        try:
            while True:
                event = await conv.next_event()
                if event is None:
                    break
                yield to_proto(event)
            if refused:
                raise refused[0]
        finally:
            conv.cut_turns()  # first, before any await: turn spans still open end as cancelled
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self._manager.close(conv)  # runs to its end even if this call is cancelled again

    async def _read(
        self,
        conv: Conversation,
        requests: AsyncIterator[conversation_pb2.ConverseRequest],
        refused: list[HubError],
    ) -> None:
        try:
            await self._read_commands(conv, requests)
        except asyncio.CancelledError:
            raise
        except HubError as err:  # bytes that are not a ConverseRequest (MALFORMED_REQUEST)
            refused.append(err)
            await conv.finish("ERROR", err.message)
        except Exception:
            # A bug must end this conversation clearly, not leave it waiting for its idle timeout.
            log.exception("conversation %s failed", conv.id)
            await conv.emit(ev.Error(HubError(Code.INTERNAL, "internal error; see the server log")))
            await conv.finish("ERROR", "the conversation failed on the server")

    async def _read_commands(
        self, conv: Conversation, requests: AsyncIterator[conversation_pb2.ConverseRequest]
    ) -> None:
        shutdown = self._hub.shutdown
        async for command in commands_until_shutdown(requests, shutdown):
            if command is None:
                await conv.going_away("server shutting down", shutdown.grace)
                return
            try:
                await self._handle(conv, command)
            except HubError as err:
                await conv.emit(ev.Error(err, command.id))
        # The client half-closed: treat it as `end` unless it already sent one.
        if not conv.ending:
            try:
                await conv.end()
            except HubError as err:
                await conv.emit(ev.Error(err))

    async def _handle(self, conv: Conversation, command: conversation_pb2.ConverseRequest) -> None:
        kind = command.WhichOneof("command")
        if kind == "audio":
            await conv.audio(command.audio.sequence, command.audio.data)
        elif kind == "start":
            await conv.start(command.id, _start_params(command.start))
        elif kind == "text":
            await conv.text(command.text.text)
        elif kind == "end":
            await conv.end()
        elif kind == "ping":
            await conv.emit(ev.Pong(command.id))
        elif kind == "tool_result":
            r = command.tool_result
            await conv.tool_result(r.call_id, r.content, r.is_error)
        else:
            raise invalid_argument(
                "command is empty: set start, audio, text, end, ping or tool_result",
                [("command", "no command set")],
            )


async def register(hub: HubContext) -> list[str]:
    config = ConversationConfig.load(hub.settings.extra.get("conversation"))
    metrics = ConversationMetrics(hub.metrics.registry)
    engines = Engines(config, metrics, l2=l2_for(hub.broker))
    if config.stt_prestart:
        # The hub reports serving once the first call will not wait for engines to load.
        await engines.warm()
    manager = ConversationManager(engines, config)
    hub.on_stop.append(engines.close)  # stop the recogniser processes with the hub
    hub.on_stop.append(manager.settle)  # hooks run in reverse: conversations close before engines
    conversation_pb2_grpc.add_ConversationServiceServicer_to_server(
        ConversationServicer(hub, manager), hub.server
    )
    return [SERVICE]
