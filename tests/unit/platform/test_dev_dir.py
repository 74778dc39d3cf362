"""The dev secret's directory: the same per-user default for the hub and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.common.tokens import default_dev_dir, dev_dir_from_env, read_secret_file
from realtime.server.config import load_settings


def test_default_follows_xdg_state_home_then_home() -> None:
    assert default_dev_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path("/x/state/realtime")
    # A relative XDG_STATE_HOME is ignored (the spec says so: it would depend on the folder).
    assert default_dev_dir({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path("/h/.local/state/realtime")
    assert default_dev_dir({"HOME": "/h"}) == Path("/h/.local/state/realtime")


def test_realtime_dev_dir_wins_for_both_server_and_cli() -> None:
    env = {"REALTIME_DEV_DIR": "/d", "XDG_STATE_HOME": "/x", "HOME": "/h"}
    assert dev_dir_from_env(env) == Path("/d")
    assert load_settings([], environ=env).dev_dir == Path("/d")
    assert load_settings(["--dev-dir", "/flag"], environ=env).dev_dir == Path("/flag")


def test_server_default_is_the_cli_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("REALTIME_DEV_DIR", raising=False)
    settings = load_settings([], environ={})
    assert settings.dev_dir == dev_dir_from_env() == tmp_path / "realtime"
    assert settings.dev_secret_path == tmp_path / "realtime" / "dev-jwt-secret"


@pytest.mark.parametrize(
    "content",
    [b"s3cret", b"s3cret\n", b"s3cret\r\n", b"  s3cret \t\n\n"],
    ids=["bare", "lf", "crlf", "spaces"],
)
def test_secret_file_format_is_stripped_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "secret"
    path.write_bytes(content)
    assert read_secret_file(path) == b"s3cret"


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b" \n")
    with pytest.raises(ValueError, match="is empty"):
        read_secret_file(path)
