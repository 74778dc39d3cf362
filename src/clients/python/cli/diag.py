"""`realtime whoami|info|echo`: diagnostics of the hub and of the caller's token."""

from __future__ import annotations

import argparse
import time

from realtime.v1 import diagnostics_pb2

from ._context import connect, emit


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("whoami", help="show the identity the hub sees in your token")
    p.set_defaults(func=whoami)
    p = sub.add_parser("info", help="show the hub's version, services and limits")
    p.set_defaults(func=info)
    p = sub.add_parser("echo", help="round-trip a payload through the hub")
    p.add_argument("payload", nargs="?", default="ping")
    p.add_argument("--count", type=int, default=1, help="how many round trips")
    p.set_defaults(func=echo)


async def whoami(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await client.diagnostics.GetIdentity(
            diagnostics_pb2.GetIdentityRequest(), timeout=args.timeout
        )
        emit(args, reply, f"{reply.subject} roles={','.join(reply.roles) or '-'}")
    return 0


async def info(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await client.diagnostics.GetServerInfo(
            diagnostics_pb2.GetServerInfoRequest(), timeout=args.timeout
        )
        emit(args, reply, f"hub {reply.version} ({reply.broker}) services: {', '.join(reply.services)}")
    return 0


async def echo(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        for _ in range(max(1, args.count)):
            start = time.perf_counter()
            reply = await client.diagnostics.Echo(
                diagnostics_pb2.EchoRequest(payload=args.payload.encode()), timeout=args.timeout
            )
            ms = (time.perf_counter() - start) * 1000
            emit(
                args,
                {"payload": reply.payload.decode(errors="replace"), "rtt_ms": round(ms, 3)},
                f"{reply.payload.decode(errors='replace')} {ms:.2f} ms",
            )
    return 0
