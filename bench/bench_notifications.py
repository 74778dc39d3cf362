"""Notifications bench: idle subscriber memory, fan-out latency, channel throughput; memory and Redis.

- Memory per idle subscriber stream with N streams open on one hub process (each stream a
  different user, auto-subscribed to `general` and `user:{id}`), as a ratio to a raw grpc.aio
  idle bidi stream measured in the same run (`echo_idle_stream_bytes`).
- Fan-out: one publish to 1,000 and to N subscribers of one channel: time from the Publish
  call until each subscriber has it (p50, p99, last), memory engine and Redis engine. The
  subscribers live in this one client process, so client-side reading is part of the figure.
- Throughput (the busy channel): publications per second through one channel with 100
  subscribers, published as fast as 32 concurrent callers can (publish calls/s and
  deliveries/s), memory and Redis; ratios to the raw echo unary and bidi rates. Measured twice:
  subscribers that get one event per notification, then subscribers that set `accept_batches`
  (queued notifications arrive in one `batch` event; each notification counts as a delivery).

- Abuse (memory engine, a fresh hub): hub RSS growth while (a) one subscriber stops reading and
  8,000 notifications of 16 KB (8 KB body + 8 KB data) are published to its channel, and (b) one
  ordinary user publishes 400 notifications of 64 KB into 400 new `topic:` channels; with how
  many were accepted and whether the stalled stream was cut off.

BENCH_NOTIFY_STREAMS sets N (default 10,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import grpc

from realtime.v1 import notifications_pb2, notifications_pb2_grpc

from .harness import Proc, free_port, hub, percentile, rss_bytes

pb = notifications_pb2
STREAMS = int(os.environ.get("BENCH_NOTIFY_STREAMS", "10000"))
PER_CHANNEL = 1000  # streams per client connection
THROUGHPUT_SUBSCRIBERS = 100
THROUGHPUT_SECONDS = 5.0


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """127.0.0.1:6379 if it answers, else a throwaway redis-server; a fresh key prefix either way."""
    prefix = f"bench-{secrets.token_hex(4)}:"
    if _pong(6379):
        yield f"redis://127.0.0.1:6379/0?prefix={prefix}"
        _cleanup(6379, prefix)
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis on 127.0.0.1:6379 and redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _pong(port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0?prefix={prefix}"
    finally:
        proc.kill()
        proc.wait(10)


def _cleanup(port: int, prefix: str) -> None:
    import redis

    client = redis.Redis(port=port)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    finally:
        client.close()


class Subscribers:
    """Many Subscribe streams from this process, spread over client connections."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.channels: list[grpc.aio.Channel] = []
        self.calls: list[Any] = []

    async def open(self, n: int, user_prefix: str) -> None:
        opts = [("grpc.max_receive_message_length", 4 << 20)]
        start = len(self.calls)
        for base in range(start, start + n, PER_CHANNEL):
            ch = grpc.aio.insecure_channel(self.proc.target, options=opts)
            self.channels.append(ch)
            stub = notifications_pb2_grpc.NotificationServiceStub(ch)
            batch = []
            for i in range(base, min(start + n, base + PER_CHANNEL)):
                md = (("authorization", f"Bearer {self.proc.token(f'{user_prefix}{i}', roles=())}"),)
                batch.append(stub.Subscribe(metadata=md))
            for j in range(0, len(batch), 200):
                part = batch[j : j + 200]
                # Each stream answers with two `subscribed` events (general, user:{id}) once it is open.
                await asyncio.gather(*(_read_n(call, 2) for call in part))
            self.calls.extend(batch)

    async def subscribe(self, calls: list[Any], channel: str, accept_batches: bool = False) -> None:
        command = pb.SubscribeCommand(channel=channel)
        for call in calls:
            await call.write(pb.SubscribeRequest(id="x", subscribe=command, accept_batches=accept_batches))
        for event in await asyncio.gather(*(call.read() for call in calls)):
            if event is grpc.aio.EOF or event.WhichOneof("event") != "subscribed":
                raise RuntimeError(f"subscribe to {channel} failed: {event}")

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        for ch in self.channels:
            await ch.close()


