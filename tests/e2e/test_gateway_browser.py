"""The dashboard in headless Chromium against a real hub in the dev default (dev-token sign-in).

Chromium is Debian's (`chromium` in scripts/system-packages.txt), driven by playwright-core from
npm; nothing downloads a browser. The script is bundled with esbuild and run by node's test runner.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from realtime.server.app import SERVICE_MODULES
from realtime.server.platform.auth import mint_token, read_secret_file
from realtime.server.testing import running_hub

from .test_gateway_node import ESBUILD, ROOT, bundle, run

CHROMIUM = Path("/usr/bin/chromium")
# The dashboard shows a panel per service the hub serves; the test covers those that have landed.
SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.text.service",
    "realtime.server.notifications.service",
    "realtime.server.gateway.service",
    *(
        m
        for m in SERVICE_MODULES
        if m.split(".")[2] in ("uploads", "analysis", "collaboration", "conversation")
    ),
)


def prepare(tmp_path: Path) -> Path:
    assert CHROMIUM.exists(), "install Debian's chromium: make setup-system"
    assert ESBUILD.exists(), "run `make setup`"
    shots = Path(os.environ.get("REALTIME_SHOT_DIR", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


async def test_dashboard_in_chromium(tmp_path: Path) -> None:
    shots = prepare(tmp_path)
    outdir = ROOT / "node_modules" / ".cache" / "realtime-e2e" / tmp_path.name
    script = await bundle(ROOT / "tests/e2e/browser/dashboard.test.ts", outdir, external=("playwright-core",))
    # jwt_secret_file=None: the dev default, where the page offers the dev-token button.
    async with running_hub(tmp_path, services=SERVICES, jwt_secret_file=None) as hub:
        assert hub.hub.ctx is not None
        secret = read_secret_file(hub.hub.settings.dev_secret_path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "REALTIME_HTTP_URL": hub.http_url,
            "REALTIME_GRPC_URL": f"http://{hub.target}",
            "REALTIME_ADMIN_TOKEN": mint_token(secret, "ops", roles=["admin"], ttl=600),
            "REALTIME_SERVICES": ",".join(hub.hub.ctx.services),
            "REALTIME_SHOT_DIR": str(shots),
        }
        try:
            code, out = await run("node", "--test", "--test-reporter=spec", str(script), env=env, timeout=150)
        finally:
            shutil.rmtree(outdir, ignore_errors=True)
    assert code == 0, out
    assert "fail 0" in out and "pass 9" in out, out
