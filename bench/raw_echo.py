"""The baseline: a bare grpc.aio server echoing bytes, no interceptors, no auth, no protobuf."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc


async def unary(request: bytes, context: Any) -> bytes:
    return request


async def bidi(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request


async def sink(requests: AsyncIterator[bytes], context: Any) -> bytes:
    """Client streaming: swallow the chunks, answer with the byte count (the upload baseline)."""
    total = 0
    async for request in requests:
        total += len(request)
    return str(total).encode()


async def serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary),
                    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
                    "Sink": grpc.stream_unary_rpc_method_handler(sink),
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
