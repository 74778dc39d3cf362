"""`realtime token`: mint a JWT the hub accepts."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from realtime.common.tokens import mint_token, read_secret_file

from ._context import emit, missing_secret_message

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 15m, 1h or 7d, got {text!r}")
    value = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if value <= 0:
        raise argparse.ArgumentTypeError("ttl must be positive")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("token", help="mint a token from an HS256 secret file (the dev secret by default)")
    p.add_argument("--sub", dest="token_sub", required=True, help="user id (claim sub)")
    p.add_argument("--role", action="append", default=[], help="role to grant, e.g. admin (repeatable)")
    p.add_argument("--ttl", type=parse_ttl, default=3600.0, help="lifetime, e.g. 15m, 1h, 7d (default 1h)")
    p.add_argument("--audience", help="claim aud")
    p.add_argument("--issuer", help="claim iss")
    p.add_argument(
        "--channel",
        action="append",
        default=[],
        help="notification channel the token may read beyond the built-in policy: a name or a pattern "
        "with * (e.g. 'doc:42', 'team-7:*'; repeatable; claim channels)",
    )
    p.add_argument(
        "--publish-channel",
        action="append",
        default=[],
        help="notification channel (name or * pattern) the token may publish into (repeatable; "
        "claim publish_channels)",
    )
    p.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    path = Path(args.jwt_secret_file)
    try:
        secret = read_secret_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(missing_secret_message(path)) from None
    token = mint_token(
        secret,
        args.token_sub,
        roles=args.role,
        ttl=args.ttl,
        audience=args.audience,
        issuer=args.issuer,
        channels=args.channel,
        publish_channels=args.publish_channel,
    )
    emit(
        args,
        {
            "token": token,
            "sub": args.token_sub,
            "roles": sorted(set(args.role)),
            "channels": args.channel,
            "publish_channels": args.publish_channel,
            "ttl_s": args.ttl,
        },
        token,
    )
    return 0
