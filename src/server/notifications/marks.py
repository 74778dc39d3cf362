"""MarkRead, one id at a time: a malformed, unknown or forbidden id is refused alone.

Each id gets its own result; the valid ones are marked in one broker call. An id exists when its
epoch is the channel's current epoch and its offset is one the channel reached (1..top).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..broker.base import Broker, StreamPosition
from ..platform.auth import Principal
from ..platform.errors import HubError, invalid_argument
from .channels import parse_notification_id
from .policy import ChannelPolicy

MAX_IDS = 1000

MARKED = "marked"
ALREADY_READ = "already_read"
INVALID_ID = "invalid_id"
NOT_FOUND = "not_found"
PERMISSION_DENIED = "permission_denied"


@dataclass(frozen=True, slots=True)
class MarkResult:
    notification_id: str
    status: str
    description: str = ""


async def mark_read(
    broker: Broker, policy: ChannelPolicy, who: Principal, values: list[str]
) -> tuple[int, list[MarkResult]]:
    """(newly read, one result per id in order). Only more than MAX_IDS ids fail the whole call."""
    if len(values) > MAX_IDS:
        raise invalid_argument("too many ids", [("notification_ids", f"at most {MAX_IDS}")])
    parsed: dict[str, tuple[str, str, int]] = {}
    results: dict[str, MarkResult] = {}
    for value in values:
        try:
            parsed[value] = parse_notification_id(value)
        except HubError as err:
            results[value] = MarkResult(value, INVALID_ID, err.message)
    readable: dict[str, bool] = {}
    tops: dict[str, StreamPosition] = {}
    for value, (channel, epoch, offset) in parsed.items():
        if channel not in readable:
            readable[channel] = await policy.may_read(who, channel)
        if not readable[channel]:
            results[value] = MarkResult(value, PERMISSION_DENIED, f"not allowed to read channel {channel!r}")
            continue
        if channel not in tops:
            tops[channel] = (await broker.history(channel, limit=0)).position
        top = tops[channel]
        if epoch != top.epoch or offset > top.offset:
            results[value] = MarkResult(value, NOT_FOUND, f"no such notification in channel {channel!r}")
    valid = [v for v in parsed if v not in results]
    newly: set[str] = set()
    if valid:
        # One atomic broker call says which ids this call marked: of two calls marking the same id
        # at once (two streams, two replicas), exactly one reports it MARKED and counts it.
        newly = await broker.mark_read_ids(who.subject, valid)
        for value in valid:
            results[value] = MarkResult(value, MARKED if value in newly else ALREADY_READ)
    return len(newly), [results[v] for v in values]
