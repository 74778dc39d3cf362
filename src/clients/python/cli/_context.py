"""Shared CLI plumbing: connecting, tokens, output, exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_status import rpc_status

from realtime.common.tokens import mint_token, read_secret_file

from ..client import Client

# Set when a command runs without a token because no secret file was found: an UNAUTHENTICATED
# answer then says where the CLI looked and what to do instead of a bare status.
_no_token_hint: str | None = None


def missing_secret_message(path: Path) -> str:
    return (
        f"no JWT secret at {path}. Start the hub on its dev default (`make run` or `realtime-server` "
        "with no key) to create it there, point --jwt-secret-file (REALTIME_JWT_SECRET_FILE) at the "
        "hub's secret, set REALTIME_DEV_DIR to the hub's --dev-dir, or pass --token (REALTIME_TOKEN)"
    )


def token_for(args: argparse.Namespace) -> str | None:
    """--token, or a token minted for --sub from the secret file (the hub's dev secret by default)."""
    global _no_token_hint
    if args.token:
        return str(args.token)
    if getattr(args, "cert_file", None):
        # A client certificate is the identity (mutual TLS): a token minted from a dev secret that
        # happens to lie around would override it (a bearer token always decides who calls).
        return None
    path = Path(args.jwt_secret_file)
    if not path.exists():
        _no_token_hint = missing_secret_message(path)
        return None
    roles = getattr(args, "roles", None) or ()
    return str(mint_token(read_secret_file(path), args.sub, roles=roles, ttl=3600))


def tls_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """--tls, --ca-file, --cert-file and --key-file as `Client` keyword arguments."""
    return {
        "tls": args.tls,
        "ca_file": args.ca_file,
        "cert_file": args.cert_file,
        "key_file": args.key_file,
    }


def connect(args: argparse.Namespace) -> Client:
    return Client(args.server, token=token_for(args), **tls_kwargs(args))


def emit(args: argparse.Namespace, obj: dict[str, Any] | Message, text: str | None = None) -> None:
    """Print one result: a JSON object per line with --json, else `text` (or the JSON)."""
    if isinstance(obj, Message):
        obj = json_format.MessageToDict(obj, preserving_proto_field_name=True)
    if args.json or text is None:
        print(json.dumps(obj, ensure_ascii=False, sort_keys=False), flush=True)
    else:
        print(text, flush=True)


def die_with_status(err: grpc.aio.AioRpcError) -> int:
    """Print the status name (and details) on stderr; exit non-zero."""
    line = f"{err.code().name}: {err.details()}"
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    if status is not None:
        from google.rpc import error_details_pb2

        for detail in status.details:
            for kind in (
                error_details_pb2.ErrorInfo,
                error_details_pb2.RetryInfo,
                error_details_pb2.BadRequest,
                error_details_pb2.QuotaFailure,
            ):
                if detail.Is(kind.DESCRIPTOR):
                    msg = kind()
                    detail.Unpack(msg)
                    line += f"\n  {kind.__name__}: {json_format.MessageToJson(msg, indent=None)}"
    if err.code() == grpc.StatusCode.UNAUTHENTICATED and _no_token_hint:
        line += f"\n  no token was sent: {_no_token_hint}"
    print(line, file=sys.stderr)
    return 1
