"""TextService: FixText, FixTextBatch and the Session stream (the only module touching grpc).

Messages are converted in convert.py (and hot replies hand-encoded in wire.py); a Session's
events wait in an Outbox (outbox.py); the fixer's word lists load lazily (lazy.py)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from realtime.v1 import common_pb2, text_pb2

from ..context import HubContext
from ..platform.auth import current_principal
from ..platform.errors import HubError, going_away, invalid_argument, resource_exhausted
from ..platform.protowire import serialize
from ..platform.status import error_event, going_away_event
from ..platform.streams import commands_until_shutdown
from . import session as sess
from . import wire
from .batches import Plan, ProcessBatches, fix_and_encode
from .config import TextConfig
from .convert import Malformed, fit_results, operations, seconds, session_response, tolerant, too_large
from .documents import Change
from .fairness import FairPool, UserDocuments
from .fixer import MAX_BATCH, FixResult, Operation, TextFixer, check_context, check_hints, check_text
from .lazy import lazy_fixer
from .outbox import Outbox

log = logging.getLogger("realtime.text")

SERVICE = "realtime.v1.TextService"
#: Kept free of a reply's limit for framing.
REPLY_RESERVE = 1024

# Texts up to this many code points are fixed on the event loop: with the per-word cache that
# is tens of microseconds, less than a hop to a thread. Larger work goes to the thread pool.
INLINE_CHARS = 2_000

POOL_THREADS = 2  # threads fixing large texts (FixText, Session, batches without worker processes)
DRAIN_TIMEOUT = 10.0  # after the client half-closes, pending documents get this long to finish

_END = object()
_GOING_AWAY = object()


class TextServicer:
    def __init__(
        self,
        hub: HubContext,
        fixer: TextFixer,
        pool: ThreadPoolExecutor,
        batches: ProcessBatches | None = None,
        config: TextConfig | None = None,
    ) -> None:
        config = config or TextConfig()
        self._hub = hub
        self._user_documents = UserDocuments(config.max_documents_per_user)
        self._fixer = fixer
        self._pool = pool
        # Every computation for the pool goes through the fair queue: round-robin between users,
        # bounded per user and in all (fairness.py).
        self._fair = FairPool(
            pool,
            slots=POOL_THREADS,
            per_user=config.max_in_flight_per_user,
            max_queued=config.max_queued,
        )
        # What one reply may hold: a fix grows (Hebrew is two UTF-8 bytes a letter, and every
        # change is described), so a request under the limit can have an answer over it.
        self._max_reply = hub.settings.max_message_bytes - REPLY_RESERVE
        self._batches = batches
        r = hub.metrics.registry
        self._computations = Counter(
            "realtime_text_computations", "Text fixes computed, by RPC.", ("rpc",), registry=r
        )
        # Label children cached: labels() takes a lock and builds a key on every call.
        runs = Counter(
            "realtime_text_batches",
            "FixTextBatch requests by where they were fixed: inline (small), threads, processes.",
            ("runner",),
            registry=r,
        )
        self._batch_runs = {name: runs.labels(name) for name in ("inline", "threads", "processes")}
        rpcs = ("FixText", "FixTextBatch", "Session")
        self._computed = {rpc: self._computations.labels(rpc) for rpc in rpcs}
        self._superseded = Counter(
            "realtime_text_superseded_versions",
            "Session versions never computed (debounced) or cancelled while computing.",
            ("reason",),
            registry=r,
        )
        self._compute_seconds = Histogram(
            "realtime_text_compute_seconds",
            "Time spent computing one text fix.",
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
            registry=r,
        )

    async def _run(
        self, work: Callable[[], FixResult], size: int, *, user: str = "", admit: bool = True
    ) -> FixResult:
        if size <= INLINE_CHARS:
            result = work()
        else:
            result = await self._fair.run(user or current_principal().subject, work, admit=admit)
        self._compute_seconds.observe(result.compute_seconds)
        return result

    # --- unary --------------------------------------------------------------------------

    async def FixText(self, request: Any, context: Any) -> bytes:
        check_text(request.text, "text")
        ops = operations(request.operations, "operations") or frozenset(Operation)
        hints = check_hints(request.options.language_hints, "options.language_hints")
        context = check_context(request.options.context, "options.context")
        text = request.text
        fix = await self._run(lambda: self._fixer.fix(text, ops, hints, context=context), len(text))
        self._computed["FixText"].inc()
        reply = wire.fix_text_response(fix)  # FixTextResponse, hand-encoded (see wire.py)
        if len(reply) > self._max_reply:
            raise too_large(len(reply), self._max_reply)
        return reply

    async def FixTextBatch(self, request: Any, context: Any) -> bytes:
        items = request.items
        if not items or len(items) > MAX_BATCH:
            raise invalid_argument(
                f"a batch holds 1 to {MAX_BATCH} items; got {len(items)}",
                [("items", f"give 1 to {MAX_BATCH} items")],
            )
        default_ops = operations(request.operations, "operations") or frozenset(Operation)
        hints = check_hints(request.options.language_hints, "options.language_hints")
        context = check_context(request.options.context, "options.context")
        plans: list[Plan | HubError] = []
        for i, item in enumerate(items):
            try:
                ops = operations(item.operations, f"items[{i}].operations") or default_ops
                check_text(item.text, f"items[{i}].text")
                plans.append((item.text, ops))
            except HubError as err:  # this item's own error; one bad item never fails the batch
                plans.append(err)
        valid = [plan for plan in plans if not isinstance(plan, HubError)]
        fixes = await self._fix_batch(valid, hints, context)
        done = iter(fixes)
        results = [
            wire.batch_result(item.id, error=error_event(plan, item.id).SerializeToString())
            if isinstance(plan, HubError)
            else wire.batch_result(item.id, fix=next(done))
            for item, plan in zip(items, plans, strict=True)
        ]
        self._computed["FixTextBatch"].inc(len(items))
        fitted = fit_results(results, [item.id for item in items], self._max_reply)
        return wire.batch_response(fitted)  # FixTextBatchResponse, hand-encoded (see wire.py)

    async def _fix_batch(
        self, plans: list[Plan], hints: Sequence[str], context: Sequence[str]
    ) -> list[bytes]:
        """Each text fixed and encoded as a TextFix: small batches on the loop, big ones in the
        worker processes once they are ready, else on the thread pool."""
        size = sum(len(text) for text, _ in plans)
        if size <= INLINE_CHARS:
            self._batch_runs["inline"].inc()
            return fix_and_encode(self._fixer, plans, hints, context)
        if self._batches is not None:
            fixes = await self._batches.fix(plans, hints, context)
            if fixes is not None:
                self._batch_runs["processes"].inc()
                return fixes
        self._batch_runs["threads"].inc()
        return await self._fair.run(
            current_principal().subject, functools.partial(fix_and_encode, self._fixer, plans, hints, context)
        )

    # --- session ------------------------------------------------------------------------

    def _event(self, event: sess.Event) -> text_pb2.SessionResponse:
        if isinstance(event, sess.Result):
            self._computed["Session"].inc()
        elif isinstance(event, sess.Superseded):
            self._superseded.labels(event.reason).inc(len(event.versions))
        return session_response(event, self._max_reply)

    def _command(self, command: Any, session: sess.TextSession, outbox: Outbox) -> None:
        """Carry out one command; a bad one raises HubError (sent back as an error event)."""
        if isinstance(command, Malformed):
            raise command.error()
        kind = command.WhichOneof("command")
        cid = command.id
        if kind == "edit":
            e = command.edit
            content = e.WhichOneof("content")
            if content == "text":
                session.edit(cid, e.document_id, e.version, text=e.text)
            elif content == "changes":
                changes = [Change(c.offset, c.length, c.text) for c in e.changes.changes]
                session.edit(cid, e.document_id, e.version, changes=changes)
            else:
                session.edit(cid, e.document_id, e.version)
        elif kind == "ping":
            outbox.put(text_pb2.SessionResponse(command_id=cid, pong=common_pb2.PongEvent()), force=True)
        elif kind == "open":
            o = command.open
            session.open(
                cid,
                o.document_id,
                operations=operations(o.operations, "open.operations"),
                hints=list(o.options.language_hints),
                context=list(o.options.context),
                debounce=seconds(o.debounce) if o.HasField("debounce") else None,
                text=o.text,
                version=o.version,
            )
        elif kind == "flush":
            session.flush(cid, command.flush.document_id)
        elif kind == "close":
            session.close(cid, command.close.document_id)
        elif kind == "configure":
            c = command.configure
            session.configure(cid, seconds(c.debounce) if c.HasField("debounce") else None)
        else:
            raise invalid_argument(
                "command is empty: set configure, open, edit, flush, close or ping",
                [("command", "no command set")],
            )

    async def _read(self, requests: AsyncIterator[Any], session: sess.TextSession, outbox: Outbox) -> None:
        async for command in commands_until_shutdown(requests, self._hub.shutdown):
            if command is None:
                outbox.put(_GOING_AWAY, force=True)
                return
            await outbox.wait_space()
            try:
                self._command(command, session, outbox)
            except HubError as err:
                cid = "" if isinstance(command, Malformed) else command.id
                outbox.put(text_pb2.SessionResponse(command_id=cid, error=error_event(err, cid)), force=True)
        # The client half-closed: finish what is pending, then end the stream.
        with contextlib.suppress(TimeoutError):
            await session.drain(DRAIN_TIMEOUT)
        outbox.put(_END, force=True)

    async def Session(
        self, requests: AsyncIterator[Any], context: Any
    ) -> AsyncIterator[text_pb2.SessionResponse]:
        outbox = Outbox()
        handler = asyncio.current_task()

        def emit(event: sess.Event) -> None:
            if not outbox.put(self._event(event)) and handler is not None:
                handler.cancel()  # the client stopped reading; end the stream (see below)

        user = current_principal().subject

        async def compute(work: Callable[[], FixResult], size: int) -> FixResult:
            # A document's computation is never refused (one per open document, documents capped
            # per user) but waits its user's turn like any other.
            return await self._run(work, size, user=user, admit=False)

        session = sess.TextSession(
            emit, self._fixer, runner=compute, user=user, user_documents=self._user_documents
        )
        reader = asyncio.get_running_loop().create_task(
            self._read(requests, session, outbox), name="text-session-read"
        )

        def reader_done(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                outbox.put(task.exception(), force=True)

        reader.add_done_callback(reader_done)
        try:
            while True:
                item = await outbox.get()
                if item is _END:
                    return
                if item is _GOING_AWAY:
                    yield text_pb2.SessionResponse(going_away=going_away_event(self._hub.shutdown.grace))
                    raise going_away()
                if isinstance(item, BaseException):
                    raise item
                yield item
        except asyncio.CancelledError:
            if not outbox.overflowed or handler is None:
                raise
            handler.uncancel()
            raise resource_exhausted(
                "the client is not reading events; stream ended", reason="SLOW_CONSUMER"
            ) from None
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await session.aclose()


def add_to_server(servicer: TextServicer, server: grpc.aio.Server) -> None:
    """Like the generated `add_TextServiceServicer_to_server`, but unary answers are bytes the
    service encoded itself, and Session parses tolerantly: an undecodable command gets an error
    event and the stream stays open (the platform interceptor would end the stream). Undecodable
    unary requests are the interceptor's: INVALID_ARGUMENT with reason MALFORMED_REQUEST."""
    handlers = {
        "FixText": grpc.unary_unary_rpc_method_handler(
            servicer.FixText,
            request_deserializer=text_pb2.FixTextRequest.FromString,
            response_serializer=serialize,
        ),
        "FixTextBatch": grpc.unary_unary_rpc_method_handler(
            servicer.FixTextBatch,
            request_deserializer=text_pb2.FixTextBatchRequest.FromString,
            response_serializer=serialize,
        ),
        "Session": grpc.stream_stream_rpc_method_handler(
            servicer.Session,
            request_deserializer=tolerant(text_pb2.SessionRequest),
            response_serializer=text_pb2.SessionResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)


async def register(hub: HubContext) -> list[str]:
    pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="text-fix")
    config = TextConfig.load(hub.settings.extra)
    batches = ProcessBatches(config.workers)
    servicer = TextServicer(hub, lazy_fixer(), pool, batches, config)
    add_to_server(servicer, hub.server)

    async def stop_pool() -> None:
        pool.shutdown(wait=False, cancel_futures=True)
        await batches.close()

    hub.on_stop.append(stop_pool)
    return [SERVICE]
