"""`realtime-server` over TLS as a process: SIGHUP reloads the certificate without dropping an
open stream; the CLI connects with --ca-file, and with a client certificate under mutual TLS."""

from __future__ import annotations

import json
import os
import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from realtime.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from tests.tls_certs import CA

from .servers import server_process
from .test_server_process import cli


def wait_for_line(log: Path, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the server log after {timeout}s:\n{log.read_text()[-2000:]}")


def channel(target: str, ca: CA) -> grpc.Channel:
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca.pem))


def test_sighup_reloads_the_certificate_and_keeps_the_open_stream(tmp_path: Path) -> None:
    old_ca, new_ca = CA(tmp_path, "old-ca"), CA(tmp_path, "new-ca")
    served = old_ca.server(file_stem="served")
    tls = [
        f"--tls-cert-file={served.cert_file}",
        f"--tls-key-file={served.key_file}",
        "--tls-reload-interval=0",
    ]
    with server_process(tmp_path, *tls, ca_file=old_ca.cert_file) as server:
        ok = cli("--server", server.target, "--ca-file", str(old_ca.cert_file), "health", "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["status"] == "SERVING"
        plain = cli("--server", server.target, "health", "--timeout=3")
        assert plain.returncode != 0

        commands: queue.Queue[diagnostics_pb2.EchoStreamRequest | None] = queue.Queue()

        def requests() -> Iterator[diagnostics_pb2.EchoStreamRequest]:
            while (item := commands.get(timeout=30)) is not None:
                yield item

        metadata = [("authorization", f"Bearer {server.token('alice')}")]
        with channel(server.target, old_ca) as old:
            stream = diagnostics_pb2_grpc.DiagnosticsServiceStub(old).EchoStream(
                requests(), metadata=metadata, timeout=30
            )
            commands.put(diagnostics_pb2.EchoStreamRequest(id="before", ping={}))
            assert next(stream).command_id == "before"

            new_ca.issue("localhost", dns=("localhost",), ips=("127.0.0.1",), file_stem="served")
            os.kill(server.proc.pid, signal.SIGHUP)
            wait_for_line(server.log, "TLS certificate reloaded")

            commands.put(diagnostics_pb2.EchoStreamRequest(id="after", ping={}))
            assert next(stream).command_id == "after"  # the stream opened before the reload lives on
            fresh = cli("--server", server.target, "--ca-file", str(new_ca.cert_file), "health")
            assert fresh.returncode == 0, fresh.stderr
            stale = cli(
                "--server", server.target, "--ca-file", str(old_ca.cert_file), "health", "--timeout=3"
            )
            assert stale.returncode != 0
            commands.put(None)
            assert list(stream) == []
        assert server.proc.poll() is None


def test_cli_with_a_client_certificate_under_mutual_tls(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    served = ca.server()
    worker = ca.issue("worker.internal", client=True)
    args = [
        f"--tls-cert-file={served.cert_file}",
        f"--tls-key-file={served.key_file}",
        f"--tls-client-ca-file={ca.cert_file}",
        "--tls-client-subjects=worker.internal=svc-worker:ops",
    ]
    env = {**os.environ, "REALTIME_CA_FILE": str(ca.cert_file)}
    pair = (worker.cert_file, worker.key_file)
    with server_process(tmp_path, *args, ca_file=ca.cert_file, client_pair=pair) as server:
        mtls = ["--cert-file", str(worker.cert_file), "--key-file", str(worker.key_file)]
        # A dev secret lying around (other hubs of this session made one) must not win over the
        # certificate: with --cert-file and no --token the CLI mints nothing.
        dev = tmp_path / "dev"
        dev.mkdir()
        (dev / "dev-jwt-secret").write_text("some-other-hubs-secret\n")
        who = cli(
            "--server", server.target, *mtls, "whoami", "--json", env={**env, "REALTIME_DEV_DIR": str(dev)}
        )
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["subject"] == "svc-worker"
        bare = cli("--server", server.target, "health", "--timeout=3", env=env)
        assert bare.returncode != 0  # no client certificate: the handshake fails


def test_sighup_without_tls_is_logged_not_fatal(tmp_path: Path) -> None:
    with server_process(tmp_path) as server:
        os.kill(server.proc.pid, signal.SIGHUP)
        wait_for_line(server.log, "nothing to reload")
        ok = cli("--server", server.target, "health")
        assert ok.returncode == 0, ok.stderr
        assert server.proc.poll() is None
