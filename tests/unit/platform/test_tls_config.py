"""TLS settings: flags and REALTIME_* variables, and the combinations refused at parse time."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.server.config import load_settings
from realtime.server.platform.tls import PeerCertificate, SubjectMap


def test_tls_settings_from_flags_and_environment() -> None:
    s = load_settings([], environ={})
    assert (s.tls_cert_file, s.tls_key_file, s.tls_client_ca_file, s.otlp_endpoint) == (None, None, None, "")
    env = {
        "REALTIME_TLS_CERT_FILE": "/etc/hub/tls.crt",
        "REALTIME_TLS_KEY_FILE": "/etc/hub/tls.key",
        "REALTIME_TLS_CLIENT_CA_FILE": "/etc/hub/clients.pem",
        "REALTIME_TLS_CLIENT_SUBJECTS": "a.internal=svc-a:admin",
        "REALTIME_OTLP_ENDPOINT": "http://127.0.0.1:4317",
    }
    s = load_settings(["--tls-reload-interval", "0"], environ=env)
    assert s.tls_cert_file == Path("/etc/hub/tls.crt")
    assert s.tls_client_ca_file == Path("/etc/hub/clients.pem")
    assert (s.tls_reload_interval, s.otlp_endpoint) == (0.0, "http://127.0.0.1:4317")


@pytest.mark.parametrize(
    "argv",
    [
        ["--tls-cert-file", "c.pem"],  # no key
        ["--tls-key-file", "k.pem"],  # no certificate
        ["--tls-client-ca-file", "ca.pem"],  # mutual TLS without a server certificate
        ["--tls-cert-file", "c", "--tls-key-file", "k", "--tls-client-subjects", "a=b"],  # no client CA
        [
            "--tls-cert-file",
            "c",
            "--tls-key-file",
            "k",
            "--tls-client-ca-file",
            "ca",
            "--tls-client-subjects",
            "*=root:admin",
        ],
        [
            "--tls-cert-file",
            "c",
            "--tls-key-file",
            "k",
            "--tls-client-ca-file",
            "ca",
            "--tls-client-subjects",
            "nouser",
        ],
        [
            "--tls-cert-file",
            "c",
            "--tls-key-file",
            "k",
            "--tls-client-ca-file",
            "ca",
            "--tls-client-subjects",
            "a=",
        ],
    ],
)
def test_tls_settings_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        load_settings(argv, environ={})


def test_subject_map_matches_cn_or_san_exactly() -> None:
    entries = SubjectMap.parse(" billing.internal = svc-billing : admin + ops , reports=svc-reports,")
    subjects = SubjectMap(entries)
    found = subjects.principal_for(PeerCertificate(("cn-other", "billing.internal"), 1234.0))
    assert found is not None
    assert (found.subject, found.roles, found.expires_at, found.issuer) == (
        "svc-billing",
        frozenset({"admin", "ops"}),
        1234.0,
        "mtls",
    )
    reports = subjects.principal_for(PeerCertificate(("reports",), 1.0))
    assert reports is not None and reports.roles == frozenset()
    assert subjects.principal_for(PeerCertificate(("billing.internal.evil",), 1.0)) is None
    assert subjects.principal_for(PeerCertificate(("BILLING.INTERNAL",), 1.0)) is None
    assert subjects.principal_for(PeerCertificate((), 1.0)) is None
