"""Listen over SSE in headless Chromium (a plain EventSource) with resume from the last event id."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from realtime.server.platform.auth import mint_token
from realtime.server.testing import running_hub

from .test_gateway_browser import prepare
from .test_gateway_node import ROOT, bundle, run

SERVICES = ("realtime.server.notifications.service", "realtime.server.gateway.service")


async def test_listen_over_sse_in_chromium(tmp_path: Path) -> None:
    prepare(tmp_path)
    outdir = ROOT / "node_modules" / ".cache" / "realtime-e2e" / f"listen-{tmp_path.name}"
    script = await bundle(
        ROOT / "tests/e2e/browser/listen_sse.test.ts", outdir, external=("playwright-core",)
    )
    extra = {"notifications": {"stats_interval": 0}}
    async with running_hub(tmp_path, services=SERVICES, extra=extra) as hub:
        assert hub.hub.ctx is not None
        broker = hub.hub.ctx.broker
        pubs = [
            (await broker.publish("topic:browser", b"", meta={"t": f"n{i}", "p": "hub"}))[0] for i in range(3)
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "REALTIME_HTTP_URL": hub.http_url,
            "REALTIME_GRPC_URL": f"http://{hub.target}",
            "REALTIME_ADMIN_TOKEN": mint_token(hub.secret, "ops", roles=["admin"], ttl=600),
            "REALTIME_USER_TOKEN": mint_token(hub.secret, "alice", ttl=240),  # query tokens: <= 300 s
            "REALTIME_EPOCH": pubs[0].epoch,
        }
        try:
            code, out = await run("node", "--test", "--test-reporter=spec", str(script), env=env, timeout=150)
        finally:
            shutil.rmtree(outdir, ignore_errors=True)
    assert code == 0, out
    assert "fail 0" in out and "pass 2" in out, out
