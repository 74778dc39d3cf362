"""A notification subscription that recovers by itself, as Centrifugo's SDKs do.

    sub = NotificationSubscription([client_a, client_b], ["topic:news"])
    async for event in sub:
        if isinstance(event, Reconnecting): ...           # the stream dropped; retrying in event.delay
        elif event.WhichOneof("event") == "subscribed": ...  # .recovered / .not_recovered_reason
        elif event.WhichOneof("event") == "notification": ...

It keeps, per channel, the last position received without a gap; when the stream ends with a
retryable status (replica gone, broker lost, shutdown, slow consumer) it waits (exponential
backoff with full jitter, never less than the hub's RetryInfo advice: see backoff.py), reconnects
(to the next client of the list: another replica) and resubscribes every channel from that
position. Each notification is handed to the application exactly once: the hub replays exactly
what was missed, and the few a resume can send twice (a channel the stream already receives live)
are dropped here by offset. When a gap cannot be recovered (history trimmed, epoch changed) the
`subscribed` event says `recovered = false` and why: reload with ListNotifications.

It asks the hub for batches (`accept_batches`): a busy channel's queued notifications arrive in one
`batch` event, which it unpacks, so the application still sees one `notification` event each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import grpc

from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc

from .backoff import RETRYABLE, Backoff, retry_after
from .client import Client

pb = notifications_pb2
_OPT_IN = "accept-batches"  # the id of the ping that opts in when there is no command to carry it


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The stream ended with `code` (`message`); the next attempt starts after `delay` seconds.
    `retry_after` is the wait the hub asked for (google.rpc.RetryInfo), if it did: `delay` is at
    least that."""

    code: grpc.StatusCode
    message: str
    delay: float
    attempt: int
    retry_after: float | None = None


@dataclass(slots=True)
class _Cursor:
    """Offsets received in one epoch: all up to `contiguous`, plus some beyond it (`ahead`)."""

    epoch: str
    contiguous: int
    ahead: set[int] = field(default_factory=set)

    def take(self, epoch: str, offset: int) -> bool:
        """Record a notification; False when it was already handed out."""
        if epoch != self.epoch:  # the channel's history was lost: its offsets restarted
            self.epoch, self.contiguous, self.ahead = epoch, offset, set()
            return True
        if offset <= self.contiguous or offset in self.ahead:
            return False
        if offset == self.contiguous + 1:
            self.contiguous = offset
            while self.contiguous + 1 in self.ahead:
                self.contiguous += 1
                self.ahead.discard(self.contiguous)
        else:
            self.ahead.add(offset)
        return True


Event: TypeAlias = notifications_pb2.SubscribeResponse | Reconnecting


def _position(cursor: _Cursor) -> common_pb2.StreamPosition:
    return common_pb2.StreamPosition(epoch=cursor.epoch, offset=cursor.contiguous)


class NotificationSubscription:
    """Follows `channels` (plus the automatic `general` and `user:{sub}`) across reconnects."""

    def __init__(
        self,
        clients: Client | Sequence[Client],
        channels: Iterable[str] = (),
        *,
        positions: dict[str, common_pb2.StreamPosition] | None = None,
        join_leave: bool = False,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        retryable: frozenset[grpc.StatusCode] = RETRYABLE,
        accept_batches: bool = True,
    ) -> None:
        self._clients = [clients] if isinstance(clients, Client) else list(clients)
        if not self._clients:
            raise ValueError("at least one client")
        self.channels = list(dict.fromkeys(channels))
        self._cursors = {ch: _Cursor(p.epoch, p.offset) for ch, p in (positions or {}).items()}
        self.join_leave = join_leave
        self.backoff = backoff or Backoff()
        self.max_attempts = max_attempts
        self.retryable = retryable
        self.accept_batches = accept_batches
        #: `batch` events received (each unpacked into single `notification` events).
        self.batches_received = 0
        self.attempts = 0
        self._next = 0

    def positions(self) -> dict[str, common_pb2.StreamPosition]:
        """Per channel, the position a resume starts after (everything up to it was handed out)."""
        return {ch: _position(c) for ch, c in self._cursors.items()}

    def _commands(self) -> list[notifications_pb2.SubscribeRequest]:
        out = []
        for i, channel in enumerate(dict.fromkeys([*self._cursors, *self.channels])):
            cursor = self._cursors.get(channel)
            since = _position(cursor) if cursor else None
            join_leave = self.join_leave and channel in self.channels
            command = pb.SubscribeCommand(channel=channel, since=since, join_leave=join_leave)
            out.append(pb.SubscribeRequest(id=f"r{i}", subscribe=command, accept_batches=self.accept_batches))
        if self.accept_batches and not out:  # only the automatic channels: opt in with a ping
            out.append(pb.SubscribeRequest(id=_OPT_IN, ping=common_pb2.PingCommand(), accept_batches=True))
        return out

    def _accept(self, event: notifications_pb2.SubscribeResponse) -> bool:
        kind = event.WhichOneof("event")
        if kind == "notification":
            n = event.notification
            cursor = self._cursors.get(n.channel)
            if cursor is None:
                self._cursors[n.channel] = _Cursor(n.position.epoch, n.position.offset)
                return True
            return cursor.take(n.position.epoch, n.position.offset)
        if kind == "subscribed":
            s = event.subscribed
            cursor = self._cursors.get(s.channel)
            if cursor is None or (s.resumed and not s.recovered):
                # A fresh channel starts at its top; an unrecoverable gap is skipped (and reported).
                self._cursors[s.channel] = _Cursor(s.position.epoch, s.position.offset)
            return event.command_id != "" or cursor is None  # the automatic ones only the first time
        return not (kind == "pong" and event.command_id == _OPT_IN)

    async def _attempt(self, client: Client) -> AsyncIterator[notifications_pb2.SubscribeResponse]:
        queue: asyncio.Queue[notifications_pb2.SubscribeRequest | None] = asyncio.Queue()
        for command in self._commands():
            queue.put_nowait(command)

        async def requests() -> AsyncIterator[notifications_pb2.SubscribeRequest]:
            while (command := await queue.get()) is not None:
                yield command

        call = client.stub(notifications_pb2_grpc.NotificationServiceStub).Subscribe(requests())
        try:
            async for event in call:
                if event.WhichOneof("event") == "batch":
                    self.batches_received += 1
                    for n in event.batch.notifications:  # as if each had come on its own
                        single = pb.SubscribeResponse(notification=n)
                        if self._accept(single):
                            yield single
                elif self._accept(event):
                    yield event
        finally:
            queue.put_nowait(None)
            call.cancel()

    async def __aiter__(self) -> AsyncIterator[Event]:
        failures = 0
        while True:
            client = self._clients[self._next % len(self._clients)]
            self.attempts += 1
            try:
                async for event in self._attempt(client):
                    if event.WhichOneof("event") in ("notification", "subscribed"):
                        self.backoff.reset()
                        failures = 0
                    yield event
                return
            except grpc.aio.AioRpcError as err:
                failures += 1
                if err.code() not in self.retryable or (
                    self.max_attempts is not None and failures >= self.max_attempts
                ):
                    raise
                self._next += 1  # another replica next time (when there are several)
                delay = self.backoff.delay_after(err)
                yield Reconnecting(err.code(), err.details() or "", delay, failures, retry_after(err))
                await self.backoff.sleep(delay)
