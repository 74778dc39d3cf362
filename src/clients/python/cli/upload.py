"""`realtime upload put|status|delete|read`: uploads of any size (and the progress shown for them).

    realtime upload put big-photo.jpg                 # -> uploads/3f2a...  (progress bar on stderr)
    realtime upload put big.png --json                # one JSON progress line per ~1 % on stdout
    realtime upload put big.png --resume uploads/3f2a...   # continue an interrupted upload
    realtime upload status uploads/3f2a...            # committed bytes
    realtime upload read operations/ab12.../artifacts/optimized out.webp

`realtime analyze submit FILE` uploads by itself when FILE is too large to send inline.
An interrupted `put` resumes on its own: the hub finds the unfinished upload by the file's
SHA-256, so running the same command again continues from the last committed byte.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from realtime.v1 import uploads_pb2, uploads_pb2_grpc

from ..uploads import Progress, read_to_file, upload
from ._context import connect, emit


class ProgressView:
    """A tqdm bar (bytes, rate, ETA) on a terminal's stderr; JSON lines on stdout with --json;
    nothing when stderr is not a terminal (scripts and logs stay clean)."""

    def __init__(self, args: argparse.Namespace, label: str) -> None:
        self.json = bool(args.json)
        self.label = label
        self.bar: Any = None
        self._last = -1.0
        self._shown_at = 0.0
        self._resumes = 0

    def __call__(self, p: Progress) -> None:
        if self.json:
            step = p.total / 100 if p.total else 1
            now = time.monotonic()
            resumed = p.resumes != self._resumes  # after a broken connection: always shown
            self._resumes = p.resumes
            if not resumed and p.done < p.total and p.done - self._last < step and now - self._shown_at < 1.0:
                return
            self._last, self._shown_at = p.done, now
            line = {"event": self.label, "name": p.name, "bytes": p.done, "total": p.total}
            line |= {
                "rate_bytes_per_s": round(p.rate),
                "eta_s": round(p.eta, 1) if p.eta is not None else None,
            }
            if p.resumes:
                line["resumes"] = p.resumes
            print(json.dumps(line), flush=True)
            return
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=p.total,
                initial=p.done,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=self.label,
                file=sys.stderr,
            )
        if p.resumes != self._resumes:
            self._resumes = p.resumes
            self.bar.write(f"{self.label}: connection lost; resuming from byte {p.done}", file=sys.stderr)
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("upload", help="upload files of any size; read large results")
    cmds = p.add_subparsers(dest="upload_command", required=True, metavar="ACTION")
    put = cmds.add_parser("put", help="upload FILE (resumes an interrupted upload of the same file)")
    put.add_argument("file")
    put.add_argument("--content-type", default="application/octet-stream", help="MIME type of FILE")
    put.add_argument("--resume", metavar="NAME", default="", help="continue this upload (uploads/...)")
    put.set_defaults(func=put_cmd)
    status = cmds.add_parser("status", help="show an upload (committed bytes, expiry)")
    status.add_argument("name")
    status.set_defaults(func=status_cmd)
    delete = cmds.add_parser("delete", help="delete an upload (frees its quota)")
    delete.add_argument("name")
    delete.set_defaults(func=delete_cmd)
    read = cmds.add_parser("read", help="download a resource (an upload or a job's artifact) into FILE")
    read.add_argument("name")
    read.add_argument("file")
    read.set_defaults(func=read_cmd)


def guess_type(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, kind in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif")):
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def upload_with_progress(
    args: argparse.Namespace,
    client: Any,
    source: str | bytes,
    content_type: str,
    filename: str,
    resume: str = "",
) -> uploads_pb2.Upload:
    view = ProgressView(args, "upload")
    try:
        return await upload(client, source, content_type, filename=filename, name=resume, on_progress=view)
    finally:
        view.close()


async def put_cmd(args: argparse.Namespace) -> int:
    content_type = args.content_type
    if content_type == "application/octet-stream":
        content_type = guess_type(args.file)
    async with connect(args) as client:
        done = await upload_with_progress(
            args, client, args.file, content_type, Path(args.file).name, args.resume
        )
    emit(args, done, f"{done.name}  {done.size} bytes  sha256 {done.sha256}")
    return 0


async def status_cmd(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        u = (await stub.GetUpload(uploads_pb2.GetUploadRequest(name=args.name), timeout=args.timeout)).upload
    state = "complete" if u.complete else f"{u.committed_size} of {u.size} bytes"
    emit(args, u, f"{u.name}  {state}  expires {u.expire_time.ToDatetime().isoformat()}Z")
    return 0


async def delete_cmd(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        stub = client.stub(uploads_pb2_grpc.UploadServiceStub)
        await stub.DeleteUpload(uploads_pb2.DeleteUploadRequest(name=args.name), timeout=args.timeout)
    emit(args, {"name": args.name, "deleted": True}, f"{args.name} deleted")
    return 0


async def read_cmd(args: argparse.Namespace) -> int:
    view = ProgressView(args, "download")
    try:
        async with connect(args) as client:
            size = await read_to_file(client, args.name, args.file, on_progress=view)
    finally:
        view.close()
    emit(args, {"name": args.name, "file": args.file, "bytes": size}, f"{args.file}: {size} bytes")
    return 0
