"""Automatic pipelining for the Redis broker's small commands.

A reconnect storm opens hundreds of streams per event-loop turn, and each open costs a few
Redis commands (a token-bucket read and write, the position of `general` and of `user:{id}`).
Sent one by one, each command pays redis-py's fixed cost: a connection taken from the pool and
given back, a retry wrapper, a write and a read of its own. `Batcher` queues the commands
issued while earlier pipelines are on their way (at most MAX_IN_FLIGHT) and sends them as ONE
pipeline (no MULTI) on one connection:

- Each command is still atomic on its own (a Lua script or a single read); a pipeline only
  saves round trips, it adds no ordering a caller could observe: a caller's next command is
  issued after its previous one answered, so it goes in a later pipeline.
- A command is sent after it was queued, so a read queued after some event (e.g. a live
  subscription was confirmed) still sees everything written before that event.
- Same-key reads queued before a pipeline goes out (the position of `general` for many
  streams) share one read: `read` coalesces them, never joining a read already sent.
- Scripts go as EVALSHA; the few answered NOSCRIPT (Redis restarted and forgot them) run again
  through the script object, which loads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

#: At most this many commands in one pipeline (a bigger turn is sent as several).
MAX_BATCH = 512
#: Pipelines on their way at once. While one is, new commands queue and go out together when it
#: returns: under load batches grow by themselves (a storm's opens arrive one or two per loop
#: turn: per-turn batches held 1.6 commands, this ~4.7), and an idle broker sends at once.
#: Only O(1) commands and small scripts go this way, so one pipeline holds up the next briefly.
MAX_IN_FLIGHT = 1


class _Command:
    __slots__ = ("args", "future", "script")

    def __init__(
        self, args: tuple[Any, ...], script: AsyncScript | None, future: asyncio.Future[Any]
    ) -> None:
        self.args = args
        self.script = script
        self.future = future


class Batcher:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._queue: list[_Command] = []
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}
        self._scheduled = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command (e.g. "HMGET", key, field); its future has the reply or the error."""
        return self._queue_command(args, None)

    def script(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Queue one Lua script call."""
        return self._queue_command((*keys, *args), script, len(keys))

    def read(self, key: Hashable, *args: Any) -> asyncio.Future[Any]:
        """Queue a read, or join the same read (`key`) already queued in this turn and not sent."""
        fut = self._reads.get(key)
        if fut is None:
            fut = self._reads[key] = self._queue_command(args, None)
        return fut

    def _queue_command(
        self, args: tuple[Any, ...], script: AsyncScript | None, nkeys: int = 0
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if script is not None:
            args = (nkeys, *args)
        self._queue.append(_Command(args, script, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < MAX_IN_FLIGHT:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._reads.clear()  # a read joined from now on goes out after its caller asked
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if self._queue and not self._scheduled:
            self._flush()

    async def _send(self, batch: list[_Command]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for cmd in batch:
                    if cmd.script is None:
                        pipe.execute_command(*cmd.args)
                    else:
                        pipe.execute_command("EVALSHA", cmd.script.sha, *cmd.args)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for cmd in batch:
                if not cmd.future.done():
                    cmd.future.set_exception(
                        exc if isinstance(exc, Exception) else ConnectionError("cancelled")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for cmd, reply in zip(batch, replies, strict=True):
            if cmd.future.done():
                continue
            if isinstance(reply, NoScriptError) and cmd.script is not None:
                self._rerun(cmd)
            elif isinstance(reply, Exception):
                cmd.future.set_exception(reply)
            else:
                cmd.future.set_result(reply)

    def _rerun(self, cmd: _Command) -> None:
        """A script Redis forgot: run it through the script object, which loads it first."""
        assert cmd.script is not None
        nkeys = cmd.args[0]
        keys, args = list(cmd.args[1 : 1 + nkeys]), list(cmd.args[1 + nkeys :])
        script = cmd.script

        async def run() -> None:
            try:
                reply = await script(keys=keys, args=args)
            except Exception as exc:
                if not cmd.future.done():  # the caller may have given up meanwhile
                    cmd.future.set_exception(exc)
                return
            if not cmd.future.done():
                cmd.future.set_result(reply)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for the pipelines in flight (their callers are waiting for them anyway)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
