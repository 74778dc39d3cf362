"""The built wheel, installed in a clean virtualenv, is a working hub.

The editable install (`make setup`) sees every folder of the source tree, so a package that
`find_packages` skips (a folder without `__init__.py`) or a data file missing from
`package_data` only shows up once the hub runs from a real wheel. `make check-wheel` (CI) runs this.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from .servers import free_port, wait_serving

ROOT = Path(__file__).resolve().parents[2]
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


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=800, cwd=cwd)
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


def test_wheel_installs_in_a_clean_venv_and_serves_every_service(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
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

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    # Dependencies come from pip's configuration (index, --find-links, cache): offline when the
    # cache or a local wheel directory has them.
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--prefer-binary", wheel)
    where = run(venv / "bin" / "python", "-c", "import realtime.server as s; print(s.__file__)", cwd=tmp_path)
    assert where.strip().startswith(str(venv)), where

    grpc_port, http_port = free_port(), free_port()
    log = tmp_path / "hub.log"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALTIME_")}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), PYTHONPATH="")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(venv / "bin" / "realtime-server"),
                f"--grpc-listen=127.0.0.1:{grpc_port}",
                f"--http-listen=127.0.0.1:{http_port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
        )
    target = f"127.0.0.1:{grpc_port}"
    try:
        wait_serving(target, timeout=60)
        with grpc.insecure_channel(target) as channel:
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
        dashboard = run("curl", "-sf", f"http://127.0.0.1:{http_port}/")
        assert "<html" in dashboard.lower()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text(errors="replace")[-4000:]
    assert "Traceback" not in log.read_text(errors="replace")
