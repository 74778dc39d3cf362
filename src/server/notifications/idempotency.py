"""What a publish's request_id was first used for: a retry of the same notification is idempotent
(the broker's idempotency key), the same id for another notification is refused."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..broker.base import Broker
from ..platform.errors import failed_precondition
from .model import Content

IDEMPOTENCY_TTL = 300.0


def payload_hash(content: Content) -> bytes:
    h = hashlib.sha256()
    for part in (content.title, content.body, content.content_type, str(content.level)):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(content.data)
    return h.hexdigest().encode()


@dataclass(frozen=True, slots=True)
class Claim:
    """A request id this call claimed first; `release` frees it when nothing was published."""

    broker: Broker
    key: str
    digest: bytes

    async def release(self) -> None:
        await self.broker.kv_compare_and_delete(self.key, self.digest)


async def claim_request_id(
    broker: Broker, user: str, channel: str, request_id: str, content: Content
) -> Claim | None:
    """Remember the notification's hash under the request id (in the broker, so on every replica).
    The Claim when this call is the first; None for a retry of the same notification;
    FAILED_PRECONDITION / IDEMPOTENCY_KEY_REUSED when the id already stands for another one."""
    key = f"notify:request:{channel}:{user}:{request_id}"
    digest = payload_hash(content)
    if await broker.kv_set_if_absent(key, digest, ttl=IDEMPOTENCY_TTL):
        return Claim(broker, key, digest)
    first = await broker.kv_get(key)
    if first is None:  # expired between the two calls: claim it again
        fresh = await broker.kv_set_if_absent(key, digest, ttl=IDEMPOTENCY_TTL)
        return Claim(broker, key, digest) if fresh else None
    if first != digest:
        err = failed_precondition(
            f"request_id {request_id!r} was used for a different notification in the last "
            f"{IDEMPOTENCY_TTL:g} s; use a new request_id",
            reason="IDEMPOTENCY_KEY_REUSED",
        )
        err.metadata = {"request_id": request_id, "channel": channel}
        raise err
    return None
