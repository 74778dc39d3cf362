"""The TypeScript NotificationSubscription (Node) across two replicas on Redis: the subscriber's replica
is SIGKILLed (or drained with SIGTERM, whose GOING_AWAY RetryInfo the client waits out) mid-stream
and it resumes on the other, every notification exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.redis_server import delete_prefix, test_prefix

from .servers import server_process
from .test_gateway_node import ESBUILD, ROOT, bundle

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


async def test_ts_subscription_survives_replica_sigkill(tmp_path: Path, redis_url: str) -> None:
    await _across_replicas(tmp_path, redis_url, "subscription.test.ts", "KILL_A_NOW", signal.SIGKILL, 4)


async def test_ts_subscription_waits_out_a_drain(tmp_path: Path, redis_url: str) -> None:
    await _across_replicas(tmp_path, redis_url, "drain.test.ts", "DRAIN_A_NOW", signal.SIGTERM, 1)


async def _across_replicas(
    tmp_path: Path, redis_url: str, test_file: str, marker: str, sig: signal.Signals, passes: int
) -> None:
    """Run `test_file` against replicas A and B on Redis; send `sig` to A when it prints `marker`."""
    assert ESBUILD.exists(), "run `make setup`"
    script = await bundle(ROOT / "src/clients/node/test" / test_file, tmp_path / "node-tests")
    prefix = test_prefix()
    broker = f"--broker={redis_url}?prefix={prefix}"
    env = {"REALTIME_NOTIFICATIONS_STATS_INTERVAL": "0"}
    try:
        with (
            server_process(tmp_path, broker, name="a", env=env) as a,
            server_process(tmp_path, broker, name="b", env=env) as b,
        ):
            node_env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "REALTIME_GRPC_URL_A": f"http://{a.target}",
                "REALTIME_GRPC_URL_B": f"http://{b.target}",
                "REALTIME_TOKEN": a.token("reader"),
                "REALTIME_ADMIN_TOKEN": a.token("root", ("admin",)),
            }
            proc = await asyncio.create_subprocess_exec(
                "node",
                "--test",
                "--test-reporter=spec",
                str(script),
                cwd=ROOT,
                env=node_env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert proc.stdout is not None
            lines: list[str] = []
            try:
                async with asyncio.timeout(120):
                    while line := (await proc.stdout.readline()).decode():
                        lines.append(line)
                        if marker in line:
                            a.proc.send_signal(sig)
                    await proc.wait()
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            out = "".join(lines)
            assert proc.returncode == 0, out
            assert marker in out, out  # A was stopped mid-stream
            assert "fail 0" in out and f"pass {passes}" in out, out
            if sig == signal.SIGKILL:
                assert a.proc.poll() is not None, out
    finally:
        await delete_prefix(redis_url, prefix)
