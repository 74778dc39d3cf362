"""CORS decisions, header-to-metadata rules, query-token lifetime, SSE event format."""

from __future__ import annotations

import base64
import json

import pytest

from realtime.server.gateway.cors import EXPOSED, CorsPolicy
from realtime.server.gateway.metadata import Outcome, to_grpc_metadata, to_http_headers
from realtime.server.gateway.sse import QUERY_TOKEN_MAX_TTL, check_query_token, format_event
from realtime.server.platform.auth import mint_token
from realtime.server.platform.errors import Code, HubError

OWN = "http://127.0.0.1:8080"


def test_cors_default_is_own_origin_only() -> None:
    policy = CorsPolicy(())
    assert policy.allows(None, OWN)
    assert policy.allows(OWN, OWN)
    assert not policy.allows("http://evil.example", OWN)


def test_cors_configured_origins_and_headers() -> None:
    policy = CorsPolicy(("https://app.example/",))
    assert policy.allows("https://app.example", OWN)
    assert not policy.allows("https://other.example", OWN)
    headers = policy.preflight_headers("https://app.example", "authorization, x-grpc-web, x-custom")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Headers"] == "authorization, x-grpc-web, x-custom"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Expose-Headers"] == EXPOSED
    assert CorsPolicy(("*",)).allows("https://any.example", OWN)


def test_metadata_keeps_call_headers_only() -> None:
    md = to_grpc_metadata(
        [
            ("Authorization", "Bearer t"),
            ("Content-Type", "application/grpc-web"),
            ("X-Grpc-Web", "1"),
            ("grpc-timeout", "1S"),
            ("Sec-Fetch-Mode", "cors"),
            ("X-Request-Id", "r1"),
            ("X-Trace-Bin", base64.b64encode(b"\x00\x01").decode().rstrip("=")),
            ("Bad Key", "x"),
        ],
        peer="127.0.0.1",
    )
    assert md == (
        ("authorization", "Bearer t"),
        ("x-request-id", "r1"),
        ("x-trace-bin", b"\x00\x01"),
        ("x-forwarded-for", "127.0.0.1"),
    )
    assert to_http_headers([("x-a", "1"), ("x-b-bin", b"\xff"), ("content-type", "x")]) == [
        ("x-a", "1"),
        ("x-b-bin", "/w"),
    ]


def test_outcome_headers() -> None:
    out = Outcome(3, "bad: 100%\nnext", (("grpc-status-details-bin", b"\x08\x03"), ("x-a", "1")))
    assert out.status_headers() == [
        ("grpc-status", "3"),
        ("grpc-message", "bad: 100%25%0Anext"),
        ("grpc-status-details-bin", "CAM"),
        ("x-a", "1"),
    ]
    assert out.details_bin() == b"\x08\x03"


def test_query_tokens_must_be_short_lived() -> None:
    now = 1_000_000.0
    check_query_token(mint_token(b"k" * 32, "alice", ttl=60, now=now), now=now)
    with pytest.raises(HubError) as caught:
        check_query_token(mint_token(b"k" * 32, "alice", ttl=QUERY_TOKEN_MAX_TTL + 60, now=now), now=now)
    assert caught.value.code is Code.UNAUTHENTICATED
    with pytest.raises(HubError):
        check_query_token("not-a-jwt", now=now)


def test_sse_event_format() -> None:
    expected = b'event: message\nid: e:3\ndata: {"a": 1}\n\n'
    assert format_event(json.dumps({"a": 1}), "message", "e:3") == expected
    assert format_event("x\ny", "status") == b"event: status\ndata: x\ndata: y\n\n"
