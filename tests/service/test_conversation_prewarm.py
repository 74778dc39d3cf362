"""`stt_prestart`: a hub meant for calls loads its engines before it serves; test hubs do not."""

from __future__ import annotations

import os
from pathlib import Path

from realtime.server.testing import running_hub

from .conversation_client import FAST, SERVICES, Session, start, text


def stt_workers() -> int:
    """Recogniser processes that are children of this (test) process."""
    count = 0
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread ended between listing and reading
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            count += b"stt_worker" in cmdline
    return count


async def test_prestart_loads_the_recognisers_before_the_hub_serves(tmp_path: Path) -> None:
    before = stt_workers()
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": FAST}) as h:
        assert stt_workers() == before  # a hub that never converses pays nothing
    conf = {**FAST, "stt_prestart": True}
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        assert stt_workers() == before + FAST["stt_workers"]  # running (and warm) before any call
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start(), text("hello"))
            await s.until_kind("reply_audio")
            await s.aclose()
    assert stt_workers() == before
