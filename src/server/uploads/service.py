"""UploadService: the gRPC face of the upload spool (the only module here that touches grpc).

`Read` also serves the artifacts of finished analysis jobs that were too large
to send inline ("operations/{id}/artifacts/{name}").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Counter, Gauge

from realtime.v1 import uploads_pb2, uploads_pb2_grpc

from ..context import HubContext
from ..platform.auth import Principal, current_principal
from ..platform.errors import Code, HubError, going_away, invalid_argument, not_found
from ..platform.status import timestamp
from ..platform.streams import commands_until_shutdown
from ..workers import worker_index
from .config import UploadConfig
from .spool import PREFIX, READ_CHUNK, SPOOLS, Spool, UploadRecord, Writer, check_range

SERVICE = "realtime.v1.UploadService"
log = logging.getLogger("realtime.uploads")


def upload_message(record: UploadRecord, config: UploadConfig) -> uploads_pb2.Upload:
    return uploads_pb2.Upload(
        name=record.name,
        size=record.size,
        committed_size=record.committed,
        sha256=record.sha256,
        content_type=record.content_type,
        filename=record.filename,
        complete=record.complete,
        create_time=timestamp(record.created),
        expire_time=timestamp(record.expires(config)),
    )


async def artifact_chunks(
    hub: HubContext, who: Principal, name: str, offset: int, limit: int
) -> AsyncIterator[bytes]:
    """The bytes of "operations/{id}/artifacts/{artifact}" of a finished job the caller may see."""
    from ..analysis.model import JobState, job_id_from_name
    from ..analysis.service import SCHEDULERS

    operation, sep, artifact = name.rpartition("/artifacts/")
    scheduler = SCHEDULERS.get(hub.instance_id)
    if not sep or not artifact or scheduler is None:
        raise invalid_argument(
            "not a readable resource",
            [("resource_name", "uploads/{id} or operations/{id}/artifacts/{name}")],
        )
    job = await scheduler.get(job_id_from_name(operation), who)
    if job.job_state != JobState.SUCCEEDED:
        raise not_found(f"{operation} has no result (yet)")
    for art_name, _, data in await scheduler.store.artifacts(job.id):
        if art_name == artifact:
            check_range(offset, limit, len(data))
            end = len(data) if not limit else min(len(data), offset + limit)
            for start in range(offset, end, READ_CHUNK):
                yield data[start : min(end, start + READ_CHUNK)]
            return
    raise not_found(f"{operation} has no artifact {artifact!r}")


class UploadMetrics:
    """`realtime_uploads_*` on the hub's /metrics."""

    def __init__(self, hub: HubContext, spool: Spool) -> None:
        r = hub.metrics.registry
        self.received = Counter(
            "realtime_uploads_received_bytes", "Upload bytes committed to the spool.", registry=r
        )
        self.finished = Counter(
            "realtime_uploads_finished",
            "Uploads finished, by outcome (complete, checksum_mismatch).",
            ("outcome",),
            registry=r,
        )
        live = Gauge(
            "realtime_uploads_live", "Uploads on this replica (unfinished and finished).", registry=r
        )
        live.set_function(lambda: sum(1 for _ in spool.records()))
        declared = Gauge(
            "realtime_uploads_live_bytes", "Bytes declared by the uploads on this replica.", registry=r
        )
        declared.set_function(lambda: sum(rec.size for rec in spool.records()))


