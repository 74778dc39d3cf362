"""Channel names, namespaces and their history settings, notification ids."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..broker.base import DEFAULT_HISTORY_SIZE, DEFAULT_HISTORY_TTL
from ..platform.errors import invalid_argument

GENERAL = "general"
MAX_CHANNEL_LENGTH = 255
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class NamespaceConfig:
    """How a namespace's channels keep history and whether they track presence."""

    history_size: int = DEFAULT_HISTORY_SIZE
    history_ttl: float = DEFAULT_HISTORY_TTL
    presence: bool = True


@dataclass(frozen=True)
class ChannelConfig:
    """Per-namespace settings; `general` and `user` skip presence (every connection is in them)."""

    namespaces: Mapping[str, NamespaceConfig] = field(
        default_factory=lambda: {
            GENERAL: NamespaceConfig(presence=False),
            "user": NamespaceConfig(presence=False),
            "system": NamespaceConfig(history_size=100, history_ttl=3600.0, presence=False),
        }
    )
    default: NamespaceConfig = NamespaceConfig()

    def for_channel(self, channel: str) -> NamespaceConfig:
        return self.namespaces.get(namespace_of(channel), self.default)


def namespace_of(channel: str) -> str:
    """'general' -> 'general'; 'user:alice' -> 'user'."""
    return channel.partition(":")[0] if ":" in channel else channel


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


def validate_channel(channel: str, field_name: str = "channel") -> str:
    """The channel if well formed: `general` or `namespace:name`; else INVALID_ARGUMENT."""
    problem = None
    if not channel:
        problem = "is empty"
    elif len(channel) > MAX_CHANNEL_LENGTH:
        problem = f"is longer than {MAX_CHANNEL_LENGTH} characters"
    elif not channel.isprintable() or any(c.isspace() for c in channel) or "#" in channel:
        problem = "must be printable, without spaces or '#'"
    elif channel != GENERAL:
        ns, sep, rest = channel.partition(":")
        if not sep or not rest or not _NAMESPACE.match(ns):
            problem = "must be 'general' or 'namespace:name' (namespace: lowercase letters, digits, '-', '_')"
    if problem is not None:
        raise invalid_argument(f"invalid channel {channel[:64]!r}: {problem}", [(field_name, problem)])
    return channel


def notification_id(channel: str, epoch: str, offset: int) -> str:
    return f"{channel}#{epoch}:{offset}"


def parse_notification_id(value: str) -> tuple[str, str, int]:
    """(channel, epoch, offset) of a notification id; INVALID_ARGUMENT when malformed."""
    channel, sep, position = value.rpartition("#")
    epoch, sep2, offset = position.partition(":")
    if not sep or not sep2 or not epoch or not offset.isdigit() or int(offset) < 1:
        raise invalid_argument(
            f"invalid notification id {value[:80]!r}",
            [("notification_ids", "expected '{channel}#{epoch}:{offset}' as in Notification.id")],
        )
    validate_channel(channel, "notification_ids")
    return channel, epoch, int(offset)
