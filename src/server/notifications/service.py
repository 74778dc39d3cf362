"""NotificationService: the only notifications module that touches grpc and generated messages."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc

from ..broker.base import Broker, BrokerUnavailable, StreamPosition, SubscriptionClosed
from ..context import HubContext
from ..platform import tracing
from ..platform.auth import current_principal
from ..platform.errors import HubError, going_away, invalid_argument, permission_denied, unavailable
from ..platform.limits import RateLimiter
from ..platform.status import error_event
from .channels import (
    GENERAL,
    ChannelConfig,
    NamespaceConfig,
    parse_notification_id,
    user_channel,
    validate_channel,
)
from .config import NotificationsConfig
from .listing import list_page
from .model import Content, Notification, from_publication, validate_content, validate_request_id
from .policy import ChannelPolicy
from .presence import PresenceKeeper
from .session import NotificationSession, SubscriptionCounter, session_error
from .stats import STATS_CHANNEL, StatsPublisher

SERVICE = "realtime.v1.NotificationService"
MAX_IDS = 1000
IDEMPOTENCY_TTL = 300.0
DRAIN_BATCH = 64


pb = notifications_pb2


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def _position(pos: StreamPosition) -> common_pb2.StreamPosition:
    return common_pb2.StreamPosition(epoch=pos.epoch, offset=pos.offset)


def to_proto(n: Notification, read: bool = False) -> notifications_pb2.Notification:
    c = n.content
    return pb.Notification(
        id=n.id,
        channel=n.channel,
        position=common_pb2.StreamPosition(epoch=n.epoch, offset=n.offset),
        time=_timestamp(n.time),
        title=c.title,
        body=c.body,
        data=c.data,
        content_type=c.content_type,
        level=c.level,
        read=read,
        publisher=c.publisher,
    )


def _broker_down(exc: BrokerUnavailable) -> HubError:
    return unavailable(f"broker unavailable: {exc}", reason="BROKER_UNAVAILABLE", retry_after=1.0)


def _check_ids(values: Any) -> list[str]:
    ids = [str(v) for v in values]
    if len(ids) > MAX_IDS:
        raise invalid_argument("too many ids", [("notification_ids", f"at most {MAX_IDS}")])
    for value in ids:
        parse_notification_id(value)
    return ids


class NotificationServicer(notifications_pb2_grpc.NotificationServiceServicer):
    def __init__(self, hub: HubContext, broker: Broker, config: NotificationsConfig) -> None:
        self._hub = hub
        self._broker = broker
        self.settings = config
        self.config = ChannelConfig(
            default=NamespaceConfig(history_size=config.history_size, history_ttl=config.history_ttl)
        )
        self.policy = ChannelPolicy(broker, config.open_namespaces)
        self.counter = SubscriptionCounter(config.max_subscriptions_per_user)
        self.presence = PresenceKeeper(broker, config.presence_ttl)
        self.publish_rate = RateLimiter(config.publish_rate, config.publish_burst)
        self.queue_bytes = config.queue_bytes
        self.max_message_bytes = hub.settings.max_message_bytes

    # -- the stream ---------------------------------------------------------------
    async def Subscribe(
        self, requests: AsyncIterator[notifications_pb2.SubscribeRequest], context: Any
    ) -> AsyncIterator[notifications_pb2.SubscribeResponse]:
        who = current_principal()
        try:
            session = NotificationSession(
                self._broker,
                self.policy,
                who,
                f"{self._hub.instance_id}-{secrets.token_hex(6)}",
                config=self.config,
                counter=self.counter,
                presence=self.presence,
                max_queue_bytes=self.queue_bytes,
            )
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        # An idle subscriber stream should cost little memory: no task beyond the read of the next
        # command, and one future to wait on (the subscription's `ready()`), which a publication,
        # the next command (`command_arrived`) and shutdown (which cancels the pending read) complete.
        # asyncio.wait would hold a set, a waiter, callbacks and two coroutine frames per stream.
        nxt: asyncio.Future[Any] | None = None
        try:
            for channel in (GENERAL, user_channel(who.subject)):
                done = await session.subscribe(channel, None)
                yield pb.SubscribeResponse(
                    subscribed=pb.SubscribedEvent(channel=channel, position=_position(done.position))
                )
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(anext(requests))  # type: ignore[arg-type]
                    nxt.add_done_callback(session.command_arrived)
                    self._hub.shutdown.interrupt(nxt)
                if not self._hub.shutdown.started and not nxt.done():
                    # Awaiting it directly is fine: ready() hands out a fresh future once this one
                    # is done or cancelled. A wake-up may be spurious; the loop just goes round.
                    await session.sub.ready()
                if self._hub.shutdown.started:  # say so, then end (clients resume elsewhere)
                    grace = duration_pb2.Duration()
                    grace.FromNanoseconds(int(self._hub.shutdown.grace * 1e9))
                    yield pb.SubscribeResponse(
                        going_away=common_pb2.GoingAwayEvent(reason="server shutting down", grace=grace)
                    )
                    raise going_away()
                for _ in range(DRAIN_BATCH):  # live publications, a batch at a time between commands
                    try:
                        pub = session.sub.get_nowait()
                    except SubscriptionClosed as closed:
                        raise session_error(closed.reason) from None
                    if pub is None:
                        break
                    if session.accept(pub):
                        if tracing.spans is not None:
                            tracing.delivered(
                                pub.meta, "notifications.deliver", **{"realtime.channel": pub.channel}
                            )
                        yield pb.SubscribeResponse(notification=to_proto(from_publication(pub)))
                if nxt.done():
                    task, nxt = nxt, None
                    try:
                        command = task.result()
                    except StopAsyncIteration:
                        return
                    async for event in self._command(session, command):
                        yield event
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()
            with contextlib.suppress(Exception):
                await session.close()

    async def _command(
        self, session: NotificationSession, command: notifications_pb2.SubscribeRequest
    ) -> AsyncIterator[notifications_pb2.SubscribeResponse]:
        cid = command.id
        kind = command.WhichOneof("command")
        try:
            if kind == "subscribe":
                sc = command.subscribe
                since = StreamPosition(sc.since.epoch, sc.since.offset) if sc.HasField("since") else None
                done = await session.subscribe(sc.channel, since)
                yield pb.SubscribeResponse(
                    command_id=cid,
                    subscribed=pb.SubscribedEvent(
                        channel=done.channel,
                        position=_position(done.position),
                        resumed=done.resumed,
                        recovered=done.recovered,
                    ),
                )
                for pub in done.replay:
                    yield pb.SubscribeResponse(notification=to_proto(from_publication(pub)))
            elif kind == "unsubscribe":
                channel = command.unsubscribe.channel
                if not await session.unsubscribe(channel):
                    raise invalid_argument(
                        f"not subscribed to {channel!r}", [("channel", "not subscribed on this stream")]
                    )
                yield pb.SubscribeResponse(
                    command_id=cid,
                    unsubscribed=pb.UnsubscribedEvent(channel=channel, reason=pb.UNSUBSCRIBE_REASON_CLIENT),
                )
            elif kind == "mark_read":
                ids = _check_ids(command.mark_read.notification_ids)
                new = await self._broker.mark_read(session.who.subject, ids)
                yield pb.SubscribeResponse(command_id=cid, marked_read=pb.MarkedReadEvent(newly_read=new))
            elif kind == "ping":
                yield pb.SubscribeResponse(command_id=cid, pong=common_pb2.PongEvent())
            else:
                raise invalid_argument(
                    "command is empty: set subscribe, unsubscribe, mark_read or ping",
                    [("command", "no command")],
                )
        except HubError as err:
            yield pb.SubscribeResponse(command_id=cid, error=error_event(err, cid))
        except BrokerUnavailable as exc:
            down = _broker_down(exc)
            yield pb.SubscribeResponse(command_id=cid, error=error_event(down, cid))

    # -- unary -------------------------------------------------------------------------
    async def Publish(
        self, request: notifications_pb2.PublishRequest, context: Any
    ) -> notifications_pb2.PublishResponse:
        who = current_principal()
        channel = validate_channel(request.channel)
        await self.policy.check_publish(who, channel)
        content = Content(
            title=request.title,
            body=request.body,
            data=request.data,
            content_type=request.content_type,
            level=int(request.level),
            publisher=who.subject,
        )
        validate_content(content, self.max_message_bytes)
        if request.request_id:
            validate_request_id(request.request_id)
        if not who.is_admin:  # admins are the application's own back ends: not throttled here
            self.publish_rate.acquire(who.subject)
        ns = self.config.for_channel(channel)
        try:
            pub, duplicate = await self._broker.publish(
                channel,
                content.data,
                meta=tracing.publication_meta(content.meta()),
                history_size=ns.history_size,
                history_ttl=ns.history_ttl,
                idempotency_key=f"{who.subject}:{request.request_id}" if request.request_id else None,
                idempotency_ttl=IDEMPOTENCY_TTL,
            )
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        n = from_publication(pub)
        return pb.PublishResponse(id=n.id, position=_position(pub.position), duplicate=duplicate)

    async def ListNotifications(
        self, request: notifications_pb2.ListNotificationsRequest, context: Any
    ) -> notifications_pb2.ListNotificationsResponse:
        who = current_principal()
        if request.channel:
            channel = validate_channel(request.channel)
            await self.policy.check_read(who, channel)
            channels = [channel]
        else:
            channels = [GENERAL, user_channel(who.subject)]
        try:
            page = await list_page(
                self._broker,
                who.subject,
                channels,
                unread_only=request.unread_only,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        return pb.ListNotificationsResponse(
            notifications=[to_proto(n, read) for n, read in page.notifications],
            next_page_token=page.next_page_token,
        )

    async def MarkRead(
        self, request: notifications_pb2.MarkReadRequest, context: Any
    ) -> notifications_pb2.MarkReadResponse:
        who = current_principal()
        ids = _check_ids(request.notification_ids)
        try:
            new = await self._broker.mark_read(who.subject, ids)
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        return pb.MarkReadResponse(newly_read=new)

    async def GetChannelStats(
        self, request: notifications_pb2.GetChannelStatsRequest, context: Any
    ) -> notifications_pb2.GetChannelStatsResponse:
        who = current_principal()
        if not who.is_admin:
            raise permission_denied("channel stats need the admin role")
        channel = validate_channel(request.channel)
        try:
            hist = await self._broker.history(channel)
            present = await self._broker.presence(channel)
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        minute_ago = self._broker.clock() - 60.0
        return pb.GetChannelStatsResponse(
            channel=channel,
            subscribers=self._broker.subscriber_count(channel),
            present=len(present),
            publications_last_minute=sum(1 for p in hist.publications if p.time >= minute_ago),
            history_size=len(hist.publications),
            position=_position(hist.position),
        )

    async def GetPresence(
        self, request: notifications_pb2.GetPresenceRequest, context: Any
    ) -> notifications_pb2.GetPresenceResponse:
        who = current_principal()
        channel = validate_channel(request.channel)
        await self.policy.check_read(who, channel)
        try:
            entries = await self._broker.presence(channel)
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        return pb.GetPresenceResponse(
            entries=[
                pb.ChannelPresenceEntry(
                    client_id=e.client_id, user_id=e.user_id, expires_at=_timestamp(e.expires_at)
                )
                for e in sorted(entries.values(), key=lambda e: e.client_id)
            ]
        )


async def register(hub: HubContext) -> list[str]:
    if hub.broker is None:
        raise RuntimeError("notifications need a broker (HubContext.broker)")
    config = NotificationsConfig.load(hub.settings.extra.get("notifications"))
    servicer = NotificationServicer(hub, hub.broker, config)
    notifications_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, hub.server)
    hub.spawn(servicer.presence.run(), name="notifications-presence")
    if config.stats_interval > 0:
        stats = StatsPublisher(hub.broker, hub.metrics, hub.instance_id, config.stats_interval)
        hub.spawn(stats.run(), name=f"notifications-{STATS_CHANNEL}")
    return [SERVICE]
