"""The built wheel, installed in a clean virtualenv, is a working hub, in plaintext and over TLS.

The editable install (`make setup`) sees every folder of the source tree, so a package that
`find_packages` skips (a folder without `__init__.py`) or a data file missing from
`package_data` only shows up once the hub runs from a real wheel. `make check-wheel` (CI) runs this.
The wheel is built and installed once; the installed hub starts once per mode (plaintext, TLS) and
answers third-party clients: grpcio health and reflection, buf curl, the Go client, the Node client
(connect-node) and the gateway page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from realtime.common.tokens import mint_token
from realtime.v1 import text_pb2, text_pb2_grpc
from tests.tls_certs import CA

from .servers import free_port, wait_serving
from .test_gateway_node import ESBUILD, bundle

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
CHROMIUM = Path("/usr/bin/chromium")
# What setup.py maps into the wheel; copied so the build never writes into the source tree.
SOURCES = (
    "setup.py",
    "pyproject.toml",
    "README.md",
    "src/server",
    "src/clients/python",
    "src/common",
    "gen/python",
)
DATA_SUFFIXES = (".lua", ".html", ".js", ".css", ".json")

pytestmark = [pytest.mark.e2e, pytest.mark.wheel, pytest.mark.timeout(900)]


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=800, cwd=cwd, env=env
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def build_wheel(tmp: Path) -> Path:
    tree = tmp / "tree"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    dist = tmp / "dist"
    # The running interpreter's setuptools builds it: no network needed for the build itself.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, tree)
    (wheel,) = dist.glob("realtime_hub-*.whl")
    return wheel


def source_data_files() -> set[str]:
    server = ROOT / "src" / "server"
    return {
        str(p.relative_to(server))
        for p in server.rglob("*")
        if p.suffix in DATA_SUFFIXES and "__pycache__" not in p.parts
    }


def source_packages() -> set[str]:
    server = ROOT / "src" / "server"
    return {str(p.parent.relative_to(server)) for p in server.rglob("*.py") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, checked for every package and data file, installed in a clean virtualenv."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp)
    names = set(zipfile.ZipFile(wheel).namelist())
    prefix = "realtime/server/"
    missing_data = {f for f in source_data_files() if prefix + f not in names}
    assert not missing_data, f"package data missing from the wheel: {sorted(missing_data)}"
    missing_modules = {
        d
        for d in source_packages()
        if not any(n.startswith(prefix + ("" if d == "." else d + "/")) and n.endswith(".py") for n in names)
    }
    assert not missing_modules, f"packages missing from the wheel: {sorted(missing_modules)}"
    assert prefix + "analysis/analyzers/__init__.py" in names
    # What the hub and the client share (the CLI's collaboration model among it) ships too.
    common = ROOT / "src" / "common"
    shared = {"realtime/common/" + str(f.relative_to(common)) for f in common.rglob("*.py")}
    assert not shared - names, f"realtime.common modules missing from the wheel: {sorted(shared - names)}"
    assert "realtime/common/collaboration/replica.py" in names

    env = tmp / "venv"
    run(sys.executable, "-m", "venv", env)
    # Dependencies come from pip's configuration (index, --find-links, cache): offline when the
    # cache or a local wheel directory has them.
    run(env / "bin" / "python", "-m", "pip", "install", "-q", "--prefer-binary", wheel)
    where = run(env / "bin" / "python", "-c", "import realtime.server as s; print(s.__file__)", cwd=tmp)
    assert where.strip().startswith(str(env)), where
    return env


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("go") / "realtime-go"
    run("bash", ROOT / "scripts" / "build-go-client.sh", out)
    return out


@pytest.fixture(scope="module")
def browser_script() -> Iterator[Path]:
    assert CHROMIUM.exists(), "install Debian's chromium: make setup-system"
    assert ESBUILD.exists(), "run `make setup` (npm installs the pinned esbuild)"
    # Under node_modules so that playwright-core, left external, resolves at run time.
    out = ROOT / "node_modules" / ".cache" / "realtime-wheel" / secrets.token_hex(4)
    return asyncio.run(
        bundle(ROOT / "tests/e2e/browser/tls_smoke.test.ts", out, external=("playwright-core",))
    )


def spki_sha256(cert_pem: bytes) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list takes: base64(SHA-256(SubjectPublicKeyInfo))."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def node_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert ESBUILD.exists(), "run `make setup` (npm installs the pinned esbuild)"
    out = tmp_path_factory.mktemp("node")
    return asyncio.run(bundle(ROOT / "src/clients/node/test/client.test.ts", out))


@dataclass
class WheelHub:
    grpc_port: int
    http_port: int
    home: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def token(self, subject: str, roles: tuple[str, ...] = ()) -> str:
        (secret,) = self.home.rglob("dev-jwt-secret")  # the dev default, under the user's XDG state
        return mint_token(secret.read_bytes().strip(), subject, roles=roles)


@contextlib.contextmanager
def wheel_hub(venv: Path, tmp: Path, *args: str, ca: CA | None = None) -> Iterator[WheelHub]:
    """`realtime-server` from the virtualenv in the dev default (no REALTIME_* settings, a fresh
    HOME); stopped with SIGTERM, which must exit 0 without a traceback in its log."""
    hub = WheelHub(free_port(), free_port(), tmp / "home")
    hub.home.mkdir()
    log = tmp / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALTIME_")}
    env.update(HOME=str(hub.home), XDG_STATE_HOME=str(hub.home / "state"), PYTHONPATH="")
    command = [
        str(venv / "bin" / "realtime-server"),
        f"--grpc-listen={hub.target}",
        f"--http-listen=127.0.0.1:{hub.http_port}",
        *args,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env)
    try:
        wait_serving(hub.target, timeout=60, ca_file=ca.cert_file if ca else None)
        yield hub
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert code == 0, log.read_text(errors="replace")[-4000:]
    assert "Traceback" not in log.read_text(errors="replace")


def check_health_and_reflection(channel: grpc.Channel) -> set[str]:
    """Every hub service listed by reflection is SERVING on Check and List; reflection resolves a
    method for grpcio-reflection's descriptor pool. Returns the listed services."""
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    reply = next(
        reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
    )
    services = {s.name for s in reply.list_services_response.service}
    for expected in ("Text", "Conversation", "Analysis", "Collaboration", "Notification"):
        assert any(f"realtime.v1.{expected}" in s for s in services), (expected, services)
    health = health_pb2_grpc.HealthStub(channel)
    listed = health.List(health_pb2.HealthListRequest(), timeout=5).statuses
    hub_services = {s for s in services if not s.startswith("grpc.")}
    assert hub_services <= set(listed), (hub_services, set(listed))
    for service in sorted(hub_services):
        assert listed[service].status == health_pb2.HealthCheckResponse.SERVING, service
        status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING, (service, status)
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindMethodByName("realtime.v1.TextService.FixText")
    assert method.input_type.full_name == "realtime.v1.FixTextRequest"
    return services