async def _read_n(call: Any, n: int) -> None:
    for _ in range(n):
        event = await call.read()
        if event is grpc.aio.EOF:
            raise RuntimeError("stream ended")


async def fan_out(proc: Proc, calls: list[Any], channel: str, rounds: int) -> dict[str, float]:
    """Publish `rounds` times to `channel`; latency from the Publish call to each subscriber's receipt."""
    async with grpc.aio.insecure_channel(proc.target) as ch:
        publish = notifications_pb2_grpc.NotificationServiceStub(ch).Publish
        md = proc.metadata("admin-bench")
        latencies: list[float] = []
        lasts: list[float] = []

        async def receive(call: Any) -> float:
            event = await call.read()
            if event is grpc.aio.EOF:
                raise RuntimeError("stream ended")
            return time.perf_counter()

        for _ in range(rounds):
            readers = [asyncio.ensure_future(receive(c)) for c in calls]
            await asyncio.sleep(0.2)
            t0 = time.perf_counter()
            await publish(pb.PublishRequest(channel=channel, title="fan-out"), metadata=md, timeout=30)
            async with asyncio.timeout(120):
                times = await asyncio.gather(*readers)
            lat = [t - t0 for t in times]
            latencies.extend(lat)
            lasts.append(max(lat))
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "last_ms": sorted(lasts)[len(lasts) // 2] * 1000,
    }


async def throughput(proc: Proc, subs: Subscribers, accept_batches: bool = False) -> dict[str, float]:
    start = len(subs.calls)
    channel = "topic:tput-batched" if accept_batches else "topic:tput"
    await subs.open(THROUGHPUT_SUBSCRIBERS, "tb" if accept_batches else "t")
    calls = subs.calls[start:]
    await subs.subscribe(calls, channel, accept_batches)
    delivered = 0
    messages = 0
    stop = asyncio.Event()

    async def count(call: Any) -> None:
        nonlocal delivered, messages
        while not stop.is_set():
            event = await call.read()
            if event is grpc.aio.EOF:
                return
            messages += 1
            delivered += len(event.batch.notifications) if event.WhichOneof("event") == "batch" else 1

    counters = [asyncio.ensure_future(count(c)) for c in calls]
    published = 0
    async with grpc.aio.insecure_channel(proc.target) as ch:
        publish = notifications_pb2_grpc.NotificationServiceStub(ch).Publish
        md = proc.metadata("writer")
        request = pb.PublishRequest(channel=channel, title="t", data=b"x" * 64, content_type="x/y")
        end = time.perf_counter() + THROUGHPUT_SECONDS
        begin_delivered, begin_messages = delivered, messages

        async def writer() -> None:
            nonlocal published
            while time.perf_counter() < end:
                await publish(request, metadata=md, timeout=30)
                published += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(32)))
        elapsed = time.perf_counter() - t0
        got = delivered - begin_delivered
        sent = messages - begin_messages
    stop.set()
    for c in counters:
        c.cancel()
    return {
        "publish_per_s": published / elapsed,
        "deliveries_per_s": got / elapsed,
        "messages_per_s": sent / elapsed,
    }


