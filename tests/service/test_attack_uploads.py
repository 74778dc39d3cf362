"""Attacks on uploads through a real hub: the same call twenty times at once, two deletes of
one upload at once, twenty writers of one upload, and a finish retried after a lost reply."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

import grpc

from realtime.server.testing import running_hub
from realtime.server.uploads.spool import SPOOLS
from realtime.v1 import uploads_pb2, uploads_pb2_grpc

from .upload_helpers import SERVICES, create_request, status_details, writes


async def test_twenty_creates_writes_and_deletes_of_one_upload_at_once(tmp_path: Path) -> None:
    seed = 7
    print(f"seed={seed}")
    data = random.Random(seed).randbytes(300_000)
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as alice:
        stub = alice.stub(uploads_pb2_grpc.UploadServiceStub)
        created = await asyncio.gather(
            *(stub.CreateUpload(create_request(data), timeout=10) for _ in range(20))
        )
        assert len({c.upload.name for c in created}) == 1  # the same content resumes the same upload
        name = created[0].upload.name
        chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]

        async def write_all() -> str:
            requests = [
                uploads_pb2.WriteRequest(
                    resource_name=name, write_offset=i * 65536, data=c, finish_write=i == len(chunks) - 1
                )
                for i, c in enumerate(chunks)
            ]
            try:
                reply = await stub.Write(writes(*requests), timeout=20)
            except grpc.aio.AioRpcError as err:
                return f"{err.code().name}:{status_details(err).get('reason')}"
            assert reply.upload.complete and reply.committed_size == len(data)
            return "OK"

        outcomes = await asyncio.gather(*(write_all() for _ in range(20)))
        assert outcomes.count("OK") >= 1, outcomes
        assert set(outcomes) <= {
            "OK",
            "ABORTED:WRITE_IN_PROGRESS",  # another writer holds it
            "FAILED_PRECONDITION:UPLOAD_COMPLETE",  # came after the winner finished
            "OUT_OF_RANGE:WRONG_OFFSET",  # came after the winner wrote some chunks
        }, outcomes
        got = b"".join(
            [r.data async for r in stub.Read(uploads_pb2.ReadRequest(resource_name=name), timeout=10)]
        )
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        deletes = await asyncio.gather(
            *(stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=name), timeout=10) for _ in range(2)),
            return_exceptions=True,
        )
        codes = sorted("OK" if not isinstance(d, BaseException) else d.code().name for d in deletes)  # type: ignore[attr-defined]
        assert codes == ["NOT_FOUND", "OK"], codes
        spool = SPOOLS[h.hub.ctx.instance_id]  # type: ignore[union-attr]
        assert list(spool.records()) == []
        assert sorted(p.name for p in spool.root.iterdir()) == []


async def test_a_finish_retried_after_a_lost_reply_succeeds(tmp_path: Path) -> None:
    """The client sent the last chunk with finish_write and lost the reply; it retries the
    finish (no data, at the committed size): the upload is complete, so that is success."""
    data = b"x" * 1000
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as alice:
        stub = alice.stub(uploads_pb2_grpc.UploadServiceStub)
        name = (await stub.CreateUpload(create_request(data), timeout=10)).upload.name
        first = uploads_pb2.WriteRequest(resource_name=name, write_offset=0, data=data, finish_write=True)
        assert (await stub.Write(writes(first), timeout=10)).upload.complete
        again = uploads_pb2.WriteRequest(resource_name=name, write_offset=len(data), finish_write=True)
        reply = await stub.Write(writes(again), timeout=10)
        assert reply.upload.complete and reply.committed_size == len(data)
