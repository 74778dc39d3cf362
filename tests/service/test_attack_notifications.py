"""Attacks on notifications through a real hub: the same call twice and twenty times, several
users at once, and collisions between streams, on every broker engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime.server.testing import TestHub
from tests.redis_server import delete_prefix, test_prefix

from .notify_support import notify_hub, open_stream, pb, stub


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> AsyncIterator[TestHub]:
    if request.param == "memory":
        async with notify_hub(tmp_path) as h:
            yield h
        return
    if request.param == "sqlite":
        async with notify_hub(tmp_path, broker=f"sqlite://{tmp_path}/hub.db") as h:
            yield h
        return
    prefix = test_prefix()
    try:
        async with notify_hub(tmp_path, broker=f"{redis_url}?prefix={prefix}") as h:
            yield h
    finally:
        await delete_prefix(redis_url, prefix)


async def test_mark_read_of_the_same_ids_at_once_marks_each_once(hub: TestHub) -> None:
    """Twenty MarkRead calls of the same ids at once (unary and on two streams): each id is
    reported MARKED by exactly one of them and `newly_read` adds up to the number of ids."""
    async with hub.client("root", roles=["admin"]) as root:
        ids = [
            (await stub(root).Publish(pb.PublishRequest(channel="user:alice", title=f"n{i}"), timeout=5)).id
            for i in range(10)
        ]
    async with hub.client("alice") as alice:
        api = stub(alice)
        async with open_stream(alice) as s1, open_stream(alice) as s2:

            async def on_stream(s: object) -> tuple[int, list[pb.MarkReadResult]]:
                await s.send(mark_read=pb.MarkReadCommand(notification_ids=ids))  # type: ignore[attr-defined]
                ev = await s.expect("marked_read")  # type: ignore[attr-defined]
                return ev.marked_read.newly_read, list(ev.marked_read.results)

            async def unary() -> tuple[int, list[pb.MarkReadResult]]:
                reply = await api.MarkRead(pb.MarkReadRequest(notification_ids=ids), timeout=10)
                return reply.newly_read, list(reply.results)

            replies = await asyncio.gather(on_stream(s1), on_stream(s2), *(unary() for _ in range(18)))
    assert sum(newly for newly, _ in replies) == len(ids)
    for newly, results in replies:  # each reply agrees with itself
        assert newly == sum(r.status == pb.MARK_READ_STATUS_MARKED for r in results)
    for i, mid in enumerate(ids):
        statuses = [results[i].status for _, results in replies]
        assert all(results[i].notification_id == mid for _, results in replies)
        assert statuses.count(pb.MARK_READ_STATUS_MARKED) == 1, (mid, statuses)
        assert statuses.count(pb.MARK_READ_STATUS_ALREADY_READ) == len(replies) - 1
