"""`realtime doc create|get|history|show|list|share|delete|join`: shared documents from the command line.

The one-shot commands are here; `join`, the live session and its command language, is in
doc_session.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from realtime.v1 import collaboration_pb2 as pb

from ._context import connect, emit
from .doc_session import join, role_name, stub

ROLES = {"editor": pb.DOCUMENT_ROLE_EDITOR, "viewer": pb.DOCUMENT_ROLE_VIEWER, "none": 0}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    doc = sub.add_parser("doc", help="shared documents: create, list, share, join a live session")
    cmds = doc.add_subparsers(dest="doc_command", required=True, metavar="ACTION")
    p = cmds.add_parser("create", help="create a document you own")
    p.add_argument("document_id", nargs="?", default="", help="id (default: the server picks one)")
    p.add_argument("--title", default="")
    p.set_defaults(func=create)
    p = cmds.add_parser("get", help="show a document's members and content")
    p.add_argument("document_id")
    p.set_defaults(func=get)
    p = cmds.add_parser("history", help="list a document's versions, newest first (who, when, what)")
    p.add_argument("document_id")
    p.add_argument("--limit", type=int, default=50, help="at most this many versions (default 50)")
    p.add_argument("--before", type=int, default=0, help="only versions older than this one")
    p.set_defaults(func=history)
    p = cmds.add_parser("show", help="show a document's content at a version (default: the current one)")
    p.add_argument("document_id")
    p.add_argument("--version", type=int, default=None, help="the version to show (0: empty)")
    p.set_defaults(func=show)
    p = cmds.add_parser("list", help="list the documents you can open")
    p.add_argument("--page-size", type=int, default=100)
    p.set_defaults(func=list_docs)
    p = cmds.add_parser("share", help="give a user a role (editor, viewer) or remove access (none)")
    p.add_argument("document_id")
    p.add_argument("user_id")
    p.add_argument("--role", choices=sorted(ROLES), default="editor")
    p.set_defaults(func=share)
    p = cmds.add_parser("delete", help="delete a document you own")
    p.add_argument("document_id")
    p.set_defaults(func=delete)
    p = cmds.add_parser("join", help="join a live session (commands from stdin or --script)")
    p.add_argument("document_id")
    p.add_argument("--script", type=Path, help="replay the commands in FILE, then sync, print and leave")
    p.add_argument("--name", default="", help="the name others see")
    p.add_argument("--client-id", default="", help="stable client id (default: random)")
    p.set_defaults(func=join)


def _info_text(d: pb.DocumentInfo) -> str:
    members = ", ".join(f"{u}:{role_name(r)}" for u, r in sorted(d.members.items()))
    return f"{d.document_id}  {d.title!r}  v{d.version}  you:{role_name(d.your_role)}  [{members}]"


async def create(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await stub(client).CreateDocument(
            pb.CreateDocumentRequest(document_id=args.document_id, title=args.title), timeout=args.timeout
        )
        emit(args, reply.document, _info_text(reply.document))
    return 0


def _tree_text(snapshot: pb.DocumentSnapshot) -> str:
    depth: dict[str, int] = {"": -1}
    lines = []
    for e in snapshot.elements:
        depth[e.element_id] = depth.get(e.parent_id, -1) + 1
        props = {k: _plain(v) for k, v in e.properties.items()}
        lines.append(
            f"{'  ' * depth[e.element_id]}{e.element_id} ({e.kind}) {json.dumps(props, ensure_ascii=False)}"
        )
    return "\n".join(lines) or "(empty)"


def _plain(value: Any) -> Any:
    from google.protobuf import json_format

    return json_format.MessageToDict(value)


async def get(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await stub(client).GetDocument(
            pb.GetDocumentRequest(document_id=args.document_id), timeout=args.timeout
        )
        emit(args, reply, _info_text(reply.document) + "\n" + _tree_text(reply.snapshot))
    return 0


async def history(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        token = str(args.before) if args.before > 0 else ""
        left, oldest = max(args.limit, 0), 0
        while left > 0:
            reply = await stub(client).ListVersions(
                pb.ListVersionsRequest(
                    document_id=args.document_id, page_size=min(left, 1000), page_token=token
                ),
                timeout=args.timeout,
            )
            for v in reply.versions:
                when = v.applied_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
                emit(args, v, f"v{v.version}  {when}  {v.author}  {v.summary}")
            left -= len(reply.versions)
            token, oldest = reply.next_page_token, reply.oldest_version
            if not token or not reply.versions:
                break
        if not args.json and oldest:
            print(f"(versions before {oldest} are no longer kept)", flush=True)
    return 0


async def show(args: argparse.Namespace) -> int:
    request = pb.GetDocumentRequest(document_id=args.document_id)
    if args.version is not None:
        if args.version < 0:
            print("--version must be 0 or more", file=sys.stderr)
            return 2
        request.version = args.version
    async with connect(args) as client:
        reply = await stub(client).GetDocument(request, timeout=args.timeout)
        emit(args, reply, _info_text(reply.document) + "\n" + _tree_text(reply.snapshot))
    return 0


async def list_docs(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        token = ""
        while True:
            reply = await stub(client).ListDocuments(
                pb.ListDocumentsRequest(page_size=args.page_size, page_token=token), timeout=args.timeout
            )
            for d in reply.documents:
                emit(args, d, _info_text(d))
            token = reply.next_page_token
            if not token:
                return 0


async def share(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        reply = await stub(client).ShareDocument(
            pb.ShareDocumentRequest(
                document_id=args.document_id, user_id=args.user_id, role=ROLES[args.role]
            ),
            timeout=args.timeout,
        )
        emit(args, reply.document, _info_text(reply.document))
    return 0


async def delete(args: argparse.Namespace) -> int:
    async with connect(args) as client:
        await stub(client).DeleteDocument(
            pb.DeleteDocumentRequest(document_id=args.document_id), timeout=args.timeout
        )
        emit(args, {"deleted": args.document_id}, f"deleted {args.document_id}")
    return 0
