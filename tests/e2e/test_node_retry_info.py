"""The TypeScript clients honour the server's google.rpc.RetryInfo (issue 18, item 5).

Unit part (no hub): src/clients/node/test/retry.test.ts, in-memory services behind the real gRPC,
gRPC-Web and Connect protocol code, an injected sleep and seeded randomness.
Real part: src/clients/node/test/refusal.test.ts against a hub with `max_streams_per_user=1`,
whose second stream of a user is refused RESOURCE_EXHAUSTED with RetryInfo (1 s): the Node client
over gRPC, and the browser client through the gateway (WebSocket bridge and gRPC-Web).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realtime.server.testing import running_hub

from .test_gateway_node import ESBUILD, ROOT, bundle, run

pytestmark = [pytest.mark.e2e]
SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.notifications.service",
    "realtime.server.uploads.service",
    "realtime.server.gateway.service",
)


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


async def test_retry_info_is_a_floor_for_every_ts_retry_path(tmp_path: Path) -> None:
    assert ESBUILD.exists(), "run `make setup` (npm installs the pinned esbuild)"
    script = await bundle(ROOT / "src/clients/node/test/retry.test.ts", tmp_path / "node-tests")
    code, out = await run("node", "--test", "--test-reporter=spec", str(script), env=_env())
    assert code == 0, out
    assert "fail 0" in out and "pass 8" in out, out


async def test_ts_clients_wait_out_a_real_refusal(tmp_path: Path) -> None:
    script = await bundle(ROOT / "src/clients/node/test/refusal.test.ts", tmp_path / "node-tests")
    async with running_hub(tmp_path, services=SERVICES, max_streams_per_user=1) as hub:
        tokens = {f"REALTIME_TOKEN_{n}": hub.token(f"capped-{n}") for n in (1, 2, 3, 4)}
        env = _env(REALTIME_GRPC_URL=f"http://{hub.target}", REALTIME_HTTP_URL=hub.http_url, **tokens)
        # The browser client's WebSocket half needs a WebSocket: node 20 has one behind this flag.
        cmd = ("node", "--experimental-websocket", "--test", "--test-reporter=spec", str(script))
        code, out = await run(*cmd, env=env)
    assert code == 0, out
    assert "fail 0" in out and "pass 4" in out, out
