"""One remote worker's `Work` stream: registration, job hand-out, commands, revocations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from realtime.v1 import analysis_pb2, common_pb2

from ..context import HubContext
from ..platform.errors import (
    Code,
    HubError,
    going_away,
    invalid_argument,
)
from ..platform.status import duration, error_event, going_away_event
from ..platform.streams import commands_until_shutdown
from .convert import failure, input_message, metadata_of, plain, result_of, struct
from .model import job_id_from_name
from .scheduler import Scheduler

log = logging.getLogger("realtime.analysis")
MAX_WORKER_CAPACITY = 64
WORK_QUEUE = 256


class WorkSession:
    """One remote worker's stream: registration, job hand-out, commands, revocations."""

    def __init__(self, hub: HubContext, scheduler: Scheduler, runner: str) -> None:
        self.hub = hub
        self.scheduler = scheduler
        self.runner = runner
        self.out: asyncio.Queue[analysis_pb2.WorkResponse | None] = asyncio.Queue(WORK_QUEUE)
        self.held: set[str] = set()
        self.analyzers: set[str] = set()
        self.capacity = 0
        self.registered = False

    def _revoke(self, job_id: str, reason: str) -> None:
        targets = [job_id] if job_id else list(self.held)
        for jid in targets:
            self.held.discard(jid)
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(
                    analysis_pb2.WorkResponse(
                        revoked=analysis_pb2.JobRevokedEvent(name="operations/" + jid, reason=reason)
                    )
                )
        if not job_id:  # the whole worker was dropped (missed heartbeats): end its stream
            with contextlib.suppress(asyncio.QueueFull):
                self.out.put_nowait(None)

    async def run(
        self, requests: AsyncIterator[analysis_pb2.WorkRequest]
    ) -> AsyncIterator[analysis_pb2.WorkResponse]:
        hub = self.hub
        reader = asyncio.ensure_future(self._read(requests))
        feeder: asyncio.Task[None] | None = None
        try:
            while True:
                if feeder is None and self.registered:
                    feeder = asyncio.ensure_future(self._feed())
                getter = asyncio.ensure_future(self.out.get())
                done, _ = await asyncio.wait((getter, reader), return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    reader.result()  # re-raise a reader failure
                    while not self.out.empty():
                        item = self.out.get_nowait()
                        if item is not None:
                            yield item
                    if hub.shutdown.started:
                        yield analysis_pb2.WorkResponse(
                            going_away=going_away_event(
                                hub.shutdown.grace, "server shutting down; running jobs are queued again"
                            )
                        )
                        raise going_away()
                    return
                item = getter.result()
                if item is None:
                    return
                yield item
        finally:
            reader.cancel()
            if feeder is not None:
                feeder.cancel()
            await asyncio.gather(reader, *(t for t in (feeder,) if t is not None), return_exceptions=True)
            if self.registered:
                await self.scheduler.unregister_remote(self.runner, "worker disconnected")

    async def _read(self, requests: AsyncIterator[analysis_pb2.WorkRequest]) -> None:
        async for command in commands_until_shutdown(requests, self.hub.shutdown):
            if command is None:
                return
            try:
                reply = await self._handle(command)
            except HubError as err:
                reply = analysis_pb2.WorkResponse(command_id=command.id, error=error_event(err, command.id))
            await self.out.put(reply)

    async def _handle(self, command: analysis_pb2.WorkRequest) -> analysis_pb2.WorkResponse:
        try:
            return await self._apply(command)
        except HubError as err:
            if err.reason == "JOB_NOT_HELD":  # cancelled or re-assigned meanwhile: free the slot
                for field in ("progress", "complete", "fail"):
                    if command.HasField(field):
                        with contextlib.suppress(HubError):
                            self.held.discard(job_id_from_name(getattr(command, field).name))
            raise

    async def _apply(self, command: analysis_pb2.WorkRequest) -> analysis_pb2.WorkResponse:
        kind = command.WhichOneof("command")
        W = analysis_pb2.WorkResponse
        if kind == "ping":
            return W(command_id=command.id, pong=common_pb2.PongEvent())
        if kind == "register":
            if self.registered:
                raise invalid_argument("already registered", [("register", "send it once")])
            names = {n for n in command.register.analyzers if n}
            if not names:
                raise invalid_argument("declare at least one analyzer", [("register.analyzers", "empty")])
            capacity = command.register.capacity or 1
            if not 0 < capacity <= MAX_WORKER_CAPACITY:
                raise invalid_argument(
                    f"capacity must be 1..{MAX_WORKER_CAPACITY}", [("register.capacity", str(capacity))]
                )
            self.analyzers, self.capacity = names, capacity
            await self.scheduler.register_remote(self.runner, names, self._revoke, lambda: set(self.held))
            self.registered = True
            return W(
                command_id=command.id,
                registered=analysis_pb2.WorkerRegisteredEvent(
                    worker_id=self.runner, heartbeat_interval=duration(self.scheduler.config.lease_ttl / 3)
                ),
            )
        if not self.registered:
            raise invalid_argument(
                "register first", [(kind or "command", "before register")], reason="NOT_REGISTERED"
            )
        accepted = W(command_id=command.id, accepted=analysis_pb2.CommandAcceptedEvent())
        if kind == "heartbeat":
            await self.scheduler.heartbeat_remote(self.runner)
            return accepted
        if kind == "progress":
            p = command.progress
            job_id = self._held(p.name)
            if not 0.0 <= p.phase_fraction <= 1.0:
                raise invalid_argument(
                    "phase_fraction must be within 0..1", [("progress.phase_fraction", "")]
                )
            await self.scheduler.heartbeat_remote(self.runner)
            await self.scheduler.progress(
                job_id, self.runner, p.phase, p.phase_fraction, [plain(x) for x in p.partial_results]
            )
            return accepted
        if kind == "complete":
            job_id = self._held(command.complete.name)
            if (
                await self.scheduler.finish(
                    job_id, self.runner, result=result_of(command.complete.result, "")
                )
                is None
            ):
                raise HubError(
                    Code.FAILED_PRECONDITION, "the job is no longer assigned to this worker", "JOB_NOT_HELD"
                )
            self.held.discard(job_id)
            return accepted
        if kind == "fail":
            job_id = self._held(command.fail.name)
            await self.scheduler.finish(job_id, self.runner, error=failure(command.fail.failure))
            self.held.discard(job_id)
            return accepted
        raise invalid_argument("command is empty", [("command", "no command set")])

    def _held(self, name: str) -> str:
        job_id = job_id_from_name(name)
        if job_id not in self.held:
            raise HubError(Code.FAILED_PRECONDITION, "the job is not assigned to this worker", "JOB_NOT_HELD")
        return job_id

    async def _feed(self) -> None:
        while True:
            try:
                await self._hand_out()
            except HubError as err:  # the store is unreachable: tell the worker, keep the stream
                log.warning("cannot hand out analysis jobs: %s", err)
                await self.out.put(analysis_pb2.WorkResponse(error=error_event(err)))
            await self.scheduler.work_available(self.scheduler.idle_poll)

    async def _hand_out(self) -> None:
        while len(self.held) < self.capacity:
            job = await self.scheduler.claim(self.runner, self.analyzers)
            if job is None:
                break
            self.held.add(job.id)
            data = await self.scheduler.job_input(job)
            await self.out.put(
                analysis_pb2.WorkResponse(
                    assigned=analysis_pb2.JobAssignedEvent(
                        name=job.name,
                        analyzer=job.analyzer,
                        input=input_message(data),
                        options=struct(job.options),
                        phases=metadata_of(job).phases,
                        attempt=job.attempt,
                    )
                )
            )