class UploadServicer(uploads_pb2_grpc.UploadServiceServicer):
    def __init__(self, hub: HubContext, spool: Spool) -> None:
        self._hub = hub
        self.spool = spool
        self.metrics = UploadMetrics(hub, spool)

    def _message(self, record: UploadRecord) -> uploads_pb2.Upload:
        return upload_message(record, self.spool.config)

    async def CreateUpload(
        self, request: uploads_pb2.CreateUploadRequest, context: Any
    ) -> uploads_pb2.CreateUploadResponse:
        record = await self.spool.create(
            current_principal().subject, request.size, request.sha256, request.content_type, request.filename
        )
        return uploads_pb2.CreateUploadResponse(upload=self._message(record))

    async def Write(
        self, request_iterator: AsyncIterator[uploads_pb2.WriteRequest], context: Any
    ) -> uploads_pb2.WriteResponse:
        who = current_principal()
        requests = commands_until_shutdown(request_iterator, self._hub.shutdown)
        try:
            first = await self._next(requests)
            if first is None:
                if self._hub.shutdown.started:
                    raise going_away()
                raise invalid_argument("empty Write stream", [("resource_name", "send at least one message")])
            name = first.resource_name
            if not name:
                raise invalid_argument(
                    "the first WriteRequest must name the upload", [("resource_name", "empty")]
                )
            async with self.spool.writer(who.subject, name) as writer, self._counted(writer):
                msg: uploads_pb2.WriteRequest | None = first
                while msg is not None:
                    if msg.resource_name and msg.resource_name != name:
                        raise invalid_argument(
                            "one Write stream writes one upload", [("resource_name", f"expected {name}")]
                        )
                    await writer.write(msg.write_offset, msg.data)
                    if msg.finish_write:
                        await self._finish(writer)
                        break
                    msg = await self._next(requests)
                    if msg is None and self._hub.shutdown.started:
                        raise going_away()  # what was written stays committed: resume elsewhere or later
                record = writer.record
        finally:
            await requests.aclose()  # type: ignore[attr-defined]
        return uploads_pb2.WriteResponse(committed_size=record.committed, upload=self._message(record))

    @contextlib.asynccontextmanager
    async def _counted(self, writer: Writer) -> AsyncIterator[None]:
        before = writer.record.committed
        try:
            yield
        finally:
            await writer.drain_quietly()
            self.metrics.received.inc(max(0, writer.record.committed - before))

    async def _finish(self, writer: Writer) -> None:
        try:
            await writer.finish()
        except HubError as exc:
            if exc.reason == "CHECKSUM_MISMATCH":
                self.metrics.finished.labels("checksum_mismatch").inc()
            raise
        self.metrics.finished.labels("complete").inc()

    async def _next(self, requests: AsyncIterator[Any]) -> Any:
        """The next chunk; a client silent for `write_idle` seconds loses the stream (and the
        upload's write lock), keeping what it wrote: it resumes with QueryWriteStatus."""
        idle = self.spool.config.write_idle
        try:
            async with asyncio.timeout(idle):
                return await anext(requests, None)
        except TimeoutError:
            raise HubError(
                Code.DEADLINE_EXCEEDED,
                f"no chunk for {idle:g} s; the stream was closed (resume from the committed size)",
                reason="WRITE_IDLE",
            ) from None

    async def QueryWriteStatus(
        self, request: uploads_pb2.QueryWriteStatusRequest, context: Any
    ) -> uploads_pb2.QueryWriteStatusResponse:
        record = self.spool.get(current_principal().subject, request.resource_name)
        return uploads_pb2.QueryWriteStatusResponse(committed_size=record.committed, complete=record.complete)

    async def GetUpload(
        self, request: uploads_pb2.GetUploadRequest, context: Any
    ) -> uploads_pb2.GetUploadResponse:
        record = self.spool.get(current_principal().subject, request.name)
        return uploads_pb2.GetUploadResponse(upload=self._message(record))

    async def DeleteUpload(
        self, request: uploads_pb2.DeleteUploadRequest, context: Any
    ) -> uploads_pb2.DeleteUploadResponse:
        await self.spool.delete(current_principal().subject, request.name)
        return uploads_pb2.DeleteUploadResponse()

    async def Read(
        self, request: uploads_pb2.ReadRequest, context: Any
    ) -> AsyncIterator[uploads_pb2.ReadResponse]:
        who = current_principal()
        name = request.resource_name
        if name.startswith(PREFIX):
            chunks = self.spool.read(who.subject, name, request.read_offset, request.read_limit)
        elif name.startswith("operations/"):
            chunks = artifact_chunks(self._hub, who, name, request.read_offset, request.read_limit)
        else:
            raise invalid_argument(
                "not a readable resource",
                [("resource_name", "uploads/{id} or operations/{id}/artifacts/{name}")],
            )
        try:
            async for chunk in chunks:
                if self._hub.shutdown.started:
                    raise going_away()  # the client resumes with read_offset = bytes received
                yield uploads_pb2.ReadResponse(data=chunk)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]


async def _sweeper(spool: Spool, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await spool.sweep()
        except OSError:
            log.exception("upload sweep failed")


async def register(hub: HubContext) -> list[str]:
    config = UploadConfig.load(hub.settings.extra)
    clock = hub.settings.extra.get("uploads_clock")
    root = config.spool_dir(hub.settings.dev_dir)
    index = worker_index()
    if index is not None:
        # --workers: each worker keeps its own spool (a worker's records live in its memory; a
        # restarted worker picks up its predecessor's uploads, never a live sibling's).
        root = root / f"worker-{index}"
    spool = Spool(root, config, **({"clock": clock} if clock else {}))
    try:
        await spool.open()
    except OSError as exc:  # ValueError: the hub reports it as a startup error naming the service
        raise ValueError(f"cannot use the upload directory {spool.root}: {exc.strerror}") from exc
    SPOOLS[hub.instance_id] = spool
    uploads_pb2_grpc.add_UploadServiceServicer_to_server(UploadServicer(hub, spool), hub.server)
    hub.spawn(_sweeper(spool, config.sweep_interval), "uploads-sweep")

    async def forget() -> None:
        with contextlib.suppress(KeyError):
            del SPOOLS[hub.instance_id]

    hub.on_stop.append(forget)
    return [SERVICE]