def check_fix_text(channel: grpc.Channel, token: str) -> None:
    reply = text_pb2_grpc.TextServiceStub(channel).FixText(
        text_pb2.FixTextRequest(text="hello  world"),
        metadata=[("authorization", f"Bearer {token}")],
        timeout=20,
    )
    assert reply.fix.text == "hello world", reply


def check_buf_curl(base_url: str, *tls: str) -> None:
    assert BUF.exists(), "run `make setup` (npm ci installs the pinned buf)"
    listed = run(BUF, "curl", "--protocol", "grpc", *tls, "--list-methods", base_url)
    methods = listed.split()
    assert "realtime.v1.TextService/FixText" in methods, methods
    assert "grpc.health.v1.Health/List" in methods, methods


def check_go(binary: Path, hub: WheelHub, *tls: str) -> None:
    fixed = run(
        binary,
        "-server",
        hub.target,
        "-token",
        hub.token("gopher"),
        "-timeout",
        "20s",
        *tls,
        "fix",
        "hello  world",
    )
    assert [json.loads(line) for line in fixed.splitlines()] == [{"fixed": "hello world", "suggestions": 1}]


def check_node(script: Path, hub: WheelHub, services: set[str], base_url: str, env: dict[str, str]) -> None:
    out = run(
        "node",
        "--test",
        "--test-reporter=spec",
        script,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REALTIME_GRPC_URL": base_url,
            "REALTIME_TOKEN": hub.token("nora"),
            "REALTIME_ADMIN_TOKEN": hub.token("root", ("admin",)),
            "REALTIME_SERVICES": ",".join(sorted(services)),
            **env,
        },
    )
    assert "fail 0" in out and "pass 6" in out, out


def test_installed_hub_in_plaintext(venv: Path, go_binary: Path, node_script: Path, tmp_path: Path) -> None:
    with wheel_hub(venv, tmp_path) as hub:
        with grpc.insecure_channel(hub.target) as channel:
            services = check_health_and_reflection(channel)
            check_fix_text(channel, hub.token("alice"))
        check_buf_curl(f"http://{hub.target}", "--http2-prior-knowledge")
        check_go(go_binary, hub)
        check_node(node_script, hub, services, f"http://{hub.target}", {})
        dashboard = run("curl", "-sf", f"http://127.0.0.1:{hub.http_port}/")
        assert "<html" in dashboard.lower()


def test_installed_hub_over_tls(
    venv: Path, go_binary: Path, node_script: Path, browser_script: Path, tmp_path: Path
) -> None:
    ca = CA(tmp_path)
    served = ca.server()
    tls = (f"--tls-cert-file={served.cert_file}", f"--tls-key-file={served.key_file}")
    with wheel_hub(venv, tmp_path, *tls, ca=ca) as hub:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.pem)
        with grpc.secure_channel(hub.target, credentials) as channel:
            services = check_health_and_reflection(channel)
            check_fix_text(channel, hub.token("alice"))
        with grpc.insecure_channel(hub.target) as plain, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=3)
        check_buf_curl(f"https://{hub.target}", "--cacert", str(ca.cert_file))
        check_go(go_binary, hub, "-ca-file", str(ca.cert_file))
        # Node trusts the throwaway CA the way an operator would add a private CA to node.
        check_node(
            node_script, hub, services, f"https://{hub.target}", {"NODE_EXTRA_CA_CERTS": str(ca.cert_file)}
        )
        page = run("curl", "-sf", "--cacert", ca.cert_file, f"https://127.0.0.1:{hub.http_port}/")
        assert "<html" in page.lower()
        refused = subprocess.run(
            ["curl", "-sf", f"https://127.0.0.1:{hub.http_port}/"], capture_output=True, timeout=30
        )
        assert refused.returncode != 0  # the system CAs do not vouch for the hub
        browser_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "REALTIME_HTTP_URL": f"https://127.0.0.1:{hub.http_port}",
            "REALTIME_SPKI": spki_sha256(served.cert),
        }
        out = run("node", "--test", "--test-reporter=spec", browser_script, env=browser_env)
        assert "fail 0" in out and "pass 2" in out, out
