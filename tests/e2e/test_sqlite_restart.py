"""`make run`'s default engine keeps what users made: SIGKILL the hub on `--broker sqlite:///...` while
it publishes, edits a document and runs jobs, restart it on the same file, and everything that was
acknowledged is there; queued jobs run; a subscriber resumes with `recovered: true`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2
from google.protobuf import struct_pb2

from realtime.client import Client
from realtime.common.collaboration.ops import CreateElement, SetProperty
from realtime.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    collaboration_pb2,
    collaboration_pb2_grpc,
    common_pb2,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    notifications_pb2,
    notifications_pb2_grpc,
)

from ..service.collab_peer import Peer
from .servers import ServerProcess, server_process, tool

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "topic:durable"
BUSY = "topic:busy"  # published to without pause while the SIGKILL lands
ENV = {
    "PYTHONPATH": str(ROOT),
    "REALTIME_ANALYSIS_ANALYZERS": "tests.e2e.analysis_slow:Slow",
    "REALTIME_ANALYSIS_CONCURRENCY": "1",  # one job runs, the others wait in the queue
    "REALTIME_ANALYSIS_LEASE_TTL": "2",
}
npb = notifications_pb2


def notifications(client: Client) -> notifications_pb2_grpc.NotificationServiceStub:
    return client.stub(notifications_pb2_grpc.NotificationServiceStub)


def analysis(client: Client) -> analysis_pb2_grpc.AnalysisServiceStub:
    return client.stub(analysis_pb2_grpc.AnalysisServiceStub)


def job_meta(op: operations_pb2.Operation) -> analysis_pb2.AnalysisMetadata:
    m = analysis_pb2.AnalysisMetadata()
    op.metadata.Unpack(m)
    return m


async def read_until(
    call: grpc.aio.StreamStreamCall, count: int, seen: list[npb.Notification], subscribed: bool = True
) -> bool | None:
    """Read the subscribed event and `count` notifications of CHANNEL into `seen`; returns `recovered`."""
    recovered = None
    got = 0
    async with asyncio.timeout(20):
        while got < count or (subscribed and recovered is None):
            event = await call.read()
            assert event is not grpc.aio.EOF
            kind = event.WhichOneof("event")
            if kind == "subscribed" and event.subscribed.channel == CHANNEL and recovered is None:
                recovered = event.subscribed.recovered
            elif kind == "notification" and event.notification.channel == CHANNEL:
                seen.append(event.notification)
                got += 1
    return recovered


async def first_life(hub: ServerProcess, state: dict[str, object]) -> None:
    """Publish, read part of it, mark some read, edit a document, submit jobs; then the hub dies."""
    async with Client(hub.target, token=hub.token("alice")) as alice:
        n = notifications(alice)
        reader = n.Subscribe()
        await reader.write(npb.SubscribeRequest(id="s", subscribe=npb.SubscribeCommand(channel=CHANNEL)))
        seen: list[npb.Notification] = []
        await read_until(reader, 0, seen)  # subscribed before the first publish
        acked = []
        for i in range(30):
            res = await n.Publish(
                npb.PublishRequest(channel=CHANNEL, title=f"n{i}", request_id=f"req-{i}"), timeout=10
            )
            acked.append(res)
        await read_until(
            reader, 10, seen, subscribed=False
        )  # the subscriber has read 10 of 30 when the hub dies
        reader.cancel()
        state["position"] = seen[-1].position
        state["acked"] = acked
        await n.MarkRead(npb.MarkReadRequest(notification_ids=[r.id for r in acked[:5]]), timeout=10)

        docs = alice.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        await docs.CreateDocument(collaboration_pb2.CreateDocumentRequest(document_id="deck"), timeout=10)
        peer = Peer(alice, "alice-c")
        await peer.__aenter__()
        try:
            await peer.join("deck")
            await peer.answer(peer.submit(CreateElement("s1", "", "slide", "V")))
            for i in range(20):
                answer = await peer.answer(peer.submit(SetProperty("s1", f"k{i}", i)))
                assert answer.WhichOneof("event") == "applied", answer
        finally:
            await peer.close()

        jobs = analysis(alice)
        names = []
        for i in range(3):
            options = struct_pb2.Struct()
            options.update({"steps": 20})
            op = await jobs.SubmitAnalysis(
                analysis_pb2.SubmitAnalysisRequest(
                    analyzer="test.slow", input=analysis_pb2.AnalysisInput(text=f"job {i}"), options=options
                ),
                timeout=10,
            )
            names.append(op.name)
        state["jobs"] = names
        watch = jobs.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=names[0]))
        async with asyncio.timeout(20):
            async for event in watch:
                if job_meta(event.operation).state == analysis_pb2.JOB_STATE_RUNNING:
                    break  # the first job is running, the other two are queued
        watch.cancel()

        busy_acked: list[npb.PublishResponse] = []
        state["busy"] = busy_acked
        under_way = asyncio.Event()

        async def keep_publishing() -> None:
            for i in range(100_000):
                request = npb.PublishRequest(channel=BUSY, title=f"b{i}", request_id=f"busy-{i}")
                busy_acked.append(await n.Publish(request, timeout=10))
                if len(busy_acked) == 50:
                    under_way.set()

        busy = asyncio.create_task(keep_publishing())
        try:
            async with asyncio.timeout(30):
                await under_way.wait()  # well under way: a publication is in flight when it dies
            hub.proc.send_signal(signal.SIGKILL)
            hub.proc.wait(10)
            with pytest.raises(grpc.aio.AioRpcError):
                async with asyncio.timeout(30):
                    await busy
        finally:
            busy.cancel()


async def second_life(hub: ServerProcess, state: dict[str, object]) -> None:
    acked: list[npb.PublishResponse] = state["acked"]  # type: ignore[assignment]
    position: common_pb2.StreamPosition = state["position"]  # type: ignore[assignment]
    async with Client(hub.target, token=hub.token("alice")) as alice:
        n = notifications(alice)
        reader = n.Subscribe()
        await reader.write(
            npb.SubscribeRequest(id="s", subscribe=npb.SubscribeCommand(channel=CHANNEL, since=position))
        )
        seen: list[npb.Notification] = []
        recovered = await read_until(reader, 20, seen)
        reader.cancel()
        assert recovered is True
        assert [s.title for s in seen] == [f"n{i}" for i in range(10, 30)]
        assert [s.position.offset for s in seen] == [r.position.offset for r in acked[10:]]
        again = await n.Publish(
            npb.PublishRequest(channel=CHANNEL, title="n3", request_id="req-3"), timeout=10
        )
        assert again.duplicate and again.position == acked[3].position  # idempotency survived
        listed = await n.ListNotifications(
            npb.ListNotificationsRequest(channel=CHANNEL, page_size=100), timeout=10
        )
        read = {x.id for x in listed.notifications if x.read}
        assert read == {r.id for r in acked[:5]}  # read state survived
        assert len(listed.notifications) == 30

        docs = alice.stub(collaboration_pb2_grpc.CollaborationServiceStub)
        got = await docs.GetDocument(collaboration_pb2.GetDocumentRequest(document_id="deck"), timeout=10)
        [element] = got.snapshot.elements
        assert {f"k{i}" for i in range(20)} <= set(element.properties)
        await edit_again(alice, got.snapshot.version)

        busy_acked: list[npb.PublishResponse] = state["busy"]  # type: ignore[assignment]
        kept: list[npb.Notification] = []
        token = ""
        for _ in range(1000):
            page = await n.ListNotifications(
                npb.ListNotificationsRequest(channel=BUSY, page_size=100, page_token=token), timeout=10
            )
            kept.extend(page.notifications)
            token = page.next_page_token
            if not token:
                break
        stored = sorted(kept, key=lambda x: x.position.offset)
        assert [x.position.offset for x in stored] == list(range(1, len(stored) + 1))  # no gap
        assert {r.id for r in busy_acked} <= {x.id for x in stored}  # every acknowledged one is there
        assert len(stored) <= len(busy_acked) + 1  # at most the one in flight got in unacknowledged
        assert [x.title for x in stored[: len(busy_acked)]] == [f"b{i}" for i in range(len(busy_acked))]

        diag = alice.stub(diagnostics_pb2_grpc.DiagnosticsServiceStub)
        info = await diag.GetServerInfo(diagnostics_pb2.GetServerInfoRequest(), timeout=10)
        assert info.broker == "sqlite"

        jobs = analysis(alice)
        for i, name in enumerate(state["jobs"]):  # type: ignore[attr-defined]
            final = await jobs.WaitOperation(operations_pb2.WaitOperationRequest(name=name), timeout=60)
            assert final.done and job_meta(final).state == analysis_pb2.JOB_STATE_SUCCEEDED, final
            result = analysis_pb2.AnalysisResult()
            final.response.Unpack(result)
            assert result.data["text"] == f"JOB {i}"
            assert int(result.data["pid"]) == hub.proc.pid  # run (again) by the restarted hub


async def edit_again(client: Client, version: int) -> None:
    """Rejoin the document and go on editing. The dead process's ownership claim must expire first
    (REALTIME_COLLAB_OWNER_TTL, 5 s by default): the join is retried until then, bounded."""
    for _ in range(80):
        peer = Peer(client, "alice-c2")
        await peer.__aenter__()
        try:
            joined = await peer.join("deck")
        except (AssertionError, TimeoutError):
            await peer.close()
            await asyncio.sleep(0.25)  # the previous owner's claim has not expired yet
            continue
        try:
            assert joined.version == version
            answer = await peer.answer(peer.submit(SetProperty("s1", "after-restart", 1)))
            assert answer.WhichOneof("event") == "applied", answer
            assert answer.applied.operations[-1].version == version + 1
        finally:
            await peer.close()
        return
    raise AssertionError("could not rejoin the document after the restart")


async def test_sigkill_and_restart_on_the_same_file_keeps_everything_acknowledged(tmp_path: Path) -> None:
    broker = f"--broker=sqlite://{tmp_path}/hub.db"
    state: dict[str, object] = {}
    with server_process(tmp_path, broker, name="first", env=ENV) as first:
        await first_life(first, state)
    with server_process(tmp_path, broker, name="second", env=ENV) as second:
        await second_life(second, state)


def start_fails(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("realtime-server"), "--grpc-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_a_corrupt_or_locked_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database\n" * 500)
    result = start_fails(tmp_path, f"--broker=sqlite://{corrupt}")
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if "cannot start" in x]
    assert str(corrupt) in line and "aside" in line and "Traceback" not in result.stderr

    with server_process(tmp_path, "--broker=sqlite:hub.db", name="holder"):  # relative to its cwd
        result = start_fails(tmp_path, "--broker=sqlite:hub.db")
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if "cannot start" in x]
    assert "hub.db" in line and "another hub process" in line and "redis" in line


def test_the_default_keeps_its_file_under_the_dev_dir(tmp_path: Path) -> None:
    with server_process(tmp_path, f"--dev-dir={tmp_path}/state", name="default"):
        assert (tmp_path / "state" / "hub.db").exists()
