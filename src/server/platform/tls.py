"""TLS on both ports, with certificates reloaded in place (SIGHUP or a changed file).

One `TlsFiles` object owns the PEM files of a hub and hands out:

- gRPC server credentials (`grpc.dynamic_ssl_server_credentials`): grpc asks our fetcher at
  every new handshake; it answers None ("keep what you have") until a reload staged a new
  configuration, which it hands over once. Open connections keep the session they negotiated,
  so streams are never dropped by a reload.
- one `ssl.SSLContext` for the HTTP port; a reload calls `load_cert_chain` on that same context,
  so the next handshake uses the new pair and open connections are untouched.

A reload reads and checks the new files first (the key must match the certificate); a broken
pair is logged and the hub keeps serving the previous one.

With a client CA (`--tls-client-ca-file`) both ports require a client certificate signed by it
(mutual TLS). Who the certificate names is read by `peer_subjects` (CN and subject alternative
names from grpc's auth context); `SubjectMap` turns an allowed subject into a user for callers
that send no bearer token (see auth.py and the README's TLS section).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from .auth import Principal

log = logging.getLogger("realtime.tls")


class TlsConfigError(ValueError):
    """The TLS files cannot be used (the message names the file and the reason)."""


@dataclass(frozen=True)
class _Pair:
    cert: bytes
    key: bytes
    client_ca: bytes | None
    digest: str


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"{what} {path} is not PEM (no '-----BEGIN' line)")
    return data


class TlsFiles:
    """The hub's certificate, key and optional client CA, reloadable at run time."""

    def __init__(self, cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self._stamped = self._stamp()  # before reading: a change after this is seen by `watch`
        self._pair = self._load()
        self._staged: grpc.ServerCertificateConfiguration | None = None
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.set_alpn_protocols(["http/1.1"])
        self._load_into(self.ssl_context, self._pair)
        if self._pair.client_ca is not None:
            self.ssl_context.verify_mode = ssl.CERT_REQUIRED
            self.ssl_context.load_verify_locations(cadata=self._pair.client_ca.decode("ascii", "replace"))
        self.reloads = 0
        # Called after each reload that took effect (tests wait on it instead of polling).
        self.listeners: list[Callable[[], None]] = []

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    def _load(self) -> _Pair:
        cert = _read(self.cert_file, "--tls-cert-file")
        key = _read(self.key_file, "--tls-key-file")
        ca = _read(self.client_ca_file, "--tls-client-ca-file") if self.client_ca_file else None
        pair = _Pair(cert, key, ca, hashlib.sha256(cert + b"\0" + key + b"\0" + (ca or b"")).hexdigest())
        # Check the pair before anyone uses it: a key that does not match is refused here,
        # not at the first handshake.
        self._load_into(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), pair)
        return pair

    def _load_into(self, context: ssl.SSLContext, pair: _Pair) -> None:
        # ssl wants files; a private temporary directory keeps the key readable by us only.
        with tempfile.TemporaryDirectory(prefix="realtime-tls-") as tmp:
            cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert_path.write_bytes(pair.cert)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pair.key)
            try:
                context.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise TlsConfigError(
                    f"--tls-cert-file {self.cert_file} and --tls-key-file {self.key_file} do not "
                    f"form a usable pair: {exc.reason or exc}"
                ) from exc
        if pair.client_ca is not None:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(
                    cadata=pair.client_ca.decode("ascii", "replace")
                )
            except ssl.SSLError as exc:
                raise TlsConfigError(
                    f"--tls-client-ca-file {self.client_ca_file} holds no usable certificate: "
                    f"{exc.reason or exc}"
                ) from exc

    def _grpc_config(self, pair: _Pair) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(pair.key, pair.cert)], pair.client_ca)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._grpc_config(self._pair),
            self._fetch,
            require_client_authentication=self.mutual,
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by grpc (its own thread) at each new handshake: hand over a staged reload once."""
        staged, self._staged = self._staged, None
        return staged

    def reload(self) -> bool:
        """Read the files again; True when they changed and now serve new handshakes.

        A pair that does not load is logged and ignored (the hub keeps the previous one)."""
        try:
            pair = self._load()
        except TlsConfigError as exc:
            log.error("TLS reload refused, still serving the previous certificate: %s", exc)
            return False
        if pair.digest == self._pair.digest:
            return False
        self._load_into(self.ssl_context, pair)
        if pair.client_ca is not None and pair.client_ca != self._pair.client_ca:
            self.ssl_context.load_verify_locations(cadata=pair.client_ca.decode("ascii", "replace"))
        self._staged = self._grpc_config(pair)
        self._pair = pair
        self.reloads += 1
        for listener in self.listeners:
            listener()
        log.info("TLS certificate reloaded", extra={"cert": str(self.cert_file), "sha256": pair.digest[:16]})
        return True

    def _stamp(self) -> tuple[tuple[int, int, int], ...]:
        out = []
        for path in (self.cert_file, self.key_file, self.client_ca_file):
            if path is None:
                continue
            try:
                st = path.stat()
            except OSError:
                out.append((-1, -1, -1))
                continue
            # The inode too: a file renamed into place may carry the same mtime and size.
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(out)

    async def watch(self, interval: float) -> None:
        """Reload when a file's inode, mtime or size changes (checked every `interval` seconds)."""
        while True:
            await asyncio.sleep(interval)
            now = self._stamp()
            if now != self._stamped:
                self._stamped = now
                self.reload()


