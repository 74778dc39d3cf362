"""Two hub processes share jobs through Redis: kill the one running a job, the other finishes it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.longrunning import operations_pb2
from google.protobuf import struct_pb2

from realtime.client import Client
from realtime.v1 import analysis_pb2, analysis_pb2_grpc
from tests.e2e.servers import ServerProcess, free_port, tool, wait_serving
from tests.redis_server import redis_process

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def replica(tmp: Path, name: str, redis_url: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    """A hub process on the shared Redis; generous start-up wait (the CI box may be busy)."""
    secret_file = tmp / "jwt-secret"
    if not secret_file.exists():
        secret_file.write_bytes(secrets.token_urlsafe(48).encode())
    grpc_port, http_port = free_port(), free_port()
    log = tmp / f"{name}.log"
    command = [
        tool("realtime-server"),
        f"--grpc-listen=127.0.0.1:{grpc_port}",
        f"--http-listen=127.0.0.1:{http_port}",
        f"--jwt-secret-file={secret_file}",
        f"--broker={redis_url}",
        "--log-format=json",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env={**os.environ, **env}
        )
    server = ServerProcess(proc, grpc_port, http_port, secret_file.read_bytes().strip(), log)
    try:
        wait_serving(server.target, timeout=90)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def meta(op: operations_pb2.Operation) -> analysis_pb2.AnalysisMetadata:
    m = analysis_pb2.AnalysisMetadata()
    op.metadata.Unpack(m)
    return m


async def test_killed_replica_job_is_finished_by_the_other(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(ROOT),
        "REALTIME_ANALYSIS_ANALYZERS": "tests.e2e.analysis_slow:Slow",
        "REALTIME_ANALYSIS_LEASE_TTL": "3",  # short for the test; a loaded CI box still renews in time
    }
    with redis_process() as redis:
        with (
            replica(tmp_path, "a", redis.url, env) as a,
            replica(tmp_path, "b", redis.url, env) as b,
        ):
            replicas = {a.proc.pid: a, b.proc.pid: b}
            token = a.token("alice")
            async with Client(a.target, token=token) as ca, Client(b.target, token=token) as cb:
                stub_a = ca.stub(analysis_pb2_grpc.AnalysisServiceStub)
                stub_b = cb.stub(analysis_pb2_grpc.AnalysisServiceStub)
                options = struct_pb2.Struct()
                options.update({"steps": 40})
                op = await stub_a.SubmitAnalysis(
                    analysis_pb2.SubmitAnalysisRequest(
                        analyzer="test.slow", input=analysis_pb2.AnalysisInput(text="hello"), options=options
                    ),
                    timeout=10,
                )
                # Either replica may take it; its first partial result names the process.
                watch = stub_b.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=op.name))
                kinds = []
                runner_pid = 0
                async with asyncio.timeout(20):
                    async for event in watch:
                        kinds.append(event.kind)
                        partials = meta(event.operation).partial_results
                        if partials:
                            runner_pid = int(partials[0].data["pid"])
                            break
                assert meta(event.operation).state == analysis_pb2.JOB_STATE_RUNNING
                victim = replicas.pop(runner_pid)
                survivor = next(iter(replicas.values()))
                stub = stub_a if survivor is a else stub_b
                victim.proc.kill()  # SIGKILL: no goodbye, its lease just stops being renewed
                victim.proc.wait(10)
                if survivor is a:  # the watch was on the dead replica: watch again on the survivor
                    watch = stub.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=op.name))
                async with asyncio.timeout(30):
                    async for event in watch:
                        kinds.append(event.kind)
                final = await stub.WaitOperation(
                    operations_pb2.WaitOperationRequest(name=op.name), timeout=30
                )
                m = meta(final)
                assert m.state == analysis_pb2.JOB_STATE_SUCCEEDED and m.attempt == 2
                assert analysis_pb2.WATCH_EVENT_KIND_REQUEUED in kinds or survivor is a
                result = analysis_pb2.AnalysisResult()
                final.response.Unpack(result)
                assert result.data["text"] == "HELLO"
                assert int(result.data["pid"]) == survivor.proc.pid


async def test_restarted_hub_requeues_and_finishes_jobs_from_before(tmp_path: Path) -> None:
    """One hub on Redis, killed with a job running and two queued; a new process on the same
    Redis (same prefix) says it kept them, re-queues the orphan, and finishes all three."""
    env = {
        "PYTHONPATH": str(ROOT),
        "REALTIME_ANALYSIS_ANALYZERS": "tests.e2e.analysis_slow:Slow",
        "REALTIME_ANALYSIS_LEASE_TTL": "3",
        "REALTIME_ANALYSIS_CONCURRENCY": "1",
    }
    options = struct_pb2.Struct()
    options.update({"steps": 10})
    with redis_process() as redis:
        with replica(tmp_path, "before", redis.url, env) as before:
            token = before.token("alice")
            async with Client(before.target, token=token) as client:
                stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
                ops = [
                    await stub.SubmitAnalysis(
                        analysis_pb2.SubmitAnalysisRequest(
                            analyzer="test.slow",
                            input=analysis_pb2.AnalysisInput(text=f"job {i}"),
                            options=options,
                        ),
                        timeout=10,
                    )
                    for i in range(3)
                ]
                watch = stub.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=ops[0].name))
                async with asyncio.timeout(20):
                    async for event in watch:
                        if meta(event.operation).partial_results:
                            break
            before.proc.kill()  # SIGKILL with one job running and two queued
            before.proc.wait(10)
        with replica(tmp_path, "after", redis.url, env) as after:
            async with Client(after.target, token=token) as client:
                stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
                for i, op in enumerate(ops):
                    final = op
                    for _ in range(10):  # WaitOperation returns after at most 60 s; bounded loop
                        final = await stub.WaitOperation(
                            operations_pb2.WaitOperationRequest(name=op.name), timeout=90
                        )
                        if final.done:
                            break
                    assert meta(final).state == analysis_pb2.JOB_STATE_SUCCEEDED
                    result = analysis_pb2.AnalysisResult()
                    final.response.Unpack(result)
                    assert result.data["text"] == f"JOB {i}"
                    assert int(result.data["pid"]) == after.proc.pid
            said = after.log.read_text()
            assert "keeps jobs across restarts: 2 queued job(s) from before kept" in said
            assert "re-queued" in said and "were lost" not in said
