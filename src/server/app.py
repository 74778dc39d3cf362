"""Composition root: settings -> auth -> services -> interceptor -> gRPC server + HTTP port."""

from __future__ import annotations

import asyncio
import importlib
import logging
import shutil
import signal
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from aiohttp import web

from .broker.base import Broker
from .broker.factory import create_broker
from .broker.model import BrokerUnavailable
from .config import Settings
from .context import HubContext
from .platform.auth import TokenVerifier, load_or_create_dev_secret, read_secret_file
from .platform.health import Health
from .platform.hosts import HostPolicy, host_guard
from .platform.hub_server import HubServer
from .platform.interceptor import HubInterceptor
from .platform.limits import RateLimiter, StreamLimiter
from .platform.logs import call_log
from .platform.metrics import Metrics
from .platform.reflection import enable_reflection
from .platform.shared_limits import SharedLimits
from .platform.shutdown import Shutdown
from .platform.storm import storm_options
from .platform.tls import SubjectMap, TlsConfigError, TlsFiles

log = logging.getLogger("realtime.hub")

# Every service package exposes `service.register(hub) -> list[str]`. A service
# that is not finished is not listed here.
SERVICE_MODULES: tuple[str, ...] = (
    "realtime.server.diagnostics.service",
    "realtime.server.notifications.service",
    "realtime.server.gateway.service",
    "realtime.server.conversation.service",
    "realtime.server.text.service",
    "realtime.server.uploads.service",
    "realtime.server.analysis.service",
    "realtime.server.collaboration.service",
)


class StartupError(RuntimeError):
    """The hub cannot start with these settings (the message says why)."""


