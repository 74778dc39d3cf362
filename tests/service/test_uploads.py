"""UploadService against a real hub: chunked, resumable, checksummed, owned, bounded, expiring."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from realtime.client.uploads import read_to_file, upload
from realtime.server.testing import running_hub
from realtime.server.uploads.spool import SPOOLS
from realtime.v1 import analysis_pb2, analysis_pb2_grpc, uploads_pb2, uploads_pb2_grpc

from .analysis_helpers import result, watch_all
from .upload_helpers import (
    MIB,
    SERVICES,
    create_request,
    file_sha256,
    noisy_image,
    random_file,
    status_details,
    writes,
)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_50mb_upload_interrupted_resumed_and_read_back(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    sha = await asyncio.to_thread(random_file, src, 50 * MIB, seed=50)
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        # Interrupt: the client goes away after ~10 MiB (the call is cancelled mid-stream).
        seen: list[int] = []
        stop = asyncio.Event()

        def progress(p: object) -> None:
            seen.append(p.done)  # type: ignore[attr-defined]
            if p.done >= 10 * MIB:  # type: ignore[attr-defined]
                stop.set()

        task = asyncio.ensure_future(upload(client, src, "application/octet-stream", on_progress=progress))
        async with asyncio.timeout(60):
            await stop.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        created = await stub.CreateUpload(
            uploads_pb2.CreateUploadRequest(
                size=50 * MIB, sha256=sha, content_type="application/octet-stream"
            )
        )  # the same content again: the unfinished upload comes back (resume by hash)
        name = created.upload.name
        status = await stub.QueryWriteStatus(uploads_pb2.QueryWriteStatusRequest(resource_name=name))
        assert 0 < status.committed_size < 50 * MIB and not status.complete
        resumed_from: list[int] = []
        done = await upload(
            client, src, "application/octet-stream", on_progress=lambda p: resumed_from.append(p.resumed_from)
        )
        assert done.name == name and done.complete and done.sha256 == sha and done.size == 50 * MIB
        assert resumed_from[0] >= status.committed_size > 0  # it did not start again from 0
        back = tmp_path / "back.bin"
        assert await read_to_file(client, name, back) == 50 * MIB
        assert await asyncio.to_thread(file_sha256, back) == sha
        # A part of it, from an offset.
        chunks = [
            r.data
            async for r in stub.Read(
                uploads_pb2.ReadRequest(resource_name=name, read_offset=MIB, read_limit=1000)
            )
        ]
        with src.open("rb") as f:
            f.seek(MIB)
            assert b"".join(chunks) == f.read(1000)


async def test_wrong_checksum_deletes_the_upload(tmp_path: Path) -> None:
    data = b"x" * 300_000
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        req = create_request(data)
        req.sha256 = hashlib.sha256(b"something else").hexdigest()
        name = (await stub.CreateUpload(req)).upload.name
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Write(
                writes(uploads_pb2.WriteRequest(resource_name=name, data=data, finish_write=True))
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        found = status_details(err.value)
        assert found["reason"] == "CHECKSUM_MISMATCH" and found["fields"] == ["sha256"]
        assert hashlib.sha256(data).hexdigest() in (err.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stub.GetUpload(uploads_pb2.GetUploadRequest(name=name))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        metrics = await asyncio.to_thread(scrape, f"{h.http_url}/metrics")
        assert 'realtime_uploads_finished_total{outcome="checksum_mismatch"} 1.0' in metrics
        assert "realtime_uploads_received_bytes_total 300000.0" in metrics
        assert "realtime_uploads_live 0.0" in metrics


async def test_out_of_order_offsets_tell_where_to_resume(tmp_path: Path) -> None:
    data = bytes(range(256)) * 2400  # 600 KiB
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        name = (await stub.CreateUpload(create_request(data))).upload.name
        reply = await stub.Write(writes(uploads_pb2.WriteRequest(resource_name=name, data=data[:1000])))
        assert reply.committed_size == 1000 and not reply.upload.complete
        for offset in (0, 999, 5000, -1):  # a replay, a gap, a gap, nonsense
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Write(
                    writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=offset, data=b"y" * 10))
                )
            assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
            assert status_details(err.value)["metadata"] == {"committed_size": "1000"}
        with pytest.raises(grpc.aio.AioRpcError) as err:  # past the declared size
            await stub.Write(
                writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=1000, data=data))
            )
        assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
        with pytest.raises(grpc.aio.AioRpcError) as err:  # finishing early
            await stub.Write(
                writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=1000, finish_write=True))
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.aio.AioRpcError) as err:  # reading an unfinished upload
            async for _ in stub.Read(uploads_pb2.ReadRequest(resource_name=name)):
                pass
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        reply = await stub.Write(
            writes(
                uploads_pb2.WriteRequest(resource_name=name, write_offset=1000, data=data[1000:500_000]),
                uploads_pb2.WriteRequest(write_offset=500_000, data=data[500_000:], finish_write=True),
            )
        )
        assert reply.upload.complete and reply.committed_size == len(data)
        with pytest.raises(grpc.aio.AioRpcError) as err:  # writing a finished upload
            await stub.Write(
                writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=len(data), data=b"z"))
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_malformed_requests(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        bad = uploads_pb2.CreateUploadRequest(size=0, sha256="abc", content_type="no type")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateUpload(bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert status_details(err.value)["fields"] == ["size", "sha256", "content_type"]
        huge = create_request(b"x")
        huge.size = 256 * MIB + 1
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateUpload(huge)
        assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert status_details(err.value)["reason"] == "UPLOAD_TOO_LARGE"
        for stream in (
            writes(),
            writes(uploads_pb2.WriteRequest(data=b"no name")),
            writes(uploads_pb2.WriteRequest(resource_name="uploads/../../etc/passwd", data=b"x")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Write(stream)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stub.Read(uploads_pb2.ReadRequest(resource_name="/etc/passwd")):
                pass
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with running_hub(tmp_path, services=SERVICES) as h, h.client(None) as anonymous:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await anonymous.stub(uploads_pb2_grpc.UploadServiceStub).CreateUpload(create_request(b"x"))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_someone_elses_upload_is_not_found(tmp_path: Path) -> None:
    data = b"secret bytes" * 1000
    async with running_hub(tmp_path, services=SERVICES) as h:
        async with h.client("alice") as alice:
            done = await upload(alice, data, "text/plain")
        name = done.name
        async with h.client("bob") as bob:
            stub = bob.stub(uploads_pb2_grpc.UploadServiceStub)
            calls = [
                stub.GetUpload(uploads_pb2.GetUploadRequest(name=name)),
                stub.QueryWriteStatus(uploads_pb2.QueryWriteStatusRequest(resource_name=name)),
                stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=name)),
                stub.Write(
                    writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=len(data), data=b"x"))
                ),
                bob.stub(analysis_pb2_grpc.AnalysisServiceStub).SubmitAnalysis(
                    analysis_pb2.SubmitAnalysisRequest(
                        analyzer="text.inspect", input=analysis_pb2.AnalysisInput(upload=name)
                    )
                ),
            ]
            for call in calls:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in stub.Read(uploads_pb2.ReadRequest(resource_name=name)):
                    pass
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            # Bob uploading the same bytes gets his own upload, not Alice's.
            assert (await upload(bob, data, "text/plain")).name != name
        async with h.client("alice") as alice:  # still there for its owner
            op = await alice.stub(analysis_pb2_grpc.AnalysisServiceStub).SubmitAnalysis(
                analysis_pb2.SubmitAnalysisRequest(
                    analyzer="text.inspect", input=analysis_pb2.AnalysisInput(upload=name)
                )
            )
            events = await watch_all(alice.stub(analysis_pb2_grpc.AnalysisServiceStub), op.name)
            assert result(events[-1].operation)[0]["statistics"]["characters"] == len(data)


async def test_quota_and_upload_count_are_per_user(tmp_path: Path) -> None:
    extra = {"uploads_quota_bytes": 1_000_000, "uploads_max_per_user": 3}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h:
        async with h.client("alice") as alice, h.client("bob") as bob:
            stub = alice.stub(uploads_pb2_grpc.UploadServiceStub)
            first = await stub.CreateUpload(create_request(b"a" * 600_000))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.CreateUpload(create_request(b"b" * 500_000))
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            found = status_details(err.value)
            assert found["reason"] == "QUOTA_EXCEEDED" and found["quota"] == ["user:alice"]
            # Bob is not affected by Alice's use.
            await bob.stub(uploads_pb2_grpc.UploadServiceStub).CreateUpload(create_request(b"b" * 500_000))
            # Deleting frees the quota at once.
            await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=first.upload.name))
            await stub.CreateUpload(create_request(b"b" * 500_000))
            await stub.CreateUpload(create_request(b"c" * 10))
            await stub.CreateUpload(create_request(b"d" * 10))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.CreateUpload(create_request(b"e" * 10))
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert status_details(err.value)["quota"] == ["user:alice"]
            # Many creates at once cannot overshoot the quota together.
            async with h.client("carol") as carol:
                cstub = carol.stub(uploads_pb2_grpc.UploadServiceStub)
                outcomes = await asyncio.gather(
                    *(cstub.CreateUpload(create_request(bytes([i]) * 400_000)) for i in range(6)),
                    return_exceptions=True,
                )
                assert sum(not isinstance(o, Exception) for o in outcomes) == 2


async def test_abandoned_upload_expires(tmp_path: Path) -> None:
    clock = Clock()
    extra = {"uploads_clock": clock, "uploads_ttl": 600, "uploads_retention": 60}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        data = b"q" * 100_000
        name = (await stub.CreateUpload(create_request(data))).upload.name
        await stub.Write(writes(uploads_pb2.WriteRequest(resource_name=name, data=data[:50_000])))
        spool = SPOOLS[h.hub.ctx.instance_id]  # type: ignore[union-attr]
        clock.now += 599  # a write keeps it alive; 599 s later it still is
        assert await spool.sweep() == 0
        done = await upload(
            client, data, "application/octet-stream"
        )  # finishes it: now the retention applies
        assert done.name == name and done.complete
        clock.now += 61
        assert await spool.sweep() == 1
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.QueryWriteStatus(uploads_pb2.QueryWriteStatusRequest(resource_name=name))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        abandoned = (await stub.CreateUpload(create_request(b"z" * 10))).upload
        clock.now += 601
        with pytest.raises(grpc.aio.AioRpcError) as err:  # expired reads as gone even before the sweep
            await stub.GetUpload(uploads_pb2.GetUploadRequest(name=abandoned.name))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert await spool.sweep() == 1
        assert sorted(p.name for p in spool.root.iterdir()) == []  # files gone, quota freed
        assert spool.used("alice") == (0, 0)


async def test_twenty_uploads_in_a_row_and_restart_keeps_them(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        analysis = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        names, jobs = [], []
        for i in range(20):  # upload, submit, delete: as the CLI does, 20 times (16 live at most)
            text = f"upload number {i} ".encode() * (4_000 + i)
            done = await upload(client, text, "text/plain")
            assert done.complete and done.size == len(text)
            op = await analysis.SubmitAnalysis(
                analysis_pb2.SubmitAnalysisRequest(
                    analyzer="text.inspect", input=analysis_pb2.AnalysisInput(upload=done.name)
                )
            )
            jobs.append((op.name, len(text)))
            if i < 15:
                await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=done.name))
            names.append(done.name)
        assert len(set(names)) == 20
        for job, size in jobs:  # every job got its own input, intact
            events = await watch_all(analysis, job)
            assert result(events[-1].operation)[0]["statistics"]["characters"] == size
        half = (await stub.CreateUpload(create_request(b"h" * 600_000))).upload.name
        await stub.Write(writes(uploads_pb2.WriteRequest(resource_name=half, data=b"h" * 250_000)))
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        for name in names[15:]:  # what was not deleted survives a hub restart
            assert (await stub.GetUpload(uploads_pb2.GetUploadRequest(name=name))).upload.complete
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetUpload(uploads_pb2.GetUploadRequest(name=names[0]))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        status = await stub.QueryWriteStatus(uploads_pb2.QueryWriteStatusRequest(resource_name=half))
        assert status.committed_size == 250_000  # resumes after a hub restart, hash recomputed at finish
        assert (await upload(client, b"h" * 600_000, "application/octet-stream")).name == half


async def test_large_png_by_upload_and_large_artifact_by_read(tmp_path: Path) -> None:
    png = await asyncio.to_thread(noisy_image, 1900, 1800, "PNG", seed=7)
    assert len(png) > 10_000_000
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        name = (await upload(client, png, "image/png", filename="noise.png")).name
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.SubmitAnalysis(
            analysis_pb2.SubmitAnalysisRequest(
                analyzer="image.optimize",
                input=analysis_pb2.AnalysisInput(upload=name),
            )
        )
        events = await watch_all(stub, op.name, timeout=90)
        data, res = result(events[-1].operation)
        assert data["original_bytes"] == len(png) and data["original_width"] == 1900
        (artifact,) = res.artifacts
        assert artifact.size == data["optimized_bytes"] > 512 * 1024  # too big to send inline...
        assert not artifact.data and artifact.resource_name == f"{op.name}/artifacts/optimized"
        out = tmp_path / "optimized.webp"
        assert await read_to_file(client, artifact.resource_name, out) == artifact.size  # ...so read it
        assert out.read_bytes()[8:12] == b"WEBP"
        async with h.client("bob") as bob:  # someone else's result stays theirs
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await read_to_file(bob, artifact.resource_name, tmp_path / "stolen")
            assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)


async def test_one_writer_per_upload_and_a_silent_writer_is_cut_off(tmp_path: Path) -> None:
    data = b"w" * 400_000
    async with running_hub(tmp_path, services=SERVICES, extra={"uploads_write_idle": 1.0}) as h:
        async with h.client("alice") as client:
            stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
            name = (await stub.CreateUpload(create_request(data))).upload.name
            sent = asyncio.Event()

            async def silent() -> AsyncIterator[uploads_pb2.WriteRequest]:
                yield uploads_pb2.WriteRequest(resource_name=name, data=data[:1000])
                sent.set()
                await asyncio.Event().wait()  # then never another chunk, never a half-close

            first = asyncio.ensure_future(stub.Write(silent()))
            async with asyncio.timeout(10):
                await sent.wait()
                query = uploads_pb2.QueryWriteStatusRequest(resource_name=name)
                for _ in range(10_000):  # until the hub has the chunk (each round trip paces the loop)
                    if (await stub.QueryWriteStatus(query)).committed_size == 1000:
                        break
            with pytest.raises(grpc.aio.AioRpcError) as err:  # a second writer while the first holds it
                await stub.Write(
                    writes(uploads_pb2.WriteRequest(resource_name=name, write_offset=1000, data=b"w"))
                )
            assert err.value.code() == grpc.StatusCode.ABORTED
            assert status_details(err.value)["reason"] == "WRITE_IN_PROGRESS"
            with pytest.raises(grpc.aio.AioRpcError) as err:  # nor deleted under the writer's feet
                await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=name))
            assert err.value.code() == grpc.StatusCode.ABORTED
            with pytest.raises(grpc.aio.AioRpcError) as err:  # the silent one is cut off...
                async with asyncio.timeout(10):
                    await first
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert status_details(err.value)["reason"] == "WRITE_IDLE"
            done = await upload(client, data, "application/octet-stream")  # ...and the upload goes on
            assert done.name == name and done.complete


async def test_shutdown_ends_a_write_with_going_away_and_keeps_what_was_written(tmp_path: Path) -> None:
    data = b"s" * 500_000
    async with running_hub(tmp_path, services=SERVICES) as h:
        async with h.client("alice") as client:
            stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
            name = (await stub.CreateUpload(create_request(data))).upload.name
            sent = asyncio.Event()

            async def then_wait() -> AsyncIterator[uploads_pb2.WriteRequest]:
                yield uploads_pb2.WriteRequest(resource_name=name, data=data[:200_000])
                sent.set()
                await asyncio.Event().wait()

            call = asyncio.ensure_future(stub.Write(then_wait()))
            async with asyncio.timeout(10):
                await sent.wait()
                query = uploads_pb2.QueryWriteStatusRequest(resource_name=name)
                for _ in range(10_000):  # until the hub has the chunk (each round trip paces the loop)
                    if (await stub.QueryWriteStatus(query)).committed_size == 200_000:
                        break
                stopping = asyncio.ensure_future(h.hub.stop(grace=5.0))
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                await stopping
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert status_details(err.value)["reason"] == "GOING_AWAY"
    async with running_hub(tmp_path, services=SERVICES) as h, h.client("alice") as client:
        done = await upload(client, data, "application/octet-stream")
        assert done.name == name and done.complete


async def test_remote_analyzers_refuse_uploads_larger_than_one_message(tmp_path: Path) -> None:
    async with running_hub(tmp_path, services=SERVICES) as h:
        async with h.client("w", roles=["worker"]) as wc, h.client("alice") as alice:
            requests: asyncio.Queue[analysis_pb2.WorkRequest | None] = asyncio.Queue()

            async def commands() -> AsyncIterator[analysis_pb2.WorkRequest]:
                while (item := await requests.get()) is not None:
                    yield item

            work = wc.stub(analysis_pb2_grpc.AnalysisServiceStub).Work(commands())
            register = analysis_pb2.RegisterWorkerCommand(analyzers=["remote.big"], capacity=1)
            await requests.put(analysis_pb2.WorkRequest(id="r", register=register))
            async with asyncio.timeout(10):
                assert (await work.read()).WhichOneof("event") == "registered"
            stub = alice.stub(analysis_pb2_grpc.AnalysisServiceStub)
            big = await upload(alice, b"b" * 800_000, "text/plain")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitAnalysis(
                    analysis_pb2.SubmitAnalysisRequest(
                        analyzer="remote.big", input=analysis_pb2.AnalysisInput(upload=big.name)
                    )
                )
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert status_details(err.value)["reason"] == "INPUT_TOO_LARGE"
            small = await upload(alice, b"s" * 700_000, "text/plain")
            op = await stub.SubmitAnalysis(
                analysis_pb2.SubmitAnalysisRequest(
                    analyzer="remote.big", input=analysis_pb2.AnalysisInput(upload=small.name)
                )
            )
            async with asyncio.timeout(10):
                while (event := await work.read()).WhichOneof("event") != "assigned":
                    pass
            assert event.assigned.name == op.name and len(event.assigned.input.text) == 700_000
            await requests.put(None)
