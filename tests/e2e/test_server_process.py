"""`realtime-server` as a process: CLI health, a stream, and graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from realtime.v1 import diagnostics_pb2, diagnostics_pb2_grpc

from .servers import server_process, tool


def cli(
    *args: str, cwd: Path | None = None, timeout: float = 20, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("realtime"), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def test_sigterm_drains_streams_and_exits_zero(tmp_path: Path) -> None:
    with server_process(tmp_path, "--shutdown-grace=5") as server:
        ok = cli("--server", server.target, "health", "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout) == {"service": "", "status": "SERVING"}

        metadata = [("authorization", f"Bearer {server.token('alice')}")]
        channel = grpc.insecure_channel(server.target)
        statuses: list[int] = []
        first_status = threading.Event()
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=15)

        def follow_health() -> None:
            try:
                for reply in watch:
                    statuses.append(reply.status)
                    first_status.set()
            except grpc.RpcError:
                pass

        follower = threading.Thread(target=follow_health, daemon=True)
        follower.start()

        def commands():  # type: ignore[no-untyped-def]
            yield diagnostics_pb2.EchoStreamRequest(id="1", ping={})
            time.sleep(30)  # keep the stream open; the server must end it

        stream = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel).EchoStream(
            commands(), metadata=metadata, timeout=20
        )
        assert next(stream).HasField("pong")
        # The Watch answers on its own thread: see SERVING before stopping the hub.
        assert first_status.wait(5) and statuses == [health_pb2.HealthCheckResponse.SERVING]
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        going_away = next(stream)
        assert going_away.HasField("going_away")
        ended_with = grpc.StatusCode.OK
        try:
            for _ in stream:
                pass
        except grpc.RpcError as err:
            ended_with = err.code()
        assert ended_with == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - started < 5.0

        refused = cli("--server", server.target, "--timeout", "2", "health")
        assert refused.returncode != 0
        assert "UNAVAILABLE" in refused.stderr
        assert server.proc.wait(10) == 0
        follower.join(5)
        channel.close()
        assert statuses[0] == health_pb2.HealthCheckResponse.SERVING
        assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
        log = server.output()
        assert '"message": "stopped"' in log
        # Call lines are written in 50 ms batches (the timer, or the stop for the last one): the
        # stream that ended in the drain is logged, before "stopped".
        lines = log.splitlines()
        stream_line = next(
            i
            for i, line in enumerate(lines)
            if "call finished" in line and "DiagnosticsService/EchoStream" in line
        )
        assert stream_line < next(i for i, line in enumerate(lines) if '"message": "stopped"' in line)
        assert "Bearer" not in log and server.token("alice") not in log


def test_dev_default_secret_and_cli_token(tmp_path: Path) -> None:
    """With no key configured the server creates the dev secret (0600) in the per-user state
    directory; the CLI finds it from any folder, and says where it looked when it is missing."""
    from .servers import free_port, wait_serving

    port, http = free_port(), free_port()
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    env.pop("REALTIME_DEV_DIR", None)
    env.pop("REALTIME_JWT_SECRET_FILE", None)
    server_dir, elsewhere = tmp_path / "server", tmp_path / "elsewhere"
    server_dir.mkdir()
    elsewhere.mkdir()
    log = (tmp_path / "dev.log").open("wb")
    proc = subprocess.Popen(
        [tool("realtime-server"), f"--grpc-listen=127.0.0.1:{port}", f"--http-listen=127.0.0.1:{http}"],
        cwd=server_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    target = f"127.0.0.1:{port}"
    try:
        wait_serving(target)
        secret = state / "realtime" / "dev-jwt-secret"
        assert secret.stat().st_mode & 0o777 == 0o600
        assert secret.parent.stat().st_mode & 0o777 == 0o700
        assert not (server_dir / ".realtime").exists()
        who = cli("--server", target, "whoami", "--json", "--sub", "alice", cwd=elsewhere, env=env)
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["subject"] == "alice"
        token = cli("token", "--sub", "bob", "--role", "admin", "--ttl", "10m", cwd=elsewhere, env=env)
        who = cli("--server", target, "--token", token.stdout.strip(), "whoami", "--json", cwd=elsewhere)
        assert json.loads(who.stdout)["roles"] == ["admin"]
        bad = cli("--server", target, "--token", "nope", "whoami", cwd=elsewhere)
        assert bad.returncode == 1
        assert bad.stderr.startswith("UNAUTHENTICATED")

        # The documented format: the file's bytes with surrounding whitespace removed. A token
        # signed by hand with those bytes is accepted; the file keeps its trailing newline.
        raw = secret.read_bytes()
        assert raw.endswith(b"\n") and raw.strip() == raw[:-1]
        import jwt

        now = int(time.time())
        mine = jwt.encode({"sub": "carol", "iat": now, "exp": now + 600}, raw.strip(), algorithm="HS256")
        who = cli("--server", target, "--token", mine, "whoami", "--json", cwd=elsewhere)
        assert json.loads(who.stdout)["subject"] == "carol", who.stderr

        # REALTIME_DEV_DIR points both at another folder: the CLI looks where the server would.
        other = {**env, "REALTIME_DEV_DIR": str(tmp_path / "nowhere")}
        missing = cli("token", "--sub", "bob", cwd=elsewhere, env=other)
        assert missing.returncode == 2
        assert str(tmp_path / "nowhere" / "dev-jwt-secret") in missing.stderr
        assert "make run" in missing.stderr and "--token" in missing.stderr
        anonymous = cli("--server", target, "whoami", cwd=elsewhere, env=other)
        assert anonymous.returncode == 1
        assert anonymous.stderr.startswith("UNAUTHENTICATED")
        assert "no token was sent: no JWT secret at " + str(tmp_path / "nowhere") in anonymous.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        log.close()
    assert f"dev default: created the HS256 secret {secret}" in (tmp_path / "dev.log").read_text()


def test_require_auth_config_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [tool("realtime-server"), "--require-auth-config", "--grpc-listen=127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert result.returncode == 2
    assert "--require-auth-config" in result.stderr
    assert not (tmp_path / ".realtime").exists()
    assert not any(tmp_path.rglob("dev-jwt-secret"))


def test_a_bad_service_setting_is_a_clear_startup_error(tmp_path: Path) -> None:
    for name, value, expected in (
        ("REALTIME_TEXT_BATCH_WORKERS", "many", "text service: REALTIME_TEXT_BATCH_WORKERS='many'"),
        ("REALTIME_NOTIFICATIONS_HISTORY_SIZE", "-x", "notifications service: REALTIME_NOTIFICATIONS_"),
    ):
        result = subprocess.run(
            [tool("realtime-server"), "--grpc-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, name: value},
        )
        assert result.returncode == 2, result.stderr
        assert "cannot start: " + expected in result.stderr
        assert "Traceback" not in result.stderr
