"""`realtime`: the hub's command line.

Each command group is a module with `add_parser(subparsers)`; the parser it
adds sets `func`, an async function taking the parsed args (`Context`) and
returning an exit status. Groups are listed in COMMAND_MODULES.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

import grpc

from realtime.common.tokens import DEV_SECRET_NAME, dev_dir_from_env

from ._context import die_with_status

COMMAND_MODULES: tuple[str, ...] = (
    "realtime.client.cli.token",
    "realtime.client.cli.health",
    "realtime.client.cli.diag",
    "realtime.client.cli.text",
    "realtime.client.cli.converse",
    "realtime.client.cli.notify",
    "realtime.client.cli.doc",
    "realtime.client.cli.analyze",
    "realtime.client.cli.upload",
)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The global options; on subcommands too, so `realtime text fix --json` works."""

    def add(*flags: str, **kw: object) -> None:
        if any(f in parser._option_string_actions for f in flags):
            return  # the subcommand has its own meaning for this flag
        if suppress:
            kw["default"] = argparse.SUPPRESS
        parser.add_argument(*flags, **kw)  # type: ignore[arg-type]

    add(
        "--server",
        default=os.environ.get("REALTIME_SERVER", "127.0.0.1:50051"),
        help="hub gRPC address HOST:PORT [env REALTIME_SERVER; default 127.0.0.1:50051]",
    )
    add(
        "--token",
        default=os.environ.get("REALTIME_TOKEN"),
        help="bearer token [env REALTIME_TOKEN; default: minted from the dev secret file]",
    )
    add(
        "--jwt-secret-file",
        default=os.environ.get("REALTIME_JWT_SECRET_FILE") or str(dev_dir_from_env() / DEV_SECRET_NAME),
        help="HS256 secret used to mint tokens when --token is absent [env REALTIME_JWT_SECRET_FILE; "
        "default: the hub's dev secret, $REALTIME_DEV_DIR/dev-jwt-secret, else "
        "$XDG_STATE_HOME/realtime/dev-jwt-secret or ~/.local/state/realtime/dev-jwt-secret]",
    )
    add(
        "--sub",
        default=os.environ.get("REALTIME_SUB", os.environ.get("USER", "dev")),
        help="user id for a token minted from the dev secret [env REALTIME_SUB]",
    )
    add(
        "--role",
        dest="roles",
        action="append",
        help="role for a token minted from the dev secret (repeatable)",
    )
    add(
        "--tls",
        action="store_true",
        default=_env_flag("REALTIME_TLS"),
        help="use TLS (system roots unless --ca-file) [env REALTIME_TLS=1]",
    )
    add(
        "--ca-file",
        default=os.environ.get("REALTIME_CA_FILE"),
        help="PEM CA that signed the hub's certificate; implies --tls [env REALTIME_CA_FILE]",
    )
    add(
        "--cert-file",
        default=os.environ.get("REALTIME_CERT_FILE"),
        help="PEM client certificate for a hub that requires one (mutual TLS); without --token it is "
        "the caller's identity (no dev token is minted) [env REALTIME_CERT_FILE]",
    )
    add(
        "--key-file",
        default=os.environ.get("REALTIME_KEY_FILE"),
        help="PEM private key of --cert-file [env REALTIME_KEY_FILE]",
    )
    add("--json", action="store_true", help="print one JSON object per line")
    add("--timeout", type=float, default=10.0, help="seconds per unary call (default 10)")


def _add_common_everywhere(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_common(child, suppress=True)
                _add_common_everywhere(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime", description="Talk to a realtime hub.")
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    _add_common_everywhere(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(asyncio.run(args.func(args)) or 0)
    except grpc.aio.AioRpcError as err:
        return die_with_status(err)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
