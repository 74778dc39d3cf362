"""`buf curl` reaches the text service through reflection (unary and the Session stream)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.server.testing import TestHub

from .test_buf_curl import BUF, buf_curl
from .text_support import text_hub


@pytest.fixture
async def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with text_hub(tmp_path) as h:
        yield h


async def test_fix_text_and_session_with_buf_curl(hub: TestHub) -> None:
    assert BUF.exists(), "run `make setup` (npm ci installs the pinned buf)"
    auth = f"authorization: Bearer {hub.token('alice')}"
    code, out, err = await buf_curl(
        "-H", auth, "-d", '{"text": "akuo nv"}', f"http://{hub.target}/realtime.v1.TextService/FixText"
    )
    assert code == 0, err
    reply = json.loads(out)
    assert reply["fix"]["text"] == "שלום מה"
    assert reply["fix"]["suggestions"][0]["kind"] == "SUGGESTION_KIND_LAYOUT"
    commands = (
        b'{"id":"o","open":{"documentId":"d","debounce":"10s"}}\n'
        b'{"id":"e1","edit":{"documentId":"d","version":1,"text":"susu"}}\n'
    )
    code, out, err = await buf_curl(
        "-H", auth, "-d", "@-", f"http://{hub.target}/realtime.v1.TextService/Session", stdin=commands
    )
    assert code == 0, err
    events = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
    assert events[0]["opened"]["documentId"] == "d"
    assert events[-1]["commandId"] == "e1"
    assert events[-1]["result"]["fix"]["text"] == "דודו"
