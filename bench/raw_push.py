"""The fan-out baseline: a bare grpc.aio server that writes the same bytes to every open stream.

`/bench.Push/Subscribe` (bidi, requests ignored) answers once with a `subscribed` event when the
stream is open, then waits; `/bench.Push/Trigger` (unary) wakes every open stream, each of which
writes the same pre-serialized `notification` event. No interceptors, no auth, no per-stream
encoding: the least a grpc.aio process can do to push one message to N streams. Events are
`realtime.v1.SubscribeResponse` bytes so the same client (bench/go/subscribers) reads both.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from realtime.v1 import notifications_pb2

pb = notifications_pb2
OPENED = pb.SubscribeResponse(subscribed=pb.SubscribedEvent(channel="general")).SerializeToString()


class Pusher:
    def __init__(self) -> None:
        self.wake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.offset = 0

    async def subscribe(self, requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        yield OPENED
        while True:
            yield await asyncio.shield(self.wake)

    async def trigger(self, request: bytes, context: Any) -> bytes:
        """Each stream gets the same bytes: a notification like the hub's for this request."""
        self.offset += 1
        publish = pb.PublishRequest.FromString(request)
        event = pb.SubscribeResponse(
            notification=pb.Notification(
                id=f"raw-{self.offset}", channel=publish.channel, title=publish.title, body=publish.body
            )
        )
        event.notification.position.offset = self.offset
        event.notification.time.FromNanoseconds(time.time_ns())
        wake, self.wake = self.wake, asyncio.get_running_loop().create_future()
        wake.set_result(event.SerializeToString())
        return b""


async def serve(port: int) -> None:
    pusher = Pusher()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Push",
                {
                    "Subscribe": grpc.stream_stream_rpc_method_handler(pusher.subscribe),
                    "Trigger": grpc.unary_unary_rpc_method_handler(pusher.trigger),
                },
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
