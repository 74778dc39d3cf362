"""The Server-Sent Events fallback: protobuf JSON events, status event, query tokens, errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import aiohttp

from .gateway_wire import DIAG, WAIT, WATCH, eventually, gateway_hub, metric


async def events(
    resp: aiohttp.ClientResponse, until: str = "status", limit: int = 10
) -> list[dict[str, str]]:
    """Read SSE events (comments skipped) until an event named `until` or `limit` events."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(WAIT):
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if not line:
                if current:
                    out.append(current)
                    if current.get("event") == until or len(out) >= limit:
                        return out
                current = {}
                continue
            key, _, value = line.partition(": ")
            current[key] = current[key] + "\n" + value if key in current else value
    return out


def sse_url(hub_url: str, path: str, request: dict[str, object] | None = None, **query: str) -> str:
    url = f"{hub_url}/sse{path}"
    params = {**({"request": json.dumps(request)} if request is not None else {}), **query}
    if params:
        url += "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return url


async def test_unary_method_as_sse_with_header_token(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        url = sse_url(hub.http_url, DIAG + "/Echo", {"payload": "aGk="})
        async with s.get(url, headers={"Authorization": f"Bearer {hub.token()}"}) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            got = await events(resp)
        assert got[0]["event"] == "message" and json.loads(got[0]["data"]) == {"payload": "aGk="}
        assert json.loads(got[1]["data"])["status"] == "OK"


async def test_server_stream_stays_open_and_frees_on_disconnect(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        resp = await s.get(sse_url(hub.http_url, WATCH, {"service": ""}))
        first = await events(resp, limit=1)
        assert json.loads(first[0]["data"]) == {"status": "SERVING"}
        assert await metric(s, hub, 'realtime_gateway_active_calls{protocol="sse"}') == 1
        resp.close()

        async def freed() -> bool:
            return await metric(s, hub, 'realtime_gateway_active_calls{protocol="sse"}') == 0

        await eventually(freed)


async def test_idle_stream_gets_keepalive_comments(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, keepalive_time=0.2) as (hub, s):
        async with s.get(sse_url(hub.http_url, WATCH, {"service": ""})) as resp:
            async with asyncio.timeout(WAIT):
                async for raw in resp.content:
                    if raw.startswith(b": keepalive"):
                        break


async def test_query_token_must_be_short_lived(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        short = hub.token(ttl=60)
        async with s.get(sse_url(hub.http_url, DIAG + "/GetIdentity", {}, access_token=short)) as resp:
            got = await events(resp)
        assert json.loads(got[0]["data"])["subject"] == "alice"
        long = hub.token(ttl=3600)
        async with s.get(sse_url(hub.http_url, DIAG + "/GetIdentity", {}, access_token=long)) as resp:
            status = json.loads((await events(resp))[-1]["data"])
        assert status["status"] == "UNAUTHENTICATED" and "query string" in status["message"]
        async with s.get(sse_url(hub.http_url, DIAG + "/GetIdentity", {})) as resp:
            status = json.loads((await events(resp))[-1]["data"])
        assert status["code"] == 16
        assert status["details"][0]["reason"] == "AUTHENTICATION_FAILED"


async def test_errors_as_status_events(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        auth = {"Authorization": f"Bearer {hub.token()}"}
        cases = [
            (sse_url(hub.http_url, DIAG + "/Nope", {}), "UNIMPLEMENTED"),
            (sse_url(hub.http_url, DIAG + "/EchoStream", {}), "UNIMPLEMENTED"),
            (sse_url(hub.http_url, DIAG + "/Echo", {"payload": 5}), "INVALID_ARGUMENT"),
            (sse_url(hub.http_url, DIAG + "/Echo", {"delay": "60s"}), "INVALID_ARGUMENT"),
            (sse_url(hub.http_url, WATCH, {}, last_event_id="garbage"), "INVALID_ARGUMENT"),
        ]
        for url, expected in cases:
            async with s.get(url, headers=auth) as resp:
                got = await events(resp)
            assert got[-1]["event"] == "status"
            assert json.loads(got[-1]["data"])["status"] == expected, url


async def test_foreign_origin_refused(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        async with s.get(sse_url(hub.http_url, WATCH, {}), headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403
