"""NotificationService: the only notifications module that touches grpc and generated messages."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2

from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc

from ..broker.base import Broker, BrokerUnavailable, Publication, StreamPosition
from ..context import HubContext
from ..platform import tracing
from ..platform.auth import Principal, current_principal
from ..platform.errors import (
    HubError,
    going_away,
    invalid_argument,
    permission_denied,
    unavailable,
)
from ..platform.limits import RateLimiter
from ..platform.protowire import add_preencoding_service
from ..platform.status import error_event
from .channels import GENERAL, ChannelConfig, NamespaceConfig, namespace_of, user_channel, validate_channel
from .config import NotificationsConfig
from .convert import (
    ENCODER,
    listen_channels,
    mark_results,
    position,
    subscribed_event,
    timestamp,
    to_proto,
)
from .idempotency import IDEMPOTENCY_TTL, claim_request_id
from .listing import list_page
from .marks import mark_read
from .model import (
    ENVELOPE_RESERVE,
    Content,
    from_publication,
    validate_content,
    validate_request_id,
)
from .policy import ChannelPolicy
from .presence import PresenceKeeper, is_presence_event
from .quota import PublishQuotas, content_bytes
from .session import (
    NotificationSession,
    QueueBudgets,
    SubscriptionCounter,
)
from .stats import STATS_CHANNEL, StatsPublisher
from .wire import LISTEN, MAX_BATCH_BYTES, SUBSCRIBE, Pacer

SERVICE = "realtime.v1.NotificationService"
#: For done-callbacks that read no context variable: add_done_callback would copy the context
#: for each (a Context per pending read of every idle stream).
NO_CONTEXT = contextvars.Context()

pb = notifications_pb2


def _broker_down(exc: BrokerUnavailable) -> HubError:
    """The one mapping of a lost broker to a status: UNAVAILABLE, retry in a second."""
    return unavailable(f"broker unavailable: {exc}", reason="BROKER_UNAVAILABLE", retry_after=1.0)


_R = TypeVar("_R")


def _maps_broker_errors(
    method: Callable[[Any, Any, Any], Awaitable[_R]],
) -> Callable[[Any, Any, Any], Awaitable[_R]]:
    """A unary handler whose BrokerUnavailable becomes UNAVAILABLE / BROKER_UNAVAILABLE."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: Any) -> _R:
        try:
            return await method(self, request, context)
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc

    return handler


