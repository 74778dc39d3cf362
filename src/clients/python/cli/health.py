"""`realtime health`: grpc.health.v1 Check or Watch."""

from __future__ import annotations

import argparse

from grpc_health.v1 import health_pb2

from ..client import Client
from ._context import emit, tls_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("health", help="check the hub's health (exit 0 only when SERVING)")
    p.add_argument("--service", default="", help="a service name; default: the whole hub")
    p.add_argument("--watch", action="store_true", help="print every status change until interrupted")
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    async with Client(args.server, **tls_kwargs(args)) as client:
        request = health_pb2.HealthCheckRequest(service=args.service)
        name = health_pb2.HealthCheckResponse.ServingStatus.Name
        if not args.watch:
            reply = await client.health.Check(request, timeout=args.timeout)
            status = name(reply.status)
            emit(args, {"service": args.service, "status": status}, status)
            return 0 if status == "SERVING" else 1
        status = "UNKNOWN"
        async for reply in client.health.Watch(request):
            status = name(reply.status)
            emit(args, {"service": args.service, "status": status}, status)
        return 0 if status == "SERVING" else 1
