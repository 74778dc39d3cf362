"""POST /dev/token: in the dev default only, a short-lived token the hub accepts; the dashboard page."""

from __future__ import annotations

import time
from pathlib import Path

from realtime.v1 import diagnostics_pb2

from .gateway_wire import DIAG, gateway_hub, grpc_web


async def test_dev_token_signs_in(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, jwt_secret_file=None) as (hub, s):
        assert hub.hub.settings.dev_mode
        async with s.post(
            hub.http_url + "/dev/token",
            json={"sub": "erin", "roles": ["admin"]},
            headers={"Origin": hub.http_url},
        ) as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            body = await r.json()
        assert body["sub"] == "erin" and 0 < body["expires_in"] <= 900
        req = diagnostics_pb2.GetIdentityRequest().SerializeToString()
        reply = await grpc_web(s, hub.http_url + DIAG + "/GetIdentity", req, token=body["token"])
        who = diagnostics_pb2.GetIdentityResponse.FromString(reply.messages[0])
        assert who.subject == "erin" and list(who.roles) == ["admin"]
        assert 0 < who.expires_at.seconds - time.time() <= 901
        async with s.get(hub.http_url + "/") as r:
            assert 'data-dev-mode="1"' in await r.text()


async def test_dev_token_refuses_bad_input(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path, jwt_secret_file=None) as (hub, s):
        url = hub.http_url + "/dev/token"
        own = {"Origin": hub.http_url}
        async with s.post(
            url, data="sub=x", headers={**own, "Content-Type": "application/x-www-form-urlencoded"}
        ) as r:
            assert r.status == 415  # a plain HTML form from another site cannot mint tokens
        for body in ({"sub": "no spaces allowed"}, {"roles": "admin"}, {"sub": ""}, [1]):
            async with s.post(url, json=body, headers=own) as r:
                assert r.status == 400, body
        async with s.post(url, data="{", headers={**own, "Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with s.post(url, json={}, headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403
        async with s.post(url, json={}) as r:  # no Origin: not the dashboard (use `realtime token`)
            assert r.status == 403
            assert "Origin" in (await r.json())["error"]


async def test_dev_token_refuses_a_rebound_host(tmp_path: Path) -> None:
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends Host and Origin
    evil.example; they match each other but not this hub, so the request is refused."""
    async with gateway_hub(tmp_path, jwt_secret_file=None) as (hub, s):
        port = hub.hub.http_port
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}"):
            headers = {"Host": host, "Origin": f"http://{host}"}
            for _ in range(3):
                async with s.post(hub.http_url + "/dev/token", json={}, headers=headers) as r:
                    assert r.status == 421, host
                    assert "--allowed-hosts" in await r.text()
            async with s.get(hub.http_url + "/metrics", headers={"Host": host}) as r:
                assert r.status == 421
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"app.localhost:{port}"):
            headers = {"Host": host, "Origin": f"http://{host}"}
            async with s.post(hub.http_url + "/dev/token", json={}, headers=headers) as r:
                assert r.status == 200, host
    async with gateway_hub(tmp_path, jwt_secret_file=None, allowed_hosts=("hub.test",)) as (hub, s):
        host = f"hub.test:{hub.hub.http_port}"
        headers = {"Host": host, "Origin": f"http://{host}"}
        async with s.post(hub.http_url + "/dev/token", json={}, headers=headers) as r:
            assert r.status == 200


async def test_no_dev_token_with_a_configured_key(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        async with s.post(hub.http_url + "/dev/token", json={}) as r:
            assert r.status in (404, 405)


async def test_dashboard_page_is_served(tmp_path: Path) -> None:
    async with gateway_hub(tmp_path) as (hub, s):
        async with s.get(hub.http_url + "/") as r:
            assert r.status == 200 and r.content_type == "text/html"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            page = await r.text()
            assert "<html" in page.lower() and 'data-dev-mode="0"' in page
        async with s.get(hub.http_url + "/assets/app.js") as r:
            assert r.status == 200
        async with s.get(hub.http_url + "/assets/../service.py") as r:
            assert r.status in (403, 404)
