"""Which package may import which: the client never imports the server, and `realtime.common`
(what both use) imports neither the server nor grpc. Checked on the source (AST), so a lazy
import inside a function counts too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "src/clients/python"
COMMON = ROOT / "src/common"


def imports(folder: Path, package: str) -> Iterator[tuple[str, str]]:
    """(file, absolute module) for every import under `folder`, relative ones resolved."""
    for path in sorted(folder.rglob("*.py")):
        parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        here = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield str(path.relative_to(ROOT)), alias.name
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                yield str(path.relative_to(ROOT)), module


def test_the_resolver_sees_relative_imports() -> None:
    found = set(imports(ROOT / "src/server", "realtime.server"))
    assert ("src/server/platform/status.py", "realtime.server.platform.errors") in found
    assert ("src/server/text/service.py", "realtime.server.platform.status") in found  # from ..platform


def test_the_client_imports_no_server_module() -> None:
    used = sorted((f, m) for f, m in imports(CLIENT, "realtime.client") if m.startswith("realtime.server"))
    assert used == []


def test_common_imports_neither_server_nor_grpc() -> None:
    bad = [
        (f, m)
        for f, m in imports(COMMON, "realtime.common")
        if m.startswith(("realtime.server", "realtime.client", "grpc"))
    ]
    assert bad == []
