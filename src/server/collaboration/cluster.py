"""Several hub replicas on one broker: one owner per document, an op journal, and forwarding.

- Ownership: `collab:owner:{doc}` holds the owning replica's instance id with a TTL
  (`owner_ttl`), renewed by the owner. A replica that finds no owner claims the document.
  If the owner dies (even SIGKILL) its claim expires and the next join elsewhere claims it.
- Journal: the owner appends every accepted batch to the broker channel
  `collab:log:{doc}` (with history) BEFORE broadcasting it, so an acknowledged operation
  is never lost; a new owner loads the saved snapshot and replays the journal after it.
- Forwarding: a client connected to a replica that does not own its document is served
  through the owner: the replica forwards the client's commands, as bytes, to the owner's
  inbox channel `collab:to:{instance}` and relays the owner's events back from its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from realtime.common.collaboration.ops import Applied

from ..broker.base import Broker, BrokerError, BrokerUnavailable, Subscription
from .codec import applied_from_json, applied_to_json

log = logging.getLogger("realtime.collaboration")
#: Journal batches kept; snapshots are saved within seconds, so this only needs to cover that gap.
LOG_HISTORY = 10_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class Fenced(BrokerError):
    """This replica may no longer write the document's journal (another owner took over)."""


class Cluster:
    def __init__(self, broker: Broker, instance_id: str, owner_ttl: float) -> None:
        self.broker = broker
        self.instance_id = instance_id
        self.owner_ttl = owner_ttl
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._handler: Callable[[dict[str, Any]], Awaitable[None]] = _ignore
        self._on_relay: Callable[[bool], Awaitable[None]] | None = None
        self._closing = False
        #: False while the inbox subscription is lost (this replica cannot relay).
        self.relaying = False
        self.retry_delay = 0.2
        #: The journal epoch this replica writes in, per document it opened.
        self.epochs: dict[str, str] = {}

    # -- ownership -----------------------------------------------------------------------------
    @staticmethod
    def owner_key(document_id: str) -> str:
        return f"collab:owner:{document_id}"

    async def owner_of(self, document_id: str) -> str | None:
        raw = await self.broker.kv_get(self.owner_key(document_id))
        return raw.decode() if raw is not None else None

    async def claim(self, document_id: str) -> str:
        """The owner after trying to claim the document (this replica if it was free)."""
        me = self.instance_id.encode()
        if await self.broker.kv_set_if_absent(self.owner_key(document_id), me, ttl=self.owner_ttl):
            return self.instance_id
        owner = await self.owner_of(document_id)
        if owner is None:  # expired between the two calls: try once more
            return await self.claim(document_id)
        return owner

    async def renew(self, document_id: str) -> bool:
        me = self.instance_id.encode()
        return await self.broker.kv_compare_and_set(self.owner_key(document_id), me, me, ttl=self.owner_ttl)

    async def release(self, document_id: str) -> None:
        await self.broker.kv_compare_and_delete(self.owner_key(document_id), self.instance_id.encode())

    # -- the journal -----------------------------------------------------------------------------
    # Fencing: `collab:head:{doc}` holds "version:epoch", the last committed version and the
    # epoch of the owner that committed it. An owner opening the document claims a fresh epoch
    # (compare-and-set from the head it loaded) and publishes a marker; each batch is published
    # and then committed by moving the head from its first version - 1 to its last, in the same
    # epoch. A replica that lost the document without noticing (its claim expired while its
    # event loop stalled) can still publish, but its compare-and-set fails, so it never
    # acknowledges; readers drop what a later marker superseded and entries of other epochs.
    @staticmethod
    def head_key(document_id: str) -> str:
        return f"collab:head:{document_id}"

    async def journal(self, document_id: str, applied: list[Applied]) -> None:
        """Append and commit; raises Fenced (nothing acknowledged) when another owner took over."""
        epoch = self.epochs.get(document_id)
        if epoch is None or not applied:
            raise Fenced(f"document {document_id} is not open here")
        data = {"epoch": epoch, "ops": [applied_to_json(a) for a in applied]}
        await self.broker.publish(
            f"collab:log:{document_id}", json.dumps(data).encode(), history_size=LOG_HISTORY
        )
        before = f"{applied[0].version - 1}:{epoch}".encode()
        after = f"{applied[-1].version}:{epoch}".encode()
        if not await self.broker.kv_compare_and_set(self.head_key(document_id), before, after):
            self.epochs.pop(document_id, None)
            raise Fenced(f"another replica took document {document_id} over")

    async def open_tail(self, document_id: str, version: int) -> list[Applied]:
        """The committed journal after `version` (the saved snapshot's), and a fresh epoch for
        this replica's writes, claimed against the head this load is based on."""
        key = self.head_key(document_id)
        raw = await self.broker.kv_get(key)
        tail = await self.journal_since(document_id, version)
        loaded = tail[-1].version if tail else version
        if raw is not None and int(raw.split(b":", 1)[0]) > loaded:
            # committed entries we could not read (trimmed, or still on their way): not safe
            raise BrokerUnavailable(f"the journal of {document_id} is behind its head; retry")
        epoch = uuid.uuid4().hex[:12]
        value = f"{loaded}:{epoch}".encode()
        if raw is None:
            claimed = await self.broker.kv_set_if_absent(key, value)
        else:
            claimed = await self.broker.kv_compare_and_set(key, raw, value)
        if not claimed:
            raise BrokerUnavailable(f"document {document_id} was written meanwhile; retry")
        marker = {"marker": epoch, "from": loaded}
        await self.broker.publish(
            f"collab:log:{document_id}", json.dumps(marker).encode(), history_size=LOG_HISTORY
        )
        self.epochs[document_id] = epoch
        return tail

    async def journal_since(self, document_id: str, version: int) -> list[Applied]:
        result = await self.broker.history(f"collab:log:{document_id}")
        chain: list[Applied] = []
        epoch: str | None = None
        for pub in result.publications:
            item = json.loads(pub.data)
            if isinstance(item, dict) and "marker" in item:
                # a new owner took over at `from`: whatever an old one published later is void
                epoch, start = str(item["marker"]), int(item["from"])
                chain = [a for a in chain if a.version <= start]
                if chain and chain[-1].version != start:
                    chain = []  # the new owner started from a snapshot past what we kept
                continue
            if isinstance(item, dict):
                if epoch is not None and item.get("epoch") != epoch:
                    continue
                entries = item["ops"]
            else:
                entries = item  # written before epochs existed
            for raw in entries:
                a = applied_from_json(raw)
                if not chain or a.version == chain[-1].version + 1:
                    chain.append(a)
        return [a for a in chain if a.version > version]

    async def still_writer(self, document_id: str) -> bool:
        """True while the journal head is in this replica's epoch (a snapshot may be saved)."""
        epoch = self.epochs.get(document_id)
        raw = await self.broker.kv_get(self.head_key(document_id))
        return epoch is not None and raw is not None and raw.split(b":", 1)[1].decode() == epoch

    # -- forwarding ------------------------------------------------------------------------------------
    async def send(self, instance_id: str, message: dict[str, Any]) -> None:
        await self.broker.publish(f"collab:to:{instance_id}", json.dumps(message).encode(), history_size=0)

    async def start(
        self,
        handler: Callable[[dict[str, Any]], Awaitable[None]],
        on_relay: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        """Receive this replica's inbox; after the subscription is lost (Redis restarted or
        unreachable) it is made again, and `on_relay(False)` / `on_relay(True)` report the gap
        (messages sent to us meanwhile are gone: the service ends the streams that relied on them)."""
        self._handler = handler
        self._on_relay = on_relay
        self._sub = await self._subscribe()
        self.relaying = True
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="collab-inbox")

    async def _subscribe(self) -> Subscription:
        sub = self.broker.subscribe(maxsize=100_000, max_bytes=256 * 1024 * 1024)
        try:
            await sub.add(f"collab:to:{self.instance_id}")
        except BaseException:
            await sub.close()
            raise
        return sub

    async def _pump(self) -> None:
        while True:
            sub = self._sub
            assert sub is not None
            async for pub in sub:
                try:
                    await self._handler(json.loads(pub.data))
                except Exception:
                    log.exception("collaboration: forwarded message failed")
            if self._closing:
                return
            log.warning("collaboration inbox closed (%s); subscribing again", sub.closed_reason)
            self.relaying = False
            if self._on_relay is not None:
                await self._on_relay(False)
            while True:
                await asyncio.sleep(self.retry_delay)
                try:
                    self._sub = await self._subscribe()
                    break
                except BrokerError:
                    continue
            self.relaying = True
            log.warning("collaboration inbox subscribed again")
            if self._on_relay is not None:
                await self._on_relay(True)

    async def close(self) -> None:
        self._closing = True
        if self._sub is not None:
            await self._sub.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _ignore(message: dict[str, Any]) -> None:
    return None
