"""HS256 secrets and tokens as both the hub and the CLI read and sign them.

The dev default keeps its secret in one per-user directory, found the same way by the server and
the CLI from any working directory:

    $REALTIME_DEV_DIR, else $XDG_STATE_HOME/realtime, else ~/.local/state/realtime

Secret file format: the secret is the file's bytes with leading and trailing ASCII whitespace
(spaces, tabs, CR, LF) removed; it must not be empty. The dev default writes 64 URL-safe
characters and a newline. Sign your own HS256 tokens with the stripped bytes
(`secret = open(path, "rb").read().strip()`; in a shell `$(cat path)` strips the newline too).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import jwt

DEV_SECRET_NAME = "dev-jwt-secret"
DEV_DIR_ENV = "REALTIME_DEV_DIR"


def default_dev_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user state directory: $XDG_STATE_HOME/realtime or ~/.local/state/realtime."""
    environ = os.environ if environ is None else environ
    state = environ.get("XDG_STATE_HOME", "").strip()
    # The XDG spec ignores a relative value: it would change with the working directory.
    if state and Path(state).is_absolute():
        return Path(state) / "realtime"
    home = environ.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".local" / "state" / "realtime"


def dev_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    """$REALTIME_DEV_DIR when set, else `default_dev_dir()`."""
    environ = os.environ if environ is None else environ
    given = environ.get(DEV_DIR_ENV, "").strip()
    return Path(given).expanduser() if given else default_dev_dir(environ)


def read_secret_file(path: Path) -> bytes:
    """The secret in `path` (format in the module docstring). The hub and the CLI both use this."""
    secret = Path(path).read_bytes().strip()
    if not secret:
        raise ValueError(f"JWT secret file {path} is empty")
    return secret


def load_or_create_dev_secret(path: Path) -> tuple[bytes, bool]:
    """Read the dev HS256 secret, creating a random one (mode 0600, directory 0700) when missing.

    Returns (secret, created).
    """
    try:
        return read_secret_file(path), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return read_secret_file(path), False
    with os.fdopen(fd, "wb") as out:
        out.write(secret + b"\n")
    return secret, True


def mint_token(
    key: str | bytes,
    subject: str,
    *,
    roles: Iterable[str] = (),
    ttl: float = 3600.0,
    algorithm: str = "HS256",
    audience: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
    channels: Iterable[str] = (),
    publish_channels: Iterable[str] = (),
) -> str:
    """Sign a token the hub accepts (CLI `realtime token`, tests, the dev sign-in).

    `channels` / `publish_channels`: notification channels (exact names or `*` patterns) the token
    lets its holder read / publish beyond the built-in policy.
    """
    issued = time.time() if now is None else now
    claims: dict[str, object] = {
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    if channels:
        claims["channels"] = list(channels)
    if publish_channels:
        claims["publish_channels"] = list(publish_channels)
    return jwt.encode(claims, key, algorithm=algorithm)
