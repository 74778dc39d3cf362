"""`realtime notify subscribe|publish|list|read|stats|presence`: channels, history and read state."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from realtime.client import NotificationSubscription, Reconnecting
from realtime.v1 import common_pb2, notifications_pb2, notifications_pb2_grpc

from ._context import connect, emit

pb = notifications_pb2
_LEVELS = {
    "info": pb.NOTIFICATION_LEVEL_INFO,
    "success": pb.NOTIFICATION_LEVEL_SUCCESS,
    "warning": pb.NOTIFICATION_LEVEL_WARNING,
    "error": pb.NOTIFICATION_LEVEL_ERROR,
}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("notify", help="subscribe to channels, publish, list history, mark read")
    nsub = p.add_subparsers(dest="notify_command", required=True, metavar="SUBCOMMAND")

    s = nsub.add_parser(
        "subscribe",
        help="print notifications as they arrive (general and user:{you} are always included)",
    )
    s.add_argument("channels", nargs="*", metavar="CHANNEL", help="more channels, e.g. topic:news")
    s.add_argument(
        "--from",
        dest="since",
        metavar="EPOCH:OFFSET",
        help="resume the listed channels after this position (as printed with each notification)",
    )
    s.add_argument("--count", type=int, default=0, help="exit after this many notifications (default: run)")
    s.add_argument(
        "--join-leave", action="store_true", help="also print who joins and leaves the listed channels"
    )
    s.set_defaults(func=subscribe)

    pub = nsub.add_parser("publish", help="publish a notification")
    pub.add_argument("channel", metavar="CHANNEL")
    pub.add_argument("--title", default="", help="short title")
    pub.add_argument("--body", default="", help="text body")
    pub.add_argument("--data", default="", help="application data (a string; see --content-type)")
    pub.add_argument("--content-type", default="", help="media type of --data, e.g. application/json")
    pub.add_argument("--level", choices=sorted(_LEVELS), help="how prominently to show it")
    pub.add_argument("--request-id", default="", help="idempotency key: a retry is not delivered twice")
    pub.set_defaults(func=publish)

    ls = nsub.add_parser("list", help="list history, newest first (default: your own channels)")
    ls.add_argument("--channel", default="", help="one channel instead of general + user:{you}")
    ls.add_argument("--unread", action="store_true", help="only notifications not marked read")
    ls.add_argument("--page-size", type=int, default=20, help="notifications per page (default 20)")
    ls.add_argument("--pages", type=int, default=1, help="how many pages to fetch (default 1)")
    ls.set_defaults(func=list_notifications)

    rd = nsub.add_parser("read", help="mark notifications read (ids as printed by list/subscribe)")
    rd.add_argument("ids", nargs="+", metavar="ID")
    rd.set_defaults(func=mark_read)

    st = nsub.add_parser("stats", help="a channel's subscribers, rate and history (admin)")
    st.add_argument("channel", metavar="CHANNEL")
    st.set_defaults(func=stats)

    pr = nsub.add_parser("presence", help="who is connected to a channel")
    pr.add_argument("channel", metavar="CHANNEL")
    pr.set_defaults(func=presence)


def _stub(client: object) -> notifications_pb2_grpc.NotificationServiceStub:
    return client.stub(notifications_pb2_grpc.NotificationServiceStub)  # type: ignore[attr-defined,no-any-return]


def parse_position(text: str) -> common_pb2.StreamPosition:
    epoch, sep, offset = text.rpartition(":")
    if not sep or not epoch or not offset.isdigit():
        raise ValueError(f"--from expects EPOCH:OFFSET, got {text!r}")
    return common_pb2.StreamPosition(epoch=epoch, offset=int(offset))


def _line(n: notifications_pb2.Notification) -> str:
    when = datetime.fromtimestamp(n.time.ToNanoseconds() / 1e9, UTC).strftime("%H:%M:%S")
    level = _LEVEL_NAMES.get(n.level, "")
    parts = [f"[{n.channel} {n.position.epoch}:{n.position.offset}] {when}"]
    if level:
        parts.append(level.upper())
    if n.title:
        parts.append(n.title)
    if n.body:
        parts.append(f"- {n.body}")
    if n.data:
        parts.append(f"({len(n.data)} bytes {n.content_type})")
    if n.read:
        parts.append("(read)")
    return " ".join(parts) + f"  id={n.id}"


async def subscribe(args: argparse.Namespace) -> int:
    """Follows the channels with a NotificationSubscription: it reconnects with backoff and resumes
    every channel from its last position by itself, and says so."""
    since = parse_position(args.since) if args.since else None
    positions = {channel: since for channel in args.channels} if since is not None else None
    seen = 0
    async with connect(args) as client:
        sub = NotificationSubscription(client, args.channels, positions=positions, join_leave=args.join_leave)
        async for event in sub:
            if isinstance(event, Reconnecting):
                print(
                    f"stream ended ({event.code.name}: {event.message}); "
                    f"reconnecting in {event.delay:.1f} s and resuming",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            kind = event.WhichOneof("event")
            if kind == "notification":
                emit(args, event.notification, _line(event.notification))
                seen += 1
                if args.count and seen >= args.count:
                    break
            elif kind == "subscribed":
                s = event.subscribed
                text = f"subscribed {s.channel} at {s.position.epoch}:{s.position.offset}"
                if s.resumed:
                    why = pb.NotRecoveredReason.Name(s.not_recovered_reason).removeprefix(
                        "NOT_RECOVERED_REASON_"
                    )
                    text += (
                        " (recovered)"
                        if s.recovered
                        else f" (NOT recovered: {why}; reload with `notify list`)"
                    )
                emit(args, event, text)
            elif kind == "presence":
                p = event.presence
                change = pb.PresenceChange.Name(p.change).removeprefix("PRESENCE_CHANGE_").lower()
                emit(args, event, f"{change} {p.channel} {p.user_id} ({p.client_id})")
            elif kind == "error":
                e = event.error
                print(f"error on {event.command_id}: {e.reason}: {e.message}", file=sys.stderr)
            elif kind == "going_away":
                emit(args, event, f"server going away: {event.going_away.reason}")
            else:
                emit(args, event)
    return 0


async def publish(args: argparse.Namespace) -> int:
    request = pb.PublishRequest(
        channel=args.channel,
        title=args.title,
        body=args.body,
        data=args.data.encode(),
        content_type=args.content_type,
        level=_LEVELS[args.level] if args.level else pb.NOTIFICATION_LEVEL_UNSPECIFIED,
        request_id=args.request_id,
    )
    async with connect(args) as client:
        reply = await _stub(client).Publish(request, timeout=args.timeout)
    text = f"{reply.id}" + (" (duplicate: already published)" if reply.duplicate else "")
    emit(args, reply, text)
    return 0


async def list_notifications(args: argparse.Namespace) -> int:
    token = ""
    async with connect(args) as client:
        for _ in range(max(1, args.pages)):
            reply = await _stub(client).ListNotifications(
                pb.ListNotificationsRequest(
                    channel=args.channel, unread_only=args.unread, page_size=args.page_size, page_token=token
                ),
                timeout=args.timeout,
            )
            for n in reply.notifications:
                emit(args, n, _line(n))
            token = reply.next_page_token
            if not token:
                break
    return 0


async def mark_read(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await _stub(client).MarkRead(
            pb.MarkReadRequest(notification_ids=args.ids), timeout=args.timeout
        )
    for r in reply.results:
        if r.status not in (pb.MARK_READ_STATUS_MARKED, pb.MARK_READ_STATUS_ALREADY_READ):
            status = pb.MarkReadStatus.Name(r.status).removeprefix("MARK_READ_STATUS_")
            print(f"not marked {r.notification_id}: {status}: {r.description}", file=sys.stderr)
    emit(args, reply, f"{reply.newly_read} newly marked read")
    return 0


async def stats(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        r = await _stub(client).GetChannelStats(
            pb.GetChannelStatsRequest(channel=args.channel), timeout=args.timeout
        )
    emit(
        args,
        r,
        f"{r.channel}: {r.subscribers} subscribers here, {r.present} present, "
        f"{r.publications_last_minute}/min, {r.history_size} in history, "
        f"at {r.position.epoch}:{r.position.offset}",
    )
    return 0


async def presence(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        r = await _stub(client).GetPresence(pb.GetPresenceRequest(channel=args.channel), timeout=args.timeout)
    if args.json:
        emit(args, r)
    else:
        for e in r.entries:
            print(f"{e.user_id} {e.client_id}", flush=True)
    return 0
