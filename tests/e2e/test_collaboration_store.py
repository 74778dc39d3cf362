"""`realtime-server --document-store ...` as a process: a wrong store is a one-line startup error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .servers import free_port, tool


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("realtime-server"), "--grpc-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )


def test_wrong_document_store_is_a_clear_startup_error(tmp_path: Path, pg_url: str) -> None:
    nobody = free_port()
    missing_db = pg_url.rsplit("/", 1)[0] + "/rt_no_such_database"
    for store, expected in (
        (f"postgresql://postgres:s3cret@127.0.0.1:{nobody}/x", "cannot connect"),
        (missing_db, "rt_no_such_database"),
        ("postgresql://[::1/x", "cannot connect"),
    ):
        result = start(tmp_path, "--document-store", store)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if "cannot start" in line]
        assert len(lines) == 1 and "collaboration service: document store" in lines[0], result.stderr
        assert expected in lines[0], result.stderr
        assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    result = start(tmp_path, "--document-store", "mysql://x")
    assert (
        result.returncode == 2 and "--document-store must be 'broker' or a postgresql:// URL" in result.stderr
    )
    result = start(tmp_path, env={"REALTIME_DOCUMENT_STORE": f"postgresql://postgres@127.0.0.1:{nobody}/x"})
    assert result.returncode == 2 and "cannot start: collaboration service: document store" in result.stderr
