"""The Node client (connect-node, gRPC over HTTP/2) against a real hub, run by node's test runner."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from realtime.server.testing import running_hub

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
SERVICES = (
    "realtime.server.diagnostics.service",
    "realtime.server.notifications.service",
    "realtime.server.gateway.service",
)
# Bundled tests are ESM; some dependencies are CommonJS and call require().
REQUIRE_SHIM = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"


async def run(*cmd: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(errors="replace")


async def bundle(entry: Path, outdir: Path, external: tuple[str, ...] = ()) -> Path:
    """One ESM file for node. Packages left `external` resolve from node_modules at run time, so
    such bundles are written under node_modules/.cache (node looks up from the file's folder)."""
    code, out = await run(
        str(ESBUILD),
        str(entry),
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--log-level=warning",
        f"--outdir={outdir}",
        "--out-extension:.js=.mjs",
        f"--banner:js={REQUIRE_SHIM}",
        *(f"--external:{name}" for name in external),
    )
    assert code == 0, out
    return outdir / (entry.name.removesuffix(".ts") + ".mjs")


async def test_node_client_against_a_real_hub(tmp_path: Path) -> None:
    assert ESBUILD.exists(), "run `make setup` (npm installs the pinned esbuild)"
    script = await bundle(ROOT / "src/clients/node/test/client.test.ts", tmp_path / "node-tests")
    async with running_hub(tmp_path, services=SERVICES) as hub:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REALTIME_GRPC_URL": f"http://{hub.target}",
            "REALTIME_TOKEN": hub.token("nora"),
            "REALTIME_ADMIN_TOKEN": hub.token("root", ["admin"]),
            "REALTIME_SERVICES": ",".join(hub.hub.ctx.services if hub.hub.ctx else []),
        }
        code, out = await run("node", "--test", "--test-reporter=spec", str(script), env=env)
    assert code == 0, out
    assert "fail 0" in out and "pass 6" in out, out


async def test_node_client_over_mutual_tls(tmp_path: Path) -> None:
    from tests.tls_certs import CA

    script = await bundle(ROOT / "src/clients/node/test/tls.test.ts", tmp_path / "node-tls-tests")
    ca, other = CA(tmp_path, "hub-ca"), CA(tmp_path, "other-ca")
    served, node = ca.server(), ca.issue("node.internal", client=True)
    settings = {
        "tls_cert_file": served.cert_file,
        "tls_key_file": served.key_file,
        "tls_client_ca_file": ca.cert_file,
        "tls_client_subjects": "node.internal=svc-node",
    }
    async with running_hub(tmp_path, services=SERVICES[:1], **settings) as hub:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REALTIME_GRPC_URL": f"https://localhost:{hub.hub.grpc_port}",
            "REALTIME_CA_FILE": str(ca.cert_file),
            "REALTIME_OTHER_CA_FILE": str(other.cert_file),
            "REALTIME_CERT_FILE": str(node.cert_file),
            "REALTIME_KEY_FILE": str(node.key_file),
        }
        code, out = await run("node", "--test", "--test-reporter=spec", str(script), env=env)
    assert code == 0, out
    assert "fail 0" in out and "pass 3" in out, out
