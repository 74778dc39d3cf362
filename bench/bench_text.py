"""Text service bench: FixText calls/s, FixTextBatch texts/s, and a typing simulation.

Texts are 5-15 words drawn from wordfreq's 3,000 most common English and Hebrew
words: 35 % English, 35 % Hebrew, 15 % Hebrew typed on the English layout, 15 %
English typed on the Hebrew layout. The typing simulation: 50 sessions each type
sentences at 80-200 ms per keystroke, pausing 0.6-1.5 s after some words (20 %)
and 1-2 s after each sentence, one ranged edit per keystroke, default debounce.
Batches are measured on a warm server: after the batch worker processes took some.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from typing import Any

import wordfreq

from realtime.server.text.keyboard import en_to_he, he_to_en
from realtime.v1 import text_pb2, text_pb2_grpc

from .harness import channel, closed_loop, hub, percentile

SEED_TEXTS_PER_S = 7_898  # the seed's claim
DEBOUNCE = 0.5


def make_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    en = wordfreq.top_n_list("en", 3000)
    he = [w for w in wordfreq.top_n_list("he", 3500) if all("\u05d0" <= c <= "\u05ea" for c in w)][:3000]
    en = [w for w in en if w.isascii() and w.isalpha()]
    out = []
    for _ in range(count):
        n = rng.randint(5, 15)
        kind = rng.random()
        words = rng.choices(he if 0.35 <= kind < 0.7 or 0.85 <= kind else en, k=n)
        text = " ".join(words)
        if rng.random() < 0.5:
            text += rng.choice([".", "?", "!", ","])
        if 0.7 <= kind < 0.85:
            text = en_to_he(text)  # English typed with the Hebrew layout active
        elif kind >= 0.85:
            text = he_to_en(text)  # Hebrew typed with the English layout active
        out.append(text)
    return out


async def _fix_text_rate(stub: Any, md: Any, texts: list[str], seconds: float) -> tuple[float, float]:
    requests = [text_pb2.FixTextRequest(text=t) for t in texts]
    i = 0

    async def call() -> None:
        nonlocal i
        i += 1
        await stub.FixText(requests[i % len(requests)], metadata=md)

    rate, lat = await closed_loop(call, in_flight=64, seconds=seconds)
    return rate, percentile(lat, 50)


def _batches_in_processes(http_url: str) -> float:
    with urllib.request.urlopen(f"{http_url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('realtime_text_batches_total{runner="processes"} '):
                return float(line.split()[1])
    return 0.0


async def _batch_rate(stub: Any, md: Any, texts: list[str], seconds: float, http_url: str) -> float:
    batches = [
        text_pb2.FixTextBatchRequest(items=[text_pb2.FixTextBatchItem(text=t) for t in texts[k : k + 100]])
        for k in range(0, len(texts) - 99, 100)
    ]
    # A warm server: the first big batch starts the worker processes in the background (batches
    # run on threads meanwhile). Measure once they take batches, as a server in service would be.
    for k in range(300):
        await stub.FixTextBatch(batches[k % len(batches)], metadata=md)
        if k % 10 == 9 and await asyncio.to_thread(_batches_in_processes, http_url) > 0:
            break
        await asyncio.sleep(0.1)
    i = 0

    async def call() -> None:
        nonlocal i
        i += 1
        await stub.FixTextBatch(batches[i % len(batches)], metadata=md)

    rate, _ = await closed_loop(call, in_flight=4, seconds=seconds)
    return rate * 100


async def _typist(
    stub: Any, md: Any, rng: random.Random, sentences: list[str]
) -> tuple[int, int, list[float]]:
    """One session typing `sentences`; returns (keystrokes, results, last-keystroke-to-result seconds)."""
    sent_at: dict[int, float] = {}
    keys = 0
    done = asyncio.Event()

    async def commands() -> Any:
        nonlocal keys
        yield text_pb2.SessionRequest(id="o", open=text_pb2.OpenCommand(document_id="field"))
        text_len = 0
        for sentence in sentences:
            for w, word in enumerate(sentence.split(" ")):
                for ch in (" " if w or text_len else "") + word:
                    keys += 1
                    change = text_pb2.TextChange(offset=text_len, length=0, text=ch)
                    text_len += 1
                    sent_at[keys] = time.perf_counter()
                    yield text_pb2.SessionRequest(
                        id=str(keys),
                        edit=text_pb2.EditCommand(
                            document_id="field", version=keys, changes=text_pb2.TextChanges(changes=[change])
                        ),
                    )
                    await asyncio.sleep(rng.uniform(0.08, 0.2))
                if rng.random() < 0.2:
                    await asyncio.sleep(rng.uniform(0.6, 1.5))  # thinking between words
            await asyncio.sleep(rng.uniform(1.0, 2.0))  # end of a sentence
        await done.wait()

    results = 0
    waits: list[float] = []
    call = stub.Session(commands(), metadata=md)
    async for event in call:
        if event.WhichOneof("event") == "result":
            results += 1
            waits.append(time.perf_counter() - sent_at[event.result.version])
            if event.result.version == keys and sum(len(s) + 1 for s in sentences) - 1 == keys:
                done.set()
                call.cancel()
                break
    return keys, results, waits


async def _typing(stub: Any, md: Any, sessions: int = 50) -> dict[str, float]:
    rng = random.Random(5)
    pool = make_texts(400, seed=9)
    plans = [[" ".join(rng.choice(pool).split()[:8]) for _ in range(2)] for _ in range(sessions)]
    outcomes = await asyncio.gather(
        *(_typist(stub, md, random.Random(i), plan) for i, plan in enumerate(plans))
    )
    keys = sum(o[0] for o in outcomes)
    results = sum(o[1] for o in outcomes)
    waits = [w for o in outcomes for w in o[2]]
    return {
        "typing_sessions": sessions,
        "typing_keystrokes": keys,
        "typing_computations": results,
        "typing_computations_per_keystroke": results / keys,
        "typing_fewer_computations_ratio": 1 - results / keys,
        "typing_last_key_to_result_p50_ms": percentile(waits, 50) * 1000,
        "typing_last_key_to_result_p95_ms": percentile(waits, 95) * 1000,
        "typing_over_debounce_p50_ms": (percentile(waits, 50) - DEBOUNCE) * 1000,
        "typing_over_debounce_p95_ms": (percentile(waits, 95) - DEBOUNCE) * 1000,
    }


async def run(base: dict[str, float], seconds: float = 5.0) -> dict[str, float]:
    texts = make_texts(20_000, seed=1)
    figures: dict[str, float] = {}
    with hub() as h:
        md = h.metadata()
        async with channel(h.target) as ch:
            stub = text_pb2_grpc.TextServiceStub(ch)
            rate, p50 = await _fix_text_rate(stub, md, texts, seconds)
            figures["fixtext_calls_per_s"] = rate
            figures["fixtext_p50_ms"] = p50 * 1000
            figures["fixtext_vs_echo_unary_ratio"] = rate / base["echo_unary_calls_per_s"]
            batch = await _batch_rate(stub, md, texts, seconds, f"http://127.0.0.1:{h.http_port}")
            figures["batch100_texts_per_s"] = batch
            figures["batch100_vs_seed_ratio"] = batch / SEED_TEXTS_PER_S
            figures.update(await _typing(stub, md))
    return figures


if __name__ == "__main__":
    import json
    import sys

    from .__main__ import baseline_and_platform

    async def main() -> None:
        base = await baseline_and_platform(3.0, 200)
        print(json.dumps({k: base[k] for k in ("echo_unary_calls_per_s", "hub_unary_calls_per_s")}, indent=1))
        print(json.dumps(await run(base, float(sys.argv[1]) if len(sys.argv) > 1 else 5.0), indent=1))

    asyncio.run(main())