def _live(session: NotificationSession) -> Callable[[], Publication | None]:
    """The stream's `take`; with tracing on, each notification handed out is recorded as delivered
    in its publisher's trace."""
    if tracing.spans is None:
        return session.take

    def take() -> Publication | None:
        pub = session.take()
        if pub is not None and not is_presence_event(pub):
            tracing.delivered(pub.meta, "notifications.deliver", **{"realtime.channel": pub.channel})
        return pub

    return take


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
        self.budgets = QueueBudgets(config.user_queue_bytes)
        self.presence = PresenceKeeper(broker, config.presence_ttl)
        self.publish_rate = RateLimiter(config.publish_rate, config.publish_burst)
        self.queue_bytes = config.queue_bytes
        # validate_content keeps ENVELOPE_RESERVE of this for the event's own fields.
        self.max_notification_bytes = min(
            config.max_notification_bytes + ENVELOPE_RESERVE, hub.settings.max_message_bytes
        )
        # A ListNotifications page stops short of the message limit (the token and envelope fit).
        self.page_bytes = hub.settings.max_message_bytes - ENVELOPE_RESERVE
        self.quotas = PublishQuotas(broker, config)
        # A batch event must fit the hub's message size (grpc refuses bigger writes).
        self.batch_bytes = min(MAX_BATCH_BYTES, hub.settings.max_message_bytes // 2)

    # -- the stream ---------------------------------------------------------------
    async def Subscribe(
        self, requests: AsyncIterator[notifications_pb2.SubscribeRequest], context: Any
    ) -> AsyncIterator[notifications_pb2.SubscribeResponse | bytes]:
        who = current_principal()
        # An idle subscriber stream should cost little memory: no task beyond the read of the next
        # command, and one future to wait on (the subscription's `ready()`), which a publication,
        # the next command (`command_arrived`) and shutdown (which cancels the pending read) complete.
        # asyncio.wait would hold a set, a waiter, callbacks and two coroutine frames per stream.
        nxt: asyncio.Future[Any] | None = None
        session: NotificationSession | None = None
        batches = False  # set by the first command with accept_batches
        pacer = Pacer(self.settings.batch_delay)
        try:
            session = self._session(who)
            for channel in (GENERAL, user_channel(who.subject)):
                at = (await session.subscribe(channel, None)).position
                yield pb.SubscribeResponse(
                    subscribed=pb.SubscribedEvent(channel=channel, position=position(at))
                )
            del at  # an idle stream's frame keeps nothing of its opening
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(anext(requests))  # type: ignore[arg-type]
                    nxt.add_done_callback(session.command_arrived, context=NO_CONTEXT)
                    self._hub.shutdown.interrupt(nxt)
                if not self._hub.shutdown.started and not nxt.done():
                    # Awaiting it directly is fine: ready() hands out a fresh future once this one
                    # is done or cancelled. A wake-up may be spurious; the loop just goes round.
                    await session.ready()
                if self._hub.shutdown.started:  # say so, then end (clients resume elsewhere)
                    yield pb.SubscribeResponse(going_away=self._going_away())
                    raise going_away()
                # Live publications, a bounded drain between commands; session.take raises the
                # stream's end (slow consumer, broker lost) once what it handed out is sent.
                if batches:
                    await pacer.wait(session.queued)
                for encoded in ENCODER.events(
                    _live(session), SUBSCRIBE, batches=batches, max_bytes=self.batch_bytes
                ):
                    yield encoded
                    pacer.wrote()
                if nxt.done():
                    task, nxt = nxt, None
                    try:
                        command = task.result()
                    except StopAsyncIteration:
                        return
                    batches = batches or command.accept_batches
                    async for event in self._command(session, command, batches):
                        yield event
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()
            if session is not None:
                with contextlib.suppress(Exception):
                    await session.close()

    def _session(self, who: Principal) -> NotificationSession:
        return NotificationSession(
            self._broker,
            self.policy,
            who,
            f"{self._hub.instance_id}-{secrets.token_hex(6)}",
            config=self.config,
            counter=self.counter,
            presence=self.presence,
            max_queue_bytes=self.queue_bytes,
            budgets=self.budgets,
        )

    async def Listen(
        self, request: notifications_pb2.ListenRequest, context: Any
    ) -> AsyncIterator[notifications_pb2.ListenResponse | bytes]:
        who = current_principal()
        batches = request.accept_batches
        pacer = Pacer(self.settings.batch_delay if batches else 0.0)
        wanted = listen_channels(request, self.settings.max_subscriptions_per_user)
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session: NotificationSession | None = None
        try:
            session = self._session(who)
            stop.add_done_callback(session.command_arrived, context=NO_CONTEXT)  # shutdown wakes the loop
            self._hub.shutdown.interrupt(stop)
            for channel, since, join_leave in wanted:
                done = await session.subscribe(channel, since, join_leave)
                yield pb.ListenResponse(subscribed=subscribed_event(done))
                for encoded in ENCODER.replay(
                    done.replay, LISTEN, batches=batches, max_bytes=self.batch_bytes
                ):
                    yield encoded
            while True:
                if not self._hub.shutdown.started:
                    await session.ready()
                if self._hub.shutdown.started:
                    yield pb.ListenResponse(going_away=self._going_away())
                    raise going_away()
                await pacer.wait(session.queued)
                for encoded in ENCODER.events(
                    _live(session), LISTEN, batches=batches, max_bytes=self.batch_bytes
                ):
                    yield encoded
                    pacer.wrote()
        except BrokerUnavailable as exc:
            raise _broker_down(exc) from exc
        finally:
            stop.cancel()
            if session is not None:
                with contextlib.suppress(Exception):
                    await session.close()

    def _going_away(self) -> common_pb2.GoingAwayEvent:
        grace = duration_pb2.Duration()
        grace.FromNanoseconds(int(self._hub.shutdown.grace * 1e9))
        return common_pb2.GoingAwayEvent(reason="server shutting down", grace=grace)

    async def _command(
        self, session: NotificationSession, command: notifications_pb2.SubscribeRequest, batches: bool
    ) -> AsyncIterator[notifications_pb2.SubscribeResponse | bytes]:
        cid = command.id
        kind = command.WhichOneof("command")
        try:
            if kind == "subscribe":
                sc = command.subscribe
                since = StreamPosition(sc.since.epoch, sc.since.offset) if sc.HasField("since") else None
                done = await session.subscribe(sc.channel, since, sc.join_leave)
                yield pb.SubscribeResponse(command_id=cid, subscribed=subscribed_event(done))
                for encoded in ENCODER.replay(
                    done.replay, SUBSCRIBE, batches=batches, max_bytes=self.batch_bytes
                ):
                    yield encoded
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
                ids = list(command.mark_read.notification_ids)
                new, results = await mark_read(self._broker, self.policy, session.who, ids)
                yield pb.SubscribeResponse(
                    command_id=cid,
                    marked_read=pb.MarkedReadEvent(newly_read=new, results=mark_results(results)),
                )
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
    @_maps_broker_errors
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
        validate_content(content, self.max_notification_bytes)
        claim = None
        if request.request_id:
            validate_request_id(request.request_id)
            claim = await claim_request_id(self._broker, who.subject, channel, request.request_id, content)
        ns = self.config.for_channel(channel)
        # A retry of a publication (its request id already stands for this content) is not
        # charged again: it adds nothing. Should it publish after all (the first call was
        # refused), it is charged afterwards, so the counts stay true.
        retry = bool(request.request_id) and claim is None
        quota = not who.is_admin and namespace_of(channel) in self.policy.open_namespaces
        size = content_bytes(content.title, content.body, content.data, content.content_type)
        if not who.is_admin:  # admins are the application's own back ends: not throttled here
            try:
                self.publish_rate.acquire(who.subject)
                if quota and not retry:
                    await self.quotas.charge(who.subject, channel, size, ns)
            except HubError:
                if claim is not None:  # refused before publishing: the request id stays free
                    await claim.release()
                raise
        pub, duplicate = await self._broker.publish(
            channel,
            content.data,
            meta=tracing.publication_meta(content.meta()),
            history_size=ns.history_size,
            history_ttl=ns.history_ttl,
            idempotency_key=f"{who.subject}:{request.request_id}" if request.request_id else None,
            idempotency_ttl=IDEMPOTENCY_TTL,
        )
        if quota and retry and not duplicate:
            await self.quotas.charge(who.subject, channel, size, ns, force=True)
        n = from_publication(pub)
        return pb.PublishResponse(id=n.id, position=position(pub.position), duplicate=duplicate)

    @_maps_broker_errors
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
        page = await list_page(
            self._broker,
            who.subject,
            channels,
            unread_only=request.unread_only,
            page_size=request.page_size,
            page_token=request.page_token,
            max_bytes=self.page_bytes,
        )
        return pb.ListNotificationsResponse(
            notifications=[to_proto(n, read) for n, read in page.notifications],
            next_page_token=page.next_page_token,
        )

    @_maps_broker_errors
    async def MarkRead(
        self, request: notifications_pb2.MarkReadRequest, context: Any
    ) -> notifications_pb2.MarkReadResponse:
        who = current_principal()
        new, results = await mark_read(self._broker, self.policy, who, list(request.notification_ids))
        return pb.MarkReadResponse(newly_read=new, results=mark_results(results))

    @_maps_broker_errors
    async def GetChannelStats(
        self, request: notifications_pb2.GetChannelStatsRequest, context: Any
    ) -> notifications_pb2.GetChannelStatsResponse:
        who = current_principal()
        if not who.is_admin:
            raise permission_denied("channel stats need the admin role")
        channel = validate_channel(request.channel)
        hist = await self._broker.history(channel)
        present = await self._broker.presence(channel)
        minute_ago = self._broker.clock() - 60.0
        return pb.GetChannelStatsResponse(
            channel=channel,
            subscribers=self._broker.subscriber_count(channel),
            present=len(present),
            publications_last_minute=sum(1 for p in hist.publications if p.time >= minute_ago),
            history_size=len(hist.publications),
            position=position(hist.position),
        )

    @_maps_broker_errors
    async def GetPresence(
        self, request: notifications_pb2.GetPresenceRequest, context: Any
    ) -> notifications_pb2.GetPresenceResponse:
        who = current_principal()
        channel = validate_channel(request.channel)
        await self.policy.check_read(who, channel)
        entries = await self._broker.presence(channel)
        return pb.GetPresenceResponse(
            entries=[
                pb.ChannelPresenceEntry(
                    client_id=e.client_id, user_id=e.user_id, expires_at=timestamp(e.expires_at)
                )
                for e in sorted(entries.values(), key=lambda e: e.client_id)
            ]
        )


def add_to_server(servicer: NotificationServicer, server: grpc.aio.Server) -> None:
    """Like the generated `add_NotificationServiceServicer_to_server`, but a response may be bytes
    the service serialized itself (one encoding shared by every subscriber of a publication)."""
    add_preencoding_service(server, servicer, pb, "NotificationService")


async def register(hub: HubContext) -> list[str]:
    if hub.broker is None:
        raise RuntimeError("notifications need a broker (HubContext.broker)")
    config = NotificationsConfig.load(hub.settings.extra.get("notifications"))
    servicer = NotificationServicer(hub, hub.broker, config)
    add_to_server(servicer, hub.server)
    hub.spawn(servicer.presence.run(), name="notifications-presence")
    if config.stats_interval > 0:
        stats = StatsPublisher(hub.broker, hub.metrics, hub.instance_id, config.stats_interval)
        hub.spawn(stats.run(), name=f"notifications-{STATS_CHANNEL}")
    return [SERVICE]
