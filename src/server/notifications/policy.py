"""Who may read and publish which channel: the one authorisation policy of notifications.

- admin: everything.
- `general`: everyone reads; only admins publish.
- `user:{id}`: only that user reads; only admins (and the hub's services, which
  publish through the broker directly) publish.
- `system:*`: admins only.
- open namespaces (default `topic`): every authenticated user reads and publishes.
- any other namespace (`analysis:{job}`, `doc:{id}`...): a grant written by the
  owning service in the broker's key-value store, so it holds on every replica:
  key `notify:acl:{channel}:{user}`, value containing `r` (read) and/or `w` (publish).
- beyond all of that, the caller's token may grant channels (claims `channels` to
  read, `publish_channels` to publish; exact names or patterns where `*` matches any
  run of characters), verified with the token's signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ..broker.base import Broker
from ..platform.auth import Principal
from ..platform.errors import Code, HubError
from .channels import GENERAL, namespace_of

READ = "r"
PUBLISH = "w"


def acl_key(channel: str, user_id: str) -> str:
    return f"notify:acl:{channel}:{user_id}"


async def grant(broker: Broker, channel: str, user_id: str, rights: str, ttl: float | None = None) -> None:
    """Let `user_id` read ("r") and/or publish ("w") `channel` (for services owning a namespace)."""
    await broker.kv_set(acl_key(channel, user_id), rights.encode(), ttl=ttl)


@lru_cache(maxsize=1024)
def _pattern(grant: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in grant.split("*")))


def claimed(channel: str, grants: tuple[str, ...]) -> bool:
    """Whether a token's channel claims cover `channel` (exact names, or `*` patterns)."""
    for grant in grants:
        if grant == channel or ("*" in grant and _pattern(grant).fullmatch(channel)):
            return True
    return False


def denied(channel: str, action: str) -> HubError:
    return HubError(
        Code.PERMISSION_DENIED,
        f"not allowed to {action} channel {channel!r}",
        reason="PERMISSION_DENIED",
        metadata={"channel": channel, "action": action},
    )


class ChannelPolicy:
    def __init__(self, broker: Broker, open_namespaces: Iterable[str] = ("topic",)) -> None:
        self._broker = broker
        self._open = frozenset(open_namespaces)

    @property
    def open_namespaces(self) -> frozenset[str]:
        """Namespaces every user reads and publishes (where publishing is under quota)."""
        return self._open

    async def _granted(self, who: Principal, channel: str, right: str) -> bool:
        value = await self._broker.kv_get(acl_key(channel, who.subject))
        return value is not None and right in value.decode(errors="replace")

    async def may_read(self, who: Principal, channel: str) -> bool:
        if who.is_admin or channel == GENERAL or claimed(channel, who.channels):
            return True
        ns = namespace_of(channel)
        if ns == "user":
            return channel == f"user:{who.subject}"
        if ns == "system":
            return False
        if ns in self._open:
            return True
        return await self._granted(who, channel, READ)

    async def may_publish(self, who: Principal, channel: str) -> bool:
        if who.is_admin or claimed(channel, who.publish_channels):
            return True
        ns = namespace_of(channel)
        if channel == GENERAL or ns in ("user", "system"):
            return False
        if ns in self._open:
            return True
        return await self._granted(who, channel, PUBLISH)

    async def check_read(self, who: Principal, channel: str) -> None:
        if not await self.may_read(who, channel):
            raise denied(channel, "read")

    async def check_publish(self, who: Principal, channel: str) -> None:
        if not await self.may_publish(who, channel):
            raise denied(channel, "publish")