@dataclass(frozen=True)
class PeerCertificate:
    """The verified client certificate of a call: who it names and until when it is valid."""

    names: tuple[str, ...]
    not_after: float


# Parsed certificates by PEM: one parse per client certificate, not per call.
_parsed: dict[bytes, float] = {}


def _not_after(pem: bytes) -> float:
    found = _parsed.get(pem)
    if found is None:
        from cryptography import x509  # pyjwt[crypto] brings it; only mutual TLS needs it

        found = x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()
        if len(_parsed) >= 1024:
            _parsed.clear()
        _parsed[pem] = found
    return found


def peer_certificate(context: Any) -> PeerCertificate | None:
    """The client certificate's common name and subject alternative names, and its expiry; None
    without mutual TLS. grpc fills the auth context only after it verified the chain."""
    try:
        auth = context.auth_context()
    except Exception:  # a context without one
        return None
    pems = auth.get("x509_pem_cert") if auth else None
    if not pems:
        return None
    names: list[str] = []
    for key in ("x509_common_name", "x509_subject_alternative_name"):
        for raw in auth.get(key, ()):
            name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            if name and name not in names:
                names.append(name)
    pem = pems[0] if isinstance(pems[0], bytes) else str(pems[0]).encode()
    return PeerCertificate(tuple(names), _not_after(pem))


class SubjectMap:
    """Which client-certificate subjects act as which user when no bearer token is sent.

    Parsed from `--tls-client-subjects`: comma-separated `SUBJECT=USER` entries, roles after a
    colon joined by `+` (`billing.internal=svc-billing:admin+ops`). SUBJECT is matched exactly
    against the certificate's CN and each subject alternative name. Every entry is explicit (no
    wildcard), so a certificate the CA signed for one purpose cannot name itself admin. The
    principal expires with the certificate, so a stream ends when the certificate does.
    """

    def __init__(self, entries: Iterable[tuple[str, str, frozenset[str]]] = ()) -> None:
        self._by_subject: dict[str, tuple[str, frozenset[str]]] = {}
        for subject, user, roles in entries:
            self._by_subject[subject] = (user, roles)

    def __bool__(self) -> bool:
        return bool(self._by_subject)

    @staticmethod
    def parse(text: str) -> tuple[tuple[str, str, frozenset[str]], ...]:
        out = []
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            subject, sep, rest = entry.partition("=")
            user, _, roles = rest.partition(":")
            if not sep or not subject.strip() or not user.strip():
                raise ValueError(f"expected SUBJECT=USER[:ROLE+ROLE], got {entry!r}")
            if "*" in subject:
                raise ValueError(
                    f"{subject.strip()!r}: list each certificate subject explicitly (no wildcards)"
                )
            role_set = frozenset(r.strip() for r in roles.split("+") if r.strip())
            out.append((subject.strip(), user.strip(), role_set))
        return tuple(out)

    def principal_for(self, cert: PeerCertificate) -> Principal | None:
        for name in cert.names:
            found = self._by_subject.get(name)
            if found is not None:
                return Principal(found[0], found[1], cert.not_after, issuer="mtls")
        return None
