"""Uploads as a user meets them: `realtime-server` on its defaults, the `realtime` CLI, big files.

- a 7 MB JPEG and a 10 MB PNG through `realtime analyze submit --analyzer image.optimize --watch`
  (the issue's "done when"): progress lines, a result, the optimized image saved;
- 200 MB through `realtime upload put` while the hub is SIGKILLed and restarted mid-upload:
  the CLI resumes from the committed offset and the hub verifies the SHA-256;
- 50 MB through the CLI, the CLI itself killed mid-upload: running it again resumes by hash;
- 200 MB through the Python client while the hub restarts gracefully (SIGTERM: GOING_AWAY),
  read back and compared by SHA-256.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.client import Client
from realtime.client.uploads import Progress, read_to_file, upload
from realtime.server.platform.auth import mint_token
from tests.e2e.servers import free_port, tool, wait_serving
from tests.service.upload_helpers import MIB, file_sha256, noisy_image, random_file

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "realtime")


@contextlib.contextmanager
def hub(tmp: Path, grpc_port: int, http_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`realtime-server` with default settings (cwd `tmp`: its dev dir and upload spool live there)."""
    with (tmp / f"hub-{grpc_port}.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                tool("realtime-server"),
                f"--grpc-listen=127.0.0.1:{grpc_port}",
                f"--http-listen=127.0.0.1:{http_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=dev_env(tmp),
        )
    try:
        wait_serving(f"127.0.0.1:{grpc_port}", timeout=60)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def dev_env(tmp: Path) -> dict[str, str]:
    """The dev default's files (secret, hub.db, upload spool) in `tmp/.realtime`, for hub and CLI alike."""
    return {**os.environ, "REALTIME_DEV_DIR": str(tmp / ".realtime")}


def token(tmp: Path, sub: str = "alice") -> str:
    return mint_token((tmp / ".realtime" / "dev-jwt-secret").read_bytes().strip(), sub)


async def start_cli(tmp: Path, port: int, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        CLI, *args, "--server", f"127.0.0.1:{port}", "--token", token(tmp), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp, env=dev_env(tmp),
    )  # fmt: skip


async def lines_of(proc: asyncio.subprocess.Process) -> list[dict[str, object]]:
    assert proc.stdout is not None
    return [json.loads(line) async for line in proc.stdout]


async def finish(
    proc: asyncio.subprocess.Process, timeout: float = 120
) -> tuple[int, list[dict[str, object]], str]:
    try:
        async with asyncio.timeout(timeout):
            lines = await lines_of(proc)
            assert proc.stderr is not None
            err = (await proc.stderr.read()).decode()
            return await proc.wait(), lines, err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


PHOTOS = {
    "big-photo.jpg": lambda: noisy_image(3200, 2400, "JPEG", seed=3, quality=92),  # ~7.4 MB
    "big-photo.png": lambda: noisy_image(1900, 1800, "PNG", seed=7),  # ~10.3 MB
}


async def test_image_optimize_of_big_photos_on_default_settings(tmp_path: Path) -> None:
    port = free_port()
    with hub(tmp_path, port, free_port()):
        for name, make in PHOTOS.items():
            photo = tmp_path / name
            photo.write_bytes(await asyncio.to_thread(make))
            size = photo.stat().st_size
            assert size > 7_000_000
            out = tmp_path / ("out-" + name)
            proc = await start_cli(
                tmp_path, port, "analyze", "submit", str(photo), "--analyzer", "image.optimize", "--watch",
                "--save", str(out),
            )  # fmt: skip
            code, lines, err = await finish(proc)
            assert code == 0, err
            uploads = [x for x in lines if x.get("event") == "upload"]
            assert uploads[-1]["bytes"] == uploads[-1]["total"] == size and len(uploads) > 10
            watch = [x for x in lines if x.get("event") not in ("upload", "download")]
            events = [x["event"] for x in watch]
            assert events[0] == "snapshot" and events[-1] == "done" and "phase_started" in events
            done = watch[-1]
            assert done["state"] == "SUCCEEDED" and done["percent"] == 100
            saved = list(out.iterdir())
            assert len(saved) == 1 and saved[0].read_bytes()[8:12] == b"WEBP"
            assert saved[0].stat().st_size == done["artifacts"][0]["bytes"]  # type: ignore[index]
            # The CLI deleted its upload once the job held the input: nothing left in the spool.
            assert list((tmp_path / ".realtime" / "uploads").iterdir()) == []


