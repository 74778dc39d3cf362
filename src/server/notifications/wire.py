"""Encode once, send batches: the bytes of live events, shared by every stream of this process.

A publication delivered to 10,000 streams used to be converted to a message and serialized 10,000
times. Here its serialized `Notification` (or `PresenceEvent`) is made once, cached on the
publication (`Publication.encoded`, the engines hand one object to every local subscriber), and
framed once per kind of stream: a `SubscribeResponse`, a `ListenResponse`, or an element of a
`NotificationBatch`. A stream's work per event is a cache lookup and the write. None of these
bytes depend on the subscriber: pushed events carry no `command_id` and no per-stream flags.

Batches (for streams that set `accept_batches`): the publications a stream has queued go out as
one `batch` event, so a busy channel's deliveries are not capped by messages per second. Presence
events are never batched: they end the batch in progress, so delivery order is kept.

Proto3 wire format by hand (a length-delimited field is its tag, a varint length and the bytes);
a unit test checks every form parses back to the message the protobuf runtime would build.
Plain Python on purpose: no grpc import; `service.py` supplies the two message encoders.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..broker.base import Publication
from ..platform.protowire import field, tag, varint
from .presence import is_presence_event

#: Most notifications in one batch event, and the most bytes (a single bigger notification
#: still goes out, alone).
MAX_BATCH_ITEMS = 512
MAX_BATCH_BYTES = 256 * 1024
#: Single events per drain when the stream does not take batches (then it reads its next command).
DRAIN_EVENTS = 64

_PAYLOAD = "wire:payload"
_ITEM = "wire:item"


@dataclass(frozen=True, slots=True)
class EventForm:
    """Where a stream's response message keeps its events: field numbers of the oneof."""

    name: str
    notification: int
    presence: int
    batch: int


#: realtime.v1.SubscribeResponse and realtime.v1.ListenResponse.
SUBSCRIBE = EventForm("wire:subscribe", notification=3, presence=9, batch=10)
LISTEN = EventForm("wire:listen", notification=2, presence=3, batch=5)
#: realtime.v1.NotificationBatch.notifications.
_BATCH_ITEM = 1


class Pacer:
    """When a stream that takes batches writes: at once when it has been quiet, else at most once
    per `delay` seconds, so a busy stream's queue fills into batches instead of one write per
    notification (writes, not notifications, are what a process can do only so many of per
    second). A notification after a quiet spell goes out without waiting. `clock` (seconds,
    monotonic) defaults to the running loop's."""

    __slots__ = ("_clock", "_delay", "_last")

    def __init__(self, delay: float, clock: Callable[[], float] | None = None) -> None:
        self._delay = delay
        self._clock = clock
        self._last = -math.inf

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def due(self, queued: int) -> float:
        """Seconds to wait before draining `queued` publications (0: now)."""
        if self._delay <= 0 or queued == 0 or queued >= MAX_BATCH_ITEMS:
            return 0.0
        return max(0.0, self._last + self._delay - self._now())

    async def wait(self, queued: int) -> None:
        wait = self.due(queued)
        if wait > 0:
            await asyncio.sleep(wait)

    def wrote(self) -> None:
        self._last = self._now()


class Encoder:
    """Serialized events for publications, each made once per publication and cached on it."""

    def __init__(
        self, notification: Callable[[Publication], bytes], presence: Callable[[Publication], bytes]
    ) -> None:
        self._notification = notification
        self._presence = presence
        self._forms: dict[str, Callable[[Publication], bytes]] = {}

    def _payload(self, pub: Publication) -> tuple[bool, bytes]:
        if is_presence_event(pub):
            return True, self._presence(pub)
        return False, self._notification(pub)

    def single(self, pub: Publication, form: EventForm) -> bytes:
        """The whole response message carrying `pub` as one event."""
        make = self._forms.get(form.name)
        if make is None:

            def frame(p: Publication) -> bytes:
                presence, payload = p.encoded(_PAYLOAD, self._payload)
                return field(form.presence if presence else form.notification, payload)

            make = self._forms[form.name] = frame
        return pub.encoded(form.name, make)

    def item(self, pub: Publication) -> bytes | None:
        """`pub` as an element of a NotificationBatch, or None for a presence event (not batched)."""
        return pub.encoded(_ITEM, self._frame_item)

    def _frame_item(self, pub: Publication) -> bytes | None:
        presence, payload = pub.encoded(_PAYLOAD, self._payload)
        return None if presence else field(_BATCH_ITEM, payload)

    def events(
        self,
        take: Callable[[], Publication | None],
        form: EventForm,
        *,
        batches: bool,
        max_items: int = MAX_BATCH_ITEMS,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> Iterator[bytes]:
        """Encoded events for what `take()` hands out now (until it returns None or a bound).

        Without `batches`: one event per publication, at most DRAIN_EVENTS. With: runs of
        notifications become `batch` events (a run of one stays a plain `notification`), at most
        `max_items` publications. If `take()` raises (the stream's feed ended), what it handed out
        before is yielded first: a stream's resume positions count it as sent.
        """
        if not batches:
            for _ in range(DRAIN_EVENTS):
                pub = take()
                if pub is None:
                    return
                yield self.single(pub, form)
            return
        run: list[Publication] = []
        items: list[bytes] = []
        size = 0
        for _ in range(max_items):
            try:
                pub = take()
            except Exception:
                if run:
                    yield self._batch(run, items, size, form)
                raise
            if pub is None:
                break
            item = self.item(pub)
            if item is None or (items and size + len(item) > max_bytes):
                if run:
                    yield self._batch(run, items, size, form)
                    run, items, size = [], [], 0
                if item is None:
                    yield self.single(pub, form)
                    continue
            run.append(pub)
            items.append(item)
            size += len(item)
        if run:
            yield self._batch(run, items, size, form)

    def _batch(self, run: list[Publication], items: list[bytes], size: int, form: EventForm) -> bytes:
        if len(run) == 1:
            return self.single(run[0], form)
        return b"".join((tag(form.batch), varint(size), *items))

    def replay(
        self, pubs: list[Publication], form: EventForm, *, batches: bool, max_bytes: int = MAX_BATCH_BYTES
    ) -> Iterator[bytes]:
        """Encoded events for publications replayed after a resume, in order."""
        feed = iter(pubs)

        def take() -> Publication | None:
            return next(feed, None)

        while True:
            sent = False
            for event in self.events(take, form, batches=batches, max_bytes=max_bytes):
                sent = True
                yield event
            if not sent:
                return
