"""--workers and --services: parsing and the refusals that keep one-process engines safe."""

from __future__ import annotations

import os

import pytest

from realtime.server.app import SERVICE_MODULES, StartupError, selected_services
from realtime.server.config import load_settings


def test_workers_default_is_one_and_auto_means_cores_with_redis() -> None:
    assert load_settings([], {}).workers == 1
    assert load_settings(["--workers=auto"], {}).workers == 1  # memory engine: one process
    auto = load_settings(["--workers=auto", "--broker=redis://127.0.0.1:6379/0"], {})
    assert auto.workers == (os.cpu_count() or 1)
    env = load_settings([], {"REALTIME_WORKERS": "3", "REALTIME_BROKER": "redis://127.0.0.1:6379/0"})
    assert env.workers == 3


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_worker_counts_are_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_settings([f"--workers={value}", "--broker=redis://127.0.0.1:6379/0"], {})
    assert "--workers" in capsys.readouterr().err


def test_embedded_engine_refuses_several_workers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_settings(["--workers=2"], {})
    assert "needs a shared broker" in capsys.readouterr().err


def test_services_selects_modules_and_refuses_unknown_names() -> None:
    assert selected_services(load_settings([], {}), SERVICE_MODULES) == SERVICE_MODULES
    two = selected_services(load_settings(["--services=text,diagnostics"], {}), SERVICE_MODULES)
    assert [m.rsplit(".", 2)[-2] for m in two] == ["diagnostics", "text"]
    with pytest.raises(StartupError, match="unknown speach"):
        selected_services(load_settings(["--services=speach"], {}), SERVICE_MODULES)