def build_verifier(settings: Settings) -> TokenVerifier:
    common = {
        "audience": settings.jwt_audience,
        "issuer": settings.jwt_issuer,
        "leeway": 5.0,
        "max_lifetime": settings.max_token_lifetime or None,
    }
    if settings.jwt_public_key_file is not None:
        try:
            key = settings.jwt_public_key_file.read_bytes()
        except OSError as exc:
            raise StartupError(f"cannot read --jwt-public-key-file: {exc}") from exc
        return TokenVerifier(key, "RS256", **common)  # type: ignore[arg-type]
    if settings.jwt_secret_file is not None:
        try:
            secret = read_secret_file(settings.jwt_secret_file)
        except (OSError, ValueError) as exc:
            raise StartupError(f"cannot read --jwt-secret-file: {exc}") from exc
        return TokenVerifier(secret, "HS256", **common)  # type: ignore[arg-type]
    if settings.require_auth_config:
        raise StartupError("--require-auth-config is set but no JWT key is configured")
    secret, created = load_or_create_dev_secret(settings.dev_secret_path)
    log.warning(
        "dev default: %s the HS256 secret %s; mint a token with `realtime token --sub alice`",
        "created" if created else "using",
        Path(settings.dev_secret_path).resolve(),
    )
    return TokenVerifier(secret, "HS256", **common)  # type: ignore[arg-type]


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # Keep idle streams alive through proxies and notice dead peers.
        ("grpc.keepalive_time_ms", int(settings.keepalive_time * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Clients may ping as often as every 10 s without being sent GOAWAY.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.min_time_between_pings_ms", 10_000),
        # A connection that never finishes TLS or the HTTP/2 preface holds a socket until then.
        ("grpc.server_handshake_timeout_ms", int(settings.handshake_timeout * 1000)),
        # Workers share the ports (SO_REUSEPORT, the kernel spreads connections); one process
        # keeps the port exclusive so a second hub on the same port fails loudly.
        ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
        *storm_options(),
    ]


def selected_services(settings: Settings, modules: tuple[str, ...]) -> tuple[str, ...]:
    """The modules of the services `--services` names (all when empty); unknown names refuse to start."""
    if not settings.services:
        return modules
    by_name = {m.rsplit(".", 2)[-2]: m for m in modules}
    unknown = sorted(set(settings.services) - set(by_name))
    if unknown:
        raise StartupError(f"--services: unknown {', '.join(unknown)}; known: {', '.join(by_name)}")
    return tuple(m for name, m in by_name.items() if name in settings.services)


class Hub:
    """One hub process: `await start()`, then `await wait_stopped()` or `await stop()`."""

    def __init__(self, settings: Settings, services: tuple[str, ...] = SERVICE_MODULES) -> None:
        self.settings = settings
        self._service_modules = services
        self.metrics = Metrics()
        self.shutdown = Shutdown(settings.shutdown_grace)
        self.health = Health(self.shutdown, settings.max_health_watches_per_peer)
        self.verifier: TokenVerifier | None = None
        self.ctx: HubContext | None = None
        self.grpc_port = 0
        self.http_port = 0
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()
        self._stopping: asyncio.Task[None] | None = None
        self.tls: TlsFiles | None = None
        self._gateway_dir: str | None = None
        self._tracing = False

    def _load_tls(self) -> None:
        s = self.settings
        if s.tls_cert_file is None or s.tls_key_file is None:
            return
        try:
            self.tls = TlsFiles(s.tls_cert_file, s.tls_key_file, s.tls_client_ca_file)
        except TlsConfigError as exc:
            raise StartupError(str(exc)) from exc

    def _add_ports(self, server: grpc.aio.Server, ctx: HubContext) -> None:
        """The gRPC port (TLS when configured) and, under TLS, the gateway's private link: a unix
        socket in a directory only this user can enter, so the in-process gateway needs neither a
        client certificate nor a name the server certificate covers."""
        s = self.settings
        try:
            if self.tls is None:
                self.grpc_port = server.add_insecure_port(s.grpc_listen)
            else:
                self.grpc_port = server.add_secure_port(s.grpc_listen, self.tls.grpc_credentials())
                self._gateway_dir = tempfile.mkdtemp(prefix="realtime-gw-")
                ctx.gateway_target = f"unix:{self._gateway_dir}/grpc.sock"
                server.add_insecure_port(ctx.gateway_target)
            ctx.grpc_port = self.grpc_port
        except RuntimeError as exc:
            raise StartupError(f"cannot listen on --grpc-listen {s.grpc_listen}: {exc}") from exc

    async def start(self) -> None:
        s = self.settings
        self.verifier = build_verifier(s)
        self._load_tls()
        if s.otlp_endpoint:
            from .platform import tracing  # opentelemetry is imported only here

            tracing.enable(s.otlp_endpoint)
            self._tracing = True
        subjects = SubjectMap(SubjectMap.parse(s.tls_client_subjects)) if s.tls_client_subjects else None
        modules = selected_services(s, self._service_modules)
        broker = await self._start_broker()
        shared = SharedLimits.for_broker(broker, s)
        interceptor = HubInterceptor(
            self.verifier,
            RateLimiter(s.rate_limit, s.rate_burst),
            StreamLimiter(s.max_streams_per_user),
            self.metrics,
            subjects,
            shared,
        )
        server = HubServer(interceptor, server_options(s))  # handlers wrapped as they register
        http = web.Application(
            client_max_size=s.max_message_bytes + 64 * 1024,
            middlewares=[host_guard(HostPolicy(s.http_listen, s.allowed_hosts))],
        )
        http.router.add_get("/metrics", self._metrics_handler)
        self.ctx = ctx = HubContext(
            settings=s,
            server=server,
            http=http,
            metrics=self.metrics,
            health=self.health,
            shutdown=self.shutdown,
            instance_id=uuid.uuid4().hex[:12],
            started_at=time.time(),
        )
        ctx.broker = broker
        if shared is not None:
            ctx.spawn(shared.run(), name="shared-limits")
            ctx.on_stop.append(shared.settle)  # hooks run in reverse: this one last, before the broker closes
        for module_name in modules:
            module = importlib.import_module(module_name)
            try:
                names = await module.register(ctx)
            except ValueError as exc:  # a service setting (REALTIME_<SERVICE>_*) that does not parse
                raise StartupError(f"{module_name.rsplit('.', 2)[-2]} service: {exc}") from exc
            ctx.services.extend(names)
        for name in ctx.services:
            await self.health.register(name)
        from grpc_health.v1 import health_pb2_grpc

        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, server)
        enable_reflection([*ctx.services, "grpc.health.v1.Health"], server)
        self._add_ports(server, ctx)
        await server.start()
        # keepalive_timeout also closes a connection that never sends a request (aiohttp arms it
        # at connect): idle sockets on the HTTP port are bounded in time.
        self._runner = web.AppRunner(
            http, access_log=None, handle_signals=False, keepalive_timeout=s.http_idle_timeout
        )
        await self._runner.setup()
        host, _, port = s.http_listen.rpartition(":")
        tls_context = self.tls.ssl_context if self.tls is not None else None
        site = web.TCPSite(
            self._runner,
            host.strip("[]"),
            int(port),
            ssl_context=tls_context,
            reuse_port=s.workers > 1 or None,
        )
        try:
            await site.start()
        except OSError as exc:
            await server.stop(0)
            raise StartupError(f"cannot listen on --http-listen {s.http_listen}: {exc}") from exc
        self.http_port = self._runner.addresses[0][1]
        log.info(
            "hub listening",
            extra={
                "grpc": f"{s.grpc_listen.rpartition(':')[0]}:{self.grpc_port}",
                "http": f"{host}:{self.http_port}",
                "services": ",".join(ctx.services),
                "instance": ctx.instance_id,
                "tls": "off" if self.tls is None else ("mutual" if self.tls.mutual else "on"),
            },
        )
        if self.tls is not None and s.tls_reload_interval > 0:
            ctx.spawn(self.tls.watch(s.tls_reload_interval), "tls-watch")

    async def _start_broker(self) -> Broker:
        """The shared-state engine from --broker; its health drives the hub's health."""
        broker = create_broker(self.settings.broker, dev_dir=self.settings.dev_dir)
        try:
            await broker.start()
        except BrokerUnavailable as exc:
            raise StartupError(f"cannot use --broker {self.settings.broker}: {exc}") from exc
        pending: set[asyncio.Task[None]] = set()

        def on_health(healthy: bool) -> None:
            if self.shutdown.started:
                return
            log.warning("broker %s", "is back" if healthy else "is unavailable: health NOT_SERVING")
            task = asyncio.get_running_loop().create_task(self.health.mark_problem("broker", not healthy))
            pending.add(task)
            task.add_done_callback(pending.discard)

        broker.on_health_change(on_health)
        return broker

    async def _metrics_handler(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        # SIGHUP reloads the TLS files; without TLS it is logged, never the default (exit).
        loop.add_signal_handler(signal.SIGHUP, self._reload)

    def _reload(self) -> None:
        if self.tls is None:
            log.info("SIGHUP: nothing to reload (no --tls-cert-file)")
            return
        log.info("SIGHUP: reloading the TLS files")
        self.tls.reload()

    def request_stop(self) -> None:
        self._begin_stop(None)

    def _begin_stop(self, grace: float | None) -> asyncio.Task[None]:
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop(grace))
        return self._stopping

    async def stop(self, grace: float | None = None) -> None:
        """Health NOT_SERVING, refuse new calls, let streams say going-away and finish, then cancel.

        Safe to call more than once (a signal and a test both asking): all wait for one shutdown.
        """
        if self.ctx is None:
            return
        await asyncio.shield(self._begin_stop(grace))

    async def _stop(self, grace: float | None) -> None:
        assert self.ctx is not None
        ctx = self.ctx
        grace = self.settings.shutdown_grace if grace is None else grace
        log.info("shutting down", extra={"grace_s": grace})
        await self.health.shutdown()
        self.shutdown.start()
        await ctx.server.stop(grace)
        await ctx.cancel_tasks()
        for hook in reversed(ctx.on_stop):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        if ctx.broker is not None:
            await ctx.broker.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._gateway_dir is not None:
            shutil.rmtree(self._gateway_dir, ignore_errors=True)
        if self._tracing:
            from .platform import tracing

            await asyncio.to_thread(tracing.disable)  # flushes the last spans to the collector
        call_log.flush()  # the last call lines, before "stopped"
        self.metrics.flush()  # the last calls' figures (the shared files, with --workers)
        self._stopped.set()
        log.info("stopped")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()
