"""The Go client (src/clients/go), built offline with Debian's Go packages, against a hub process:
FixText, a Subscribe stream that receives what it publishes, and an error with decoded details."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .servers import server_process

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("go") / "realtime-go"
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-go-client.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, f"go build failed (make setup-system installs Go):\n{built.stderr}"
    return out


def run_go(binary: Path, target: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-server", target, "-token", token, "-timeout", "20s", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_go_client_fix_subscribe_and_error_details(go_binary: Path, tmp_path: Path) -> None:
    with server_process(tmp_path) as server:
        token = server.token("gopher")
        fixed = run_go(go_binary, server.target, token, "fix", "hello  world")
        assert fixed.returncode == 0, fixed.stderr
        assert lines(fixed.stdout) == [{"fixed": "hello world", "suggestions": 1}]

        for attempt in range(2):  # twice: the second run's offsets continue the channel
            streamed = run_go(go_binary, server.target, token, "subscribe", "topic:go", "5")
            assert streamed.returncode == 0, streamed.stderr
            events = lines(streamed.stdout)
            assert events[0] == {"subscribed": "topic:go", "command_id": "s1"}
            assert [e["notification"] for e in events[1:]] == [f"go {i}" for i in range(5)]
            assert [e["offset"] for e in events[1:]] == [attempt * 5 + i + 1 for i in range(5)]

        error = run_go(go_binary, server.target, token, "error")
        assert error.returncode == 0, error.stderr
        assert lines(error.stdout) == [
            {
                "code": "InvalidArgument",
                "message": "text is empty",
                "reason": "INVALID_ARGUMENT",
                "domain": "realtime",
                "fields": ["text"],
            }
        ]

        refused = run_go(go_binary, server.target, "not-a-token", "fix", "x")
        assert refused.returncode == 1
        assert refused.stderr.startswith("Unauthenticated:")


def test_go_client_over_mutual_tls(go_binary: Path, tmp_path: Path) -> None:
    from tests.tls_certs import CA

    ca, other = CA(tmp_path, "hub-ca"), CA(tmp_path, "other-ca")
    served, gopher = ca.server(), ca.issue("gopher.internal", client=True)
    args = (
        f"--tls-cert-file={served.cert_file}",
        f"--tls-key-file={served.key_file}",
        f"--tls-client-ca-file={ca.cert_file}",
        "--tls-client-subjects=gopher.internal=svc-gopher",
    )
    pair = (gopher.cert_file, gopher.key_file)
    with server_process(tmp_path, *args, ca_file=ca.cert_file, client_pair=pair) as server:
        mtls = (
            "-ca-file",
            str(ca.cert_file),
            "-cert-file",
            str(gopher.cert_file),
            "-key-file",
            str(gopher.key_file),
        )
        # No token: the certificate's subject is mapped to a user by the hub.
        fixed = run_go(go_binary, server.target, "", *mtls, "fix", "hello  world")
        assert fixed.returncode == 0, fixed.stderr
        assert lines(fixed.stdout) == [{"fixed": "hello world", "suggestions": 1}]
        wrong = ("-ca-file", str(other.cert_file), *mtls[2:])
        refused = run_go(go_binary, server.target, "", *wrong, "-timeout", "3s", "fix", "x")
        assert refused.returncode != 0
