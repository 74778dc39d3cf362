"""One speech-recognition worker process (pocketsphinx holds the GIL, so
concurrency needs processes). It keeps up to N decoders ("slots"); the parent assigns each
utterance a free slot and sends it audio in order. Requests and replies are small tuples.

Request:  (op, utterance_id, slot, pcm_bytes, want_partial)   op: start | feed | end | abort | stop
Reply:    ("ok", text, confidence) or ("error", message)
"""

from __future__ import annotations

import json
import sys
from multiprocessing.connection import Connection
from typing import Any


def _decoder(options: dict[str, Any]) -> Any:
    from pocketsphinx import Decoder

    # Second pass off: fwdflat/bestpath added ~170 ms after each utterance and hurt accuracy
    # on read speech (see shared notes); finalisation is then ~15 ms.
    return Decoder(fwdflat=False, bestpath=False, loglevel="FATAL", **options)


def _confidence(decoder: Any) -> float:
    """Frame-weighted mean acoustic likelihood of the words, stretched to 0..1.

    With the second pass off pocketsphinx computes no posterior (it reports 1.0). The
    per-word acoustic likelihood it does give sits near 0.9 for clear read speech and
    near 0.75 for noise it forced into a word; (mean - 0.6) / 0.4 spreads that range.
    """
    frames = 0
    total = 0.0
    for seg in decoder.seg():
        if seg.word.startswith(("<", "[", "++")):
            continue
        n = max(seg.end_frame - seg.start_frame + 1, 1)
        frames += n
        total += float(seg.ascore) * n
    if frames == 0:
        return 0.0
    return float(min(1.0, max(0.0, (total / frames - 0.6) / 0.4)))


def main(conn: Connection, max_slots: int, options: dict[str, Any], prewarm: int = 1) -> None:
    # Loading a decoder takes ~0.5 s during which this worker answers nobody: load the
    # expected number before saying ready; more load on first use.
    decoders: dict[int, Any] = {slot: _decoder(options) for slot in range(max(1, min(prewarm, max_slots)))}
    active: dict[str, int] = {}
    conn.send(("ready", "", 0.0))
    while True:
        try:
            op, utt, slot, pcm, want_partial = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "stop":
                conn.send(("ok", "", 0.0))
                return
            if op == "abort":
                found = active.pop(utt, None)
                if found is not None:
                    decoders[found].end_utt()
                conn.send(("ok", "", 0.0))
                continue
            if op == "start":
                if not 0 <= slot < max_slots:
                    raise ValueError(f"slot {slot} out of range")
                if slot not in decoders:
                    decoders[slot] = _decoder(options)
                for stale in [u for u, s in active.items() if s == slot]:
                    # The parent gave up on that utterance without an abort reaching us.
                    del active[stale]
                    decoders[slot].end_utt()
                decoders[slot].start_utt()
                active[utt] = slot
            d = decoders[active[utt]]
            if pcm:
                d.process_raw(pcm, False, False)
            if op == "end":
                d.end_utt()
                del active[utt]
                hyp = d.hyp()
                text = hyp.hypstr if hyp is not None else ""
                conn.send(("ok", text, _confidence(d) if text else 0.0))
            elif want_partial:
                hyp = d.hyp()
                conn.send(("ok", hyp.hypstr if hyp is not None else "", 0.0))
            else:
                conn.send(("ok", "", 0.0))
        except Exception as exc:  # report and keep serving the other utterances
            active.pop(utt, None)
            conn.send(("error", f"{type(exc).__name__}: {exc}", 0.0))


if __name__ == "__main__":
    # python -m realtime.server.conversation.stt_worker FD SLOTS OPTIONS_JSON PREWARM: only this module
    # and pocketsphinx load here, not the server that started it.
    main(Connection(int(sys.argv[1])), int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]))
