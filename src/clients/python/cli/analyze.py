"""`realtime analyze submit|get|list|cancel|wait|delete`: analysis jobs from the command line.

    realtime analyze submit shot.png --analyzer screenshot.suggest --priority urgent --watch
    realtime analyze submit notes.txt --analyzer text.inspect --option count=5 --json
    realtime analyze get operations/3f2a...      realtime analyze wait 3f2a... --timeout 60
    realtime analyze list --done false           realtime analyze cancel 3f2a...

`--watch` shows a progress bar per phase (on stderr), prints partial results as
they arrive and the final result at the end; with `--json` every watch event is
one JSON line on stdout instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

from google.longrunning import operations_pb2
from google.protobuf import duration_pb2, json_format, struct_pb2

from realtime.v1 import analysis_pb2, analysis_pb2_grpc, uploads_pb2, uploads_pb2_grpc

from ..uploads import read_to_file
from ._context import connect, emit
from .upload import ProgressView, upload_with_progress

PRIORITIES = ("urgent", "high", "normal", "low", "background")
#: Inputs above this go through UploadService (chunked, resumable) instead of one message.
INLINE_MAX = 512 * 1024
TEXT_TYPES = ("text/plain",)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("analyze", help="submit and manage analysis jobs")
    cmds = p.add_subparsers(dest="analyze_command", required=True, metavar="ACTION")

    s = cmds.add_parser("submit", help="submit FILE (or - for stdin) to an analyzer")
    s.add_argument("file", help="file to analyse; '-' reads stdin")
    s.add_argument("--analyzer", required=True, help="e.g. screenshot.suggest, image.optimize, text.inspect")
    s.add_argument("--priority", choices=PRIORITIES, default="normal")
    s.add_argument("--content-type", help="MIME type (default: guessed from the file name and content)")
    s.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="analyzer option (JSON value)"
    )
    s.add_argument("--request-id", default="", help="idempotency key: a retried submit returns the same job")
    s.add_argument("--watch", action="store_true", help="follow the job live until it is done")
    s.add_argument("--save", metavar="DIR", help="write result artifacts (e.g. the optimized image) into DIR")
    s.add_argument(
        "--resume", metavar="NAME", default="", help="continue an interrupted upload (uploads/...) of FILE"
    )
    s.add_argument("--keep-upload", action="store_true", help="keep the upload after the submit (reuse it)")
    s.set_defaults(func=submit)

    for name, helptext, func in (
        ("get", "show a job", get),
        ("cancel", "cancel a job (best effort)", cancel),
        ("delete", "forget a finished job", delete),
    ):
        c = cmds.add_parser(name, help=helptext)
        c.add_argument("id", help="operation name or job id")
        c.set_defaults(func=func)
    w = cmds.add_parser("wait", help="wait until a job is done (or --wait-timeout passes)")
    w.add_argument("id")
    w.add_argument("--wait-timeout", type=float, default=60.0, help="seconds to wait (at most 60)")
    w.set_defaults(func=wait)
    watch_p = cmds.add_parser("watch", help="follow a job live")
    watch_p.add_argument("id")
    watch_p.add_argument("--save", metavar="DIR", help="write result artifacts into DIR")
    watch_p.set_defaults(func=watch)
    ls = cmds.add_parser("list", help="list your jobs, newest first (admins: everyone's)")
    ls.add_argument(
        "--done", choices=("true", "false"), help="only finished (true) or unfinished (false) jobs"
    )
    ls.add_argument("--analyzer-filter", dest="analyzer_filter", help="only jobs of this analyzer")
    ls.add_argument(
        "--state",
        choices=("queued", "running", "succeeded", "failed", "cancelled"),
        help="only jobs in this state; 'failed' lists the dead letters (out of attempts, last error shown)",
    )
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(func=list_jobs)


def _name(value: str) -> str:
    return value if value.startswith("operations/") else "operations/" + value


def _content_type(path: str, data: bytes, given: str | None) -> str:
    if given:
        return given
    for magic, kind in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif")):
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(path)[0] if path != "-" else None
    if guessed and guessed.startswith("text/"):
        return "text/plain"
    if guessed:
        return guessed
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def _options(pairs: list[str]) -> struct_pb2.Struct:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    s = struct_pb2.Struct()
    s.update(options)
    return s


def summary(op: operations_pb2.Operation) -> dict[str, Any]:
    """A flat, readable view of an operation (artifact bytes replaced by their size)."""
    meta = analysis_pb2.AnalysisMetadata()
    op.metadata.Unpack(meta)
    out: dict[str, Any] = {
        "name": op.name,
        "analyzer": meta.analyzer,
        "state": analysis_pb2.JobState.Name(meta.state).removeprefix("JOB_STATE_"),
        "phase": meta.phase,
        "percent": meta.percent,
        "done": op.done,
    }
    if meta.queue_position:
        out["queue_position"] = meta.queue_position
    if meta.attempt:
        out["attempt"] = meta.attempt
        out["max_attempts"] = meta.max_attempts
    if meta.HasField("next_retry_time"):
        out["next_retry_time"] = meta.next_retry_time.ToJsonString()
    if meta.HasField("last_error"):
        out["last_error"] = {"code": meta.last_error.code, "message": meta.last_error.message}
    if op.HasField("response"):
        result = analysis_pb2.AnalysisResult()
        op.response.Unpack(result)
        out["result"] = json_format.MessageToDict(result.data)
        out["artifacts"] = [
            {"name": a.name, "content_type": a.content_type, "bytes": a.size or len(a.data)}
            for a in result.artifacts
        ]
    if op.HasField("error"):
        out["error"] = {"code": op.error.code, "message": op.error.message}
    return out


async def _save(args: argparse.Namespace, op: operations_pb2.Operation, directory: str | None) -> list[str]:
    if not directory or not op.HasField("response"):
        return []
    result = analysis_pb2.AnalysisResult()
    op.response.Unpack(result)
    folder = Path(directory)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    written = []
    for artifact in result.artifacts:
        ext = mimetypes.guess_extension(artifact.content_type) or ".bin"
        path = folder / f"{op.name.rsplit('/', 1)[-1]}-{artifact.name}{ext}"
        if artifact.resource_name and not artifact.data:  # too large to send inline: stream it
            view = ProgressView(args, "download")
            try:
                async with connect(args) as client:
                    await read_to_file(
                        client, artifact.resource_name, path, size=artifact.size, on_progress=view
                    )
            finally:
                view.close()
        else:
            await asyncio.to_thread(path.write_bytes, artifact.data)
        written.append(str(path))
    return written


async def _print_final(args: argparse.Namespace, op: operations_pb2.Operation) -> int:
    view = summary(op)
    saved = await _save(args, op, getattr(args, "save", None))
    if saved:
        view["saved"] = saved
    text = json.dumps(view, ensure_ascii=False, indent=2)
    suggestions = view.get("result", {}).get("suggestions")
    if suggestions:  # screenshot.suggest: what the user came for, not the whole context
        text = (
            _line(view) + "\nsuggestions:\n" + "\n".join(f"  {i}. {s}" for i, s in enumerate(suggestions, 1))
        )
    emit(args, view, text)
    return 0 if not op.HasField("error") else 1


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def _head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(4096)


def _large(path: str) -> bool:
    return path != "-" and Path(path).stat().st_size > INLINE_MAX


async def submit(args: argparse.Namespace) -> int:
    """Small inputs go inline; larger ones (or `--resume`) through a chunked, resumable upload."""
    by_upload = bool(args.resume) or _large(args.file)
    data = b""
    if by_upload:
        head = _head(args.file)
        content_type = _content_type(args.file, head, args.content_type)
    else:
        data = _read(args.file)
        content_type = _content_type(args.file, data, args.content_type)
        by_upload = len(data) > INLINE_MAX  # a large stdin
    filename = Path(args.file).name if args.file != "-" else ""
    if by_upload:
        source = analysis_pb2.AnalysisInput(content_type=content_type, filename=filename)
    elif content_type in TEXT_TYPES:
        source = analysis_pb2.AnalysisInput(text=data.decode("utf-8"), content_type="text/plain")
    else:
        source = analysis_pb2.AnalysisInput(data=data, content_type=content_type)
    source.filename = filename
    request = analysis_pb2.SubmitAnalysisRequest(
        analyzer=args.analyzer,
        input=source,
        options=_options(args.option),
        priority=analysis_pb2.Priority.Value("PRIORITY_" + args.priority.upper()),
        request_id=args.request_id,
    )
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        uploaded = None
        if by_upload:
            uploaded = await upload_with_progress(
                args, client, data or args.file, content_type, filename, args.resume
            )
            request.input.upload = uploaded.name
        op = await stub.SubmitAnalysis(request, timeout=args.timeout)
        if uploaded is not None and not args.keep_upload:  # the job holds its own copy now
            await client.stub(uploads_pb2_grpc.UploadServiceStub).DeleteUpload(
                uploads_pb2.DeleteUploadRequest(name=uploaded.name), timeout=args.timeout
            )
        if not args.watch:
            emit(args, summary(op), f"{op.name} queued (position {summary(op).get('queue_position', 0)})")
            return 0
        return await _follow(args, stub, op.name)


async def _follow(args: argparse.Namespace, stub: analysis_pb2_grpc.AnalysisServiceStub, name: str) -> int:
    from tqdm import tqdm

    bar: tqdm[Any] | None = None
    last: operations_pb2.Operation | None = None
    try:
        async for event in stub.WatchAnalysis(analysis_pb2.WatchAnalysisRequest(name=name)):
            last = event.operation
            kind = analysis_pb2.WatchEventKind.Name(event.kind).removeprefix("WATCH_EVENT_KIND_").lower()
            view = summary(event.operation)
            if args.json:
                line: dict[str, Any] = {"event": kind, **{k: v for k, v in view.items() if k != "result"}}
                if event.HasField("partial"):
                    line["partial"] = json_format.MessageToDict(event.partial.data)
                if event.phase:
                    line["event_phase"] = event.phase
                print(json.dumps(line, ensure_ascii=False), flush=True)
                continue
            if bar is None:
                bar = tqdm(
                    total=100, file=sys.stderr, unit="%", bar_format="{desc} {bar} {n:.0f}% [{elapsed}]"
                )
            bar.set_description_str(f"{view['state'].lower():9} {view['phase'] or 'waiting':16}")
            if view.get("queue_position"):
                bar.set_description_str(f"queued    position {view['queue_position']:<7}")
            bar.update(view["percent"] - bar.n)
            if event.HasField("partial"):
                partial = json_format.MessageToDict(event.partial.data)
                shown = partial.get("suggestion", json.dumps(partial, ensure_ascii=False))
                bar.write(f"  partial #{event.partial.index}: {shown}", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    if last is None:
        return 1
    if args.json:
        final = await stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=args.timeout)
        await _save(args, final, getattr(args, "save", None))
        return 0 if not final.HasField("error") else 1
    final = await stub.GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=args.timeout)
    return await _print_final(args, final)


async def watch(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        return await _follow(args, client.stub(analysis_pb2_grpc.AnalysisServiceStub), _name(args.id))


async def get(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        op = await stub.GetOperation(
            operations_pb2.GetOperationRequest(name=_name(args.id)), timeout=args.timeout
        )
        if op.done:
            return await _print_final(args, op)
        emit(args, summary(op), _line(summary(op)))
        return 0


def _line(view: dict[str, Any]) -> str:
    where = f" #{view['queue_position']}" if view.get("queue_position") else ""
    tries = f" attempt {view['attempt']}/{view['max_attempts']}" if view.get("max_attempts", 0) > 1 else ""
    retry = f" retry at {view['next_retry_time']}" if view.get("next_retry_time") else ""
    error = view.get("error") or view.get("last_error")
    why = f"  {error['message']}" if error and view["state"] in ("FAILED", "QUEUED") else ""
    return (
        f"{view['name']}  {view['analyzer']:20} {view['state']:9}{where} {view['phase']} {view['percent']}%"
        f"{tries}{retry}{why}"
    )


async def wait(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        timeout = duration_pb2.Duration()
        timeout.FromNanoseconds(int(args.wait_timeout * 1e9))
        op = await stub.WaitOperation(
            operations_pb2.WaitOperationRequest(name=_name(args.id), timeout=timeout),
            timeout=args.wait_timeout + args.timeout,
        )
        if not op.done:
            emit(args, summary(op), _line(summary(op)) + "  (still running)")
            return 3
        return await _print_final(args, op)


async def cancel(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        await stub.CancelOperation(
            operations_pb2.CancelOperationRequest(name=_name(args.id)), timeout=args.timeout
        )
        op = await stub.GetOperation(
            operations_pb2.GetOperationRequest(name=_name(args.id)), timeout=args.timeout
        )
        emit(args, summary(op), _line(summary(op)))
    return 0


async def delete(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        await stub.DeleteOperation(
            operations_pb2.DeleteOperationRequest(name=_name(args.id)), timeout=args.timeout
        )
        emit(args, {"name": _name(args.id), "deleted": True}, f"{_name(args.id)} deleted")
    return 0


async def list_jobs(args: argparse.Namespace) -> int:
    parts = []
    if args.done:
        parts.append(f"done={args.done}")
    if args.analyzer_filter:
        parts.append(f"analyzer={args.analyzer_filter}")
    if args.state:
        parts.append(f"state={args.state.upper()}")
    async with connect(args) as client:
        stub = client.stub(analysis_pb2_grpc.AnalysisServiceStub)
        reply = await stub.ListOperations(
            operations_pb2.ListOperationsRequest(
                filter=" ".join(parts), page_size=max(1, min(args.limit, 500))
            ),
            timeout=args.timeout,
        )
        for op in reply.operations:
            view = summary(op)
            emit(args, view, _line(view))
    return 0
