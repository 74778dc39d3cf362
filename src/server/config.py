"""One settings object, from flags and REALTIME_* environment variables.

Every setting has a flag and an environment variable (`--grpc-listen` <->
`REALTIME_GRPC_LISTEN`); a flag beats the environment, which beats the default.
`realtime-server --help` lists them all.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from realtime.common.tokens import DEV_SECRET_NAME, default_dev_dir

from .broker.factory import ENGINES_HELP, broker_spec_error

MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    grpc_listen: str = "127.0.0.1:50051"
    http_listen: str = "127.0.0.1:8080"
    broker: str = "sqlite"
    document_store: str = "broker"
    jwt_secret_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    require_auth_config: bool = False
    # Per-user ($XDG_STATE_HOME/realtime or ~/.local/state/realtime): the CLI finds the dev secret
    # from any folder (realtime.common.tokens, shared with the client).
    dev_dir: Path = field(default_factory=default_dev_dir)
    max_message_bytes: int = MIB
    shutdown_grace: float = 30.0
    log_format: str = "text"
    log_level: str = "info"
    # Sized so one well-behaved client on one machine (a load test included) is never throttled,
    # while a runaway client still is; production deployments tighten them with the flags.
    rate_limit: float = 5000.0
    rate_burst: int = 10000
    max_streams_per_user: int = 1000
    keepalive_time: float = 30.0
    keepalive_timeout: float = 10.0
    cors_origins: tuple[str, ...] = ()
    max_health_watches_per_peer: int = 100
    max_token_lifetime: float = 24 * 3600.0
    http_idle_timeout: float = 60.0
    # grpc's own default is 120 s: a peer that connects and never finishes TLS or the HTTP/2
    # preface holds a socket that long. 20 s is ample for a slow link and leaves room for a storm
    # of TLS reconnects (about 1-2 ms of CPU each) on a busy worker.
    handshake_timeout: float = 20.0
    allowed_hosts: tuple[str, ...] = ()
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    tls_client_subjects: str = ""
    tls_reload_interval: float = 5.0
    otlp_endpoint: str = ""
    # Processes serving the same ports (SO_REUSEPORT) under a supervisor; 0 = auto (cores with
    # Redis, 1 on the embedded engines). See realtime.server.workers.
    workers: int = 1
    # Short names of the services to register (default all); the others cost no memory.
    services: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dev_secret_path(self) -> Path:
        return Path(self.dev_dir, DEV_SECRET_NAME)

    @property
    def dev_mode(self) -> bool:
        """True when the hub runs on the embedded dev secret (no key configured)."""
        return self.jwt_secret_file is None and self.jwt_public_key_file is None

    def replace(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _listen(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text


def _workers(text: str) -> int:
    if text.strip().lower() == "auto":
        return 0
    return _positive_int(text)


def _user_path(text: str) -> Path:
    return Path(text).expanduser()


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


@dataclass(frozen=True)
class _Option:
    name: str
    help: str
    parse: Callable[[str], Any] = str


OPTIONS: Sequence[_Option] = (
    _Option("grpc_listen", "address of the gRPC port", _listen),
    _Option("http_listen", "address of the HTTP port (/metrics, browser gateway)", _listen),
    _Option("broker", ENGINES_HELP),
    _Option(
        "document_store",
        "where collaboration documents and their history are kept: 'broker' (the broker's store) "
        "or postgresql://USER@HOST:PORT/DB",
    ),
    _Option("jwt_secret_file", "file holding the HS256 secret that signs tokens", Path),
    _Option("jwt_public_key_file", "PEM file holding the RS256 public key that verifies tokens", Path),
    _Option("jwt_audience", "required 'aud' claim; unset accepts any audience"),
    _Option("jwt_issuer", "required 'iss' claim; unset accepts any issuer"),
    _Option(
        "require_auth_config",
        "refuse to start without --jwt-secret-file or --jwt-public-key-file (no dev secret)",
        _bool,
    ),
    _Option(
        "dev_dir",
        "where the dev default keeps its files (dev-jwt-secret, hub.db); the CLI looks there too "
        "(default $XDG_STATE_HOME/realtime or ~/.local/state/realtime)",
        _user_path,
    ),
    _Option("max_message_bytes", "largest message accepted or sent, in bytes", _positive_int),
    _Option("shutdown_grace", "seconds open streams get to finish after SIGTERM", float),
    _Option("log_format", "log format: text or json"),
    _Option("log_level", "log level: debug, info, warning, error"),
    _Option("rate_limit", "calls per second one user may start (token bucket); 0 disables", float),
    _Option("rate_burst", "burst size of the per-user token bucket", _positive_int),
    _Option("max_streams_per_user", "streams one user may have open at once; 0 disables", int),
    _Option("keepalive_time", "seconds between keepalive pings on an idle connection", float),
    _Option("keepalive_timeout", "seconds to wait for a keepalive ack before dropping the peer", float),
    _Option("cors_origins", "comma-separated origins the browser gateway accepts besides its own", _origins),
    _Option(
        "max_health_watches_per_peer",
        "health Watch streams one peer address may hold open (they need no token); 0 disables",
        int,
    ),
    _Option(
        "max_token_lifetime",
        "seconds a token may live (exp - iat, and exp - now): longer ones are refused; 0 disables",
        float,
    ),
    _Option(
        "handshake_timeout",
        "seconds the gRPC port gives a new connection to finish TLS and the HTTP/2 preface",
        _positive_float,
    ),
    _Option(
        "http_idle_timeout",
        "seconds the HTTP port keeps a connection that sends no request (before the first and "
        "between requests) before closing it; a WebSocket gets at most this (and 10 s) for its header block",
        float,
    ),
    _Option(
        "allowed_hosts",
        "comma-separated host names the HTTP port answers besides its listen address and loopback "
        "names (DNS-rebinding guard on the Host header); '*' accepts any",
        _origins,
    ),
    _Option(
        "tls_cert_file",
        "PEM certificate chain: both ports speak TLS (reloaded on SIGHUP or change)",
        _user_path,
    ),
    _Option("tls_key_file", "PEM private key of --tls-cert-file", _user_path),
    _Option(
        "tls_client_ca_file",
        "PEM CA bundle: both ports then require a client certificate it signed (mutual TLS)",
        _user_path,
    ),
    _Option(
        "tls_client_subjects",
        "comma-separated SUBJECT=USER[:ROLE+ROLE]: a client certificate whose CN or SAN is SUBJECT "
        "acts as USER when the call carries no bearer token (needs --tls-client-ca-file)",
    ),
    _Option(
        "tls_reload_interval",
        "seconds between checks of the TLS files for changes (SIGHUP reloads at once); 0 disables",
        float,
    ),
    _Option(
        "otlp_endpoint",
        "OTLP/gRPC collector (http://HOST:4317) that receives OpenTelemetry spans; unset: no spans",
    ),
    _Option(
        "workers",
        "processes serving the same gRPC and HTTP ports under one supervisor; 'auto' = one per core "
        "with a redis:// broker (the embedded engines are one process: 1 only)",
        _workers,
    ),
    _Option(
        "services",
        "comma-separated services to register (diagnostics, notifications, gateway, conversation, "
        "text, uploads, analysis, collaboration); empty = all",
        _origins,
    ),
)


def env_name(option: str) -> str:
    return "REALTIME_" + option.upper()


def build_parser(prog: str = "realtime-server") -> argparse.ArgumentParser:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The realtime gRPC hub. Each option can also be set with the environment variable shown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for opt in OPTIONS:
        default = getattr(defaults, opt.name)
        if isinstance(default, tuple):
            default = ",".join(default)
        parser.add_argument(
            "--" + opt.name.replace("_", "-"),
            dest=opt.name,
            type=opt.parse,
            default=None,
            metavar=opt.name.split("_")[-1].upper(),
            help=f"{opt.help} [env {env_name(opt.name)}; default {default}]",
        )
    parser.set_defaults(**{o.name: None for o in OPTIONS})
    parser.formatter_class = argparse.HelpFormatter
    return parser


def load_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags, then REALTIME_* variables, then defaults."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        value = getattr(args, opt.name)
        if value is None and env_name(opt.name) in environ:
            raw = environ[env_name(opt.name)]
            try:
                value = opt.parse(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                parser.error(f"{env_name(opt.name)}={raw!r}: {exc}")
        if value is not None:
            values[opt.name] = value
    settings = Settings(**values)
    if settings.log_format not in ("text", "json"):
        parser.error("--log-format must be text or json")
    if settings.jwt_secret_file and settings.jwt_public_key_file:
        parser.error("give --jwt-secret-file or --jwt-public-key-file, not both")
    if settings.require_auth_config and settings.dev_mode:
        parser.error("--require-auth-config: set --jwt-secret-file or --jwt-public-key-file")
    broker_error = broker_spec_error(settings.broker, settings.dev_dir)
    if broker_error is not None:
        parser.error(broker_error)
    if not (
        settings.document_store == "broker"
        or settings.document_store.startswith(("postgresql://", "postgres://"))
    ):
        parser.error("--document-store must be 'broker' or a postgresql:// URL")
    shared = settings.broker.startswith(("redis://", "rediss://"))
    if settings.workers == 0:
        settings = settings.replace(workers=(os.cpu_count() or 1) if shared else 1)
    if settings.workers > 1 and not shared:
        parser.error(
            f"--workers {settings.workers} needs a shared broker (--broker redis://...): the "
            f"'{settings.broker}' engine keeps state in one process; use --workers 1"
        )
    _check_tls(parser, settings)
    return settings


def _check_tls(parser: argparse.ArgumentParser, settings: Settings) -> None:
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        parser.error("give --tls-cert-file and --tls-key-file together")
    if settings.tls_client_ca_file is not None and settings.tls_cert_file is None:
        parser.error("--tls-client-ca-file needs --tls-cert-file and --tls-key-file")
    if settings.tls_client_subjects and settings.tls_client_ca_file is None:
        parser.error("--tls-client-subjects needs --tls-client-ca-file (mutual TLS)")
    if settings.tls_client_subjects:
        from .platform.tls import SubjectMap

        try:
            SubjectMap.parse(settings.tls_client_subjects)
        except ValueError as exc:
            parser.error(f"--tls-client-subjects: {exc}")
