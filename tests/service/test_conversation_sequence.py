"""Audio sequence numbers: duplicates dropped, reorders fixed, gaps reported and counted."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from realtime.server.testing import running_hub

from .conversation_client import FAST, SERVICES, Session, audio, chunks, end, goforward, start


async def test_duplicates_reorders_and_gaps(tmp_path: Path) -> None:
    conf = {**FAST, "reorder_window": 4}
    pieces = chunks(goforward() + b"\0" * 32_000)
    order = list(range(len(pieces)))
    order[10], order[11] = order[11], order[10]  # a swap: fixed silently
    order.insert(20, 19)  # a duplicate: dropped
    del order[order.index(30) : order.index(33)]  # 30, 31, 32 never arrive: a gap
    async with running_hub(tmp_path, services=SERVICES, extra={"conversation": conf}) as h:
        async with h.client("alice") as client:
            s = Session(client)
            s.send(start())
            await s.until_kind("ready")
            for i in order:
                s.send(audio(1000 + i, pieces[i]))
            s.send(end())
            await s.finished(timeout=60)
        async with aiohttp.ClientSession() as http, http.get(h.http_url + "/metrics") as resp:
            metrics = await resp.text()
    gaps = s.of("gap")
    assert [(g.first_missing, g.last_missing) for g in gaps] == [(1030, 1032)]
    assert not s.of("error")
    final = [t for t in s.of("transcript") if t.final]
    assert final and "forward" in final[0].text
    assert 'realtime_conversation_audio_sequence_total{kind="duplicate"} 1.0' in metrics
    assert 'realtime_conversation_audio_sequence_total{kind="reordered"} 1.0' in metrics
    assert 'realtime_conversation_audio_sequence_total{kind="gap"} 3.0' in metrics