async def test_200mb_upload_survives_a_hub_killed_mid_upload(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    sha = await asyncio.to_thread(random_file, big, 200 * MIB, seed=200)
    grpc_port, http_port = free_port(), free_port()
    with hub(tmp_path, grpc_port, http_port) as first:
        proc = await start_cli(tmp_path, grpc_port, "upload", "put", str(big))
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while True:
                line = json.loads(await proc.stdout.readline())
                if line["bytes"] >= 20 * MIB:
                    break
        first.send_signal(signal.SIGKILL)  # no goodbye: what reached the disk is what counts
        first.wait(10)
    with hub(tmp_path, grpc_port, http_port):
        code, lines, err = await finish(proc)
        assert code == 0, err
        final = lines[-1]
        assert final["complete"] is True and final["sha256"] == sha and final["size"] == str(200 * MIB)
        resumed = [x for x in lines if x.get("event") == "upload" and x.get("resumes")]
        assert 0 < int(str(resumed[0]["bytes"])) < 200 * MIB  # from the committed offset, not from 0
        spooled = tmp_path / ".realtime" / "uploads" / (str(final["name"]).removeprefix("uploads/") + ".data")
        assert spooled.stat().st_size == 200 * MIB


async def test_50mb_cli_killed_mid_upload_resumes_by_hash(tmp_path: Path) -> None:
    data = tmp_path / "fifty.bin"
    sha = await asyncio.to_thread(random_file, data, 50 * MIB, seed=51)
    port = free_port()
    with hub(tmp_path, port, free_port()):
        proc = await start_cli(tmp_path, port, "upload", "put", str(data))
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while True:
                line = json.loads(await proc.stdout.readline())
                if line["bytes"] >= 10 * MIB:
                    break
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        name = str(line["name"])
        status_proc = await start_cli(tmp_path, port, "upload", "status", name)
        code, status, err = await finish(status_proc)
        assert code == 0, err
        committed = int(str(status[-1].get("committed_size", 0)))
        assert 0 < committed < 50 * MIB and "complete" not in status[-1]
        again = await start_cli(tmp_path, port, "upload", "put", str(data))
        code, lines, err = await finish(again)
        assert code == 0, err
        assert lines[0]["name"] == name and int(str(lines[0]["bytes"])) >= committed  # not from 0
        assert lines[-1]["complete"] is True and lines[-1]["sha256"] == sha
        back = tmp_path / "back.bin"
        read = await start_cli(tmp_path, port, "upload", "read", name, str(back))
        code, _, err = await finish(read)
        assert code == 0, err
        assert await asyncio.to_thread(file_sha256, back) == sha


async def test_200mb_python_client_upload_survives_a_graceful_restart(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    sha = await asyncio.to_thread(random_file, big, 200 * MIB, seed=201)
    grpc_port, http_port = free_port(), free_port()
    target = f"127.0.0.1:{grpc_port}"
    with hub(tmp_path, grpc_port, http_port) as first:
        async with Client(target, token=token(tmp_path)) as client:
            reached = asyncio.Event()
            seen: list[Progress] = []

            def progress(p: Progress) -> None:
                seen.append(p)
                if p.done >= 30 * MIB:
                    reached.set()

            task = asyncio.ensure_future(
                upload(client, big, "application/octet-stream", on_progress=progress)
            )
            async with asyncio.timeout(60):
                await reached.wait()
            first.send_signal(signal.SIGTERM)  # graceful: the Write ends UNAVAILABLE (GOING_AWAY)
            await asyncio.to_thread(first.wait, 30)
            with hub(tmp_path, grpc_port, http_port):
                async with asyncio.timeout(120):
                    done = await task
                assert done.complete and done.sha256 == sha and done.size == 200 * MIB
                assert any(p.resumes for p in seen) and 0 < min(p.done for p in seen if p.resumes) < 200 * MIB
                back = tmp_path / "back.bin"
                assert await read_to_file(client, done.name, back) == 200 * MIB
                assert await asyncio.to_thread(file_sha256, back) == sha