async def engine(
    figures: dict[str, float], name: str, proc: Proc, base: dict[str, float], idle: bool
) -> None:
    subs = Subscribers(proc)
    try:
        before = rss_bytes(proc.proc.pid)
        await subs.open(STREAMS, "u")
        await asyncio.sleep(1.0)
        if idle:
            per_stream = (rss_bytes(proc.proc.pid) - before) / STREAMS
            figures["idle_subscriber_stream_bytes"] = per_stream
            figures["idle_subscriber_memory_ratio"] = per_stream / base["echo_idle_stream_bytes"]
        small = subs.calls[:1000]
        await subs.subscribe(small, "topic:fan1k")
        for key, value in (await fan_out(proc, small, "topic:fan1k", rounds=5)).items():
            figures[f"{name}_fanout_1000_{key}"] = value
        for key, value in (await fan_out(proc, subs.calls[:STREAMS], "general", rounds=3)).items():
            figures[f"{name}_fanout_{STREAMS}_{key}"] = value
        tput = await throughput(proc, subs)
        figures[f"{name}_channel_publish_per_s"] = tput["publish_per_s"]
        figures[f"{name}_channel_deliveries_per_s_100_subs"] = tput["deliveries_per_s"]
        figures[f"{name}_publish_vs_echo_unary_ratio"] = (
            tput["publish_per_s"] / base["echo_unary_calls_per_s"]
        )
        figures[f"{name}_deliveries_vs_echo_bidi_ratio"] = (
            tput["deliveries_per_s"] / base["echo_bidi_msgs_per_s"]
        )
        batched = await throughput(proc, subs, accept_batches=True)
        figures[f"{name}_batched_channel_publish_per_s"] = batched["publish_per_s"]
        figures[f"{name}_batched_channel_deliveries_per_s_100_subs"] = batched["deliveries_per_s"]
        figures[f"{name}_batched_channel_messages_per_s_100_subs"] = batched["messages_per_s"]
        figures[f"{name}_batched_deliveries_vs_echo_bidi_ratio"] = (
            batched["deliveries_per_s"] / base["echo_bidi_msgs_per_s"]
        )
    finally:
        await subs.close()


async def abuse(proc: Proc) -> dict[str, float]:
    """The two abuse patterns of issue 13, as RSS growth of the hub process."""
    out: dict[str, float] = {}
    async with grpc.aio.insecure_channel(proc.target) as ch:
        api = notifications_pb2_grpc.NotificationServiceStub(ch)
        admin, user = (
            proc.metadata("admin-bench"),
            (("authorization", f"Bearer {proc.token('mallory', ())}"),),
        )
        before = rss_bytes(proc.proc.pid)
        async with grpc.aio.insecure_channel(proc.target) as stalled_ch:
            stalled = notifications_pb2_grpc.NotificationServiceStub(stalled_ch).Subscribe(
                metadata=(("authorization", f"Bearer {proc.token('staller', ())}"),)
            )
            await stalled.write(
                pb.SubscribeRequest(id="s", subscribe=pb.SubscribeCommand(channel="topic:stall"))
            )
            await _read_n(stalled, 3)  # general, user:staller, topic:stall; then it stops reading
            request = pb.PublishRequest(
                channel="topic:stall", title="t", body="b" * 8192, data=b"d" * 8192, content_type="x/y"
            )
            for _ in range(8000):
                await api.Publish(request, metadata=admin, timeout=30)
            out["abuse_stalled_rss_growth_mb"] = (rss_bytes(proc.proc.pid) - before) / 2**20
            cut_off = 0.0
            try:
                async with asyncio.timeout(60):
                    while (await stalled.read()) is not grpc.aio.EOF:
                        pass
            except grpc.aio.AioRpcError as err:
                cut_off = float(err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED)
            out["abuse_stalled_cut_off"] = cut_off
        before = rss_bytes(proc.proc.pid)
        accepted = 0
        for i in range(400):
            spam = pb.PublishRequest(
                channel=f"topic:spam-{i}", title="x", data=b"s" * 60_000, content_type="x/y"
            )
            try:
                await api.Publish(spam, metadata=user, timeout=30)
                accepted += 1
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
        out["abuse_user_accepted_of_400"] = float(accepted)
        out["abuse_user_rss_growth_mb"] = (rss_bytes(proc.proc.pid) - before) / 2**20
    return out


async def run(base: dict[str, Any]) -> dict[str, float]:
    figures: dict[str, float] = {"streams": float(STREAMS)}
    with environment(REALTIME_NOTIFICATIONS_PUBLISH_RATE="0", REALTIME_NOTIFICATIONS_STATS_INTERVAL="0"):
        with hub() as proc:
            figures.update(await abuse(proc))
        with hub() as proc:
            await engine(figures, "memory", proc, base, idle=True)
        with redis_url() as url, hub(f"--broker={url}") as proc:
            await engine(figures, "redis", proc, base, idle=False)
    return figures
