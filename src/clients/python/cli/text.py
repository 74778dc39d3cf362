"""`realtime text fix|type`: fix texts, or replay a file as keystrokes through a Session."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from google.protobuf import duration_pb2

from realtime.v1 import text_pb2, text_pb2_grpc

from ._context import connect, emit

_OPS = {"layout": text_pb2.OPERATION_FIX_LAYOUT, "clean": text_pb2.OPERATION_CLEAN}
_KIND_NAMES = {text_pb2.SUGGESTION_KIND_LAYOUT: "LAYOUT", text_pb2.SUGGESTION_KIND_CLEAN: "CLEAN"}
BATCH = 100  # the server's batch limit


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("text", help="fix text typed on the wrong keyboard layout, clean text")
    tsub = p.add_subparsers(dest="text_command", required=True, metavar="SUBCOMMAND")

    f = tsub.add_parser("fix", help="print the corrected text of each TEXT (or of each stdin line)")
    f.add_argument("texts", nargs="*", metavar="TEXT", help="texts to fix; none reads lines from stdin")
    _add_options(f)
    f.set_defaults(func=fix)

    t = tsub.add_parser(
        "type", help="replay a file as keystrokes through a Session; print results and savings"
    )
    t.add_argument("--file", required=True, type=Path, help="the text to type ('-' for stdin)")
    t.add_argument("--delay-ms", type=float, default=120.0, help="time between keystrokes (default 120)")
    t.add_argument("--jitter-ms", type=float, default=40.0, help="random +- added to each delay (default 40)")
    t.add_argument("--debounce-ms", type=float, help="debounce for the document (server default 500)")
    _add_options(t)
    t.set_defaults(func=type_file)


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--op",
        dest="ops",
        action="append",
        choices=sorted(_OPS),
        help="operation to run (repeatable; default all)",
    )
    p.add_argument("--lang", dest="langs", action="append", help="language hint: he or en (repeatable)")
    p.add_argument(
        "--context",
        dest="context",
        action="append",
        metavar="MESSAGE",
        help="a previous message of the conversation, oldest first (repeatable, at most 10); "
        "decides short texts such as 'fi' (כן) or 'nv?' (מה?)",
    )


def _ops(args: argparse.Namespace) -> list[int]:
    return [_OPS[o] for o in args.ops or ()]


def _options(args: argparse.Namespace) -> text_pb2.FixOptions:
    return text_pb2.FixOptions(language_hints=args.langs or [], context=args.context or [])


def _inputs(args: argparse.Namespace) -> Iterator[str]:
    if args.texts:
        yield from args.texts
    else:
        for line in sys.stdin:
            yield line.rstrip("\n").rstrip("\r")


def _decision(fix: text_pb2.TextFix) -> dict[str, Any]:
    d = fix.decision
    return {"language": d.language, "confidence": round(d.confidence, 3), "reason": d.reason}


def _suggestions(fix: text_pb2.TextFix) -> list[dict[str, Any]]:
    return [
        {
            "offset": s.offset,
            "length": s.length,
            "replacement": s.replacement,
            "kind": _KIND_NAMES.get(s.kind, "UNSPECIFIED"),
            "confidence": round(s.confidence, 3),
        }
        for s in fix.suggestions
    ]


async def fix(args: argparse.Namespace) -> int:
    status = 0
    async with connect(args) as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        chunk: list[str] = []

        async def send() -> None:
            nonlocal status
            items = [text_pb2.FixTextBatchItem(id=str(i), text=t) for i, t in enumerate(chunk) if t]
            results = {}
            if items:
                reply = await stub.FixTextBatch(
                    text_pb2.FixTextBatchRequest(items=items, operations=_ops(args), options=_options(args)),
                    timeout=args.timeout,
                )
                results = {r.id: r for r in reply.results}
            for i, given in enumerate(chunk):
                r = results.get(str(i))
                if r is not None and r.WhichOneof("outcome") == "error":
                    print(f"{r.error.reason}: {r.error.message} (input {given[:40]!r})", file=sys.stderr)
                    status = 1
                    continue
                fixed = r.fix if r is not None else text_pb2.TextFix(text=given)
                emit(
                    args,
                    {
                        "input": given,
                        "output": fixed.text,
                        "suggestions": _suggestions(fixed),
                        "decision": _decision(fixed),
                    },
                    fixed.text,
                )
            chunk.clear()

        for text in _inputs(args):
            chunk.append(text)
            if len(chunk) == BATCH:
                await send()
        if chunk:
            await send()
    return status


async def type_file(args: argparse.Namespace) -> int:
    content = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
    rng = random.Random(7)
    open_cmd = text_pb2.OpenCommand(document_id="typed", operations=_ops(args), options=_options(args))
    if args.debounce_ms is not None:
        d = duration_pb2.Duration()
        d.FromNanoseconds(int(args.debounce_ms * 1e6))
        open_cmd.debounce.CopyFrom(d)

    async def keystrokes() -> AsyncIterator[text_pb2.SessionRequest]:
        yield text_pb2.SessionRequest(id="open", open=open_cmd)
        for i, ch in enumerate(content):
            change = text_pb2.TextChange(offset=i, length=0, text=ch)
            yield text_pb2.SessionRequest(
                id=f"k{i + 1}",
                edit=text_pb2.EditCommand(
                    document_id="typed", version=i + 1, changes=text_pb2.TextChanges(changes=[change])
                ),
            )
            delay = max(0.0, args.delay_ms + rng.uniform(-args.jitter_ms, args.jitter_ms)) / 1000
            if delay:
                await asyncio.sleep(delay)

    results = superseded = cancelled = errors = 0
    started = time.perf_counter()
    async with connect(args) as client:
        stub = client.stub(text_pb2_grpc.TextServiceStub)
        async for event in stub.Session(keystrokes()):
            kind = event.WhichOneof("event")
            if kind == "result":
                results += 1
                r = event.result
                ms = r.fix.compute_time.ToNanoseconds() / 1e6
                emit(
                    args,
                    {
                        "version": r.version,
                        "output": r.fix.text,
                        "suggestions": _suggestions(r.fix),
                        "compute_ms": ms,
                    },
                    f"v{r.version} ({ms:.2f} ms): {r.fix.text}",
                )
            elif kind == "superseded":
                if event.superseded.reason == text_pb2.SUPERSEDED_REASON_CANCELLED:
                    cancelled += len(event.superseded.versions)
                else:
                    superseded += len(event.superseded.versions)
            elif kind == "error":
                errors += 1
                print(f"error: {event.error.reason}: {event.error.message}", file=sys.stderr)
    keys = len(content)
    saved = 1 - results / keys if keys else 0.0
    summary = {
        "keystrokes": keys,
        "computations": results,
        "computations_saved": keys - results,
        "saved_ratio": round(saved, 4),
        "debounced_versions": superseded,
        "cancelled_versions": cancelled,
        "seconds": round(time.perf_counter() - started, 3),
    }
    emit(
        args,
        summary,
        f"{keys} keystrokes, {results} computations: {keys - results} saved ({saved:.0%}); "
        f"{superseded} versions debounced, {cancelled} cancelled",
    )
    return 1 if errors else 0
