"""Leases: temporary, renewable claims on an element (and its subtree).

A lease is held by one session, renewed whenever the holder sends anything
(`renew_session`), released on leave or disconnect, and expires `ttl` seconds
after the last renewal. The document owner may break it. While a lease is
held, other sessions' operations on the element or its descendants are
refused (LEASED_BY_OTHER, with the holder's name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class Lease:
    element_id: str
    session_id: str
    user_id: str
    holder_name: str
    expires_at: float


class LeaseTable:
    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        if ttl <= 0:
            raise ValueError("lease ttl must be positive")
        self.ttl = ttl
        self.clock = clock
        self.by_element: dict[str, Lease] = {}

    def conflict(self, subtree: Callable[[str], bool], chain: Iterable[str], session_id: str) -> Lease | None:
        """A lease held by another session on `chain` (the element and its ancestors) or,
        when `subtree(element)` says an element lies under the requested one, below it."""
        for element_id in chain:
            lease = self.by_element.get(element_id)
            if lease is not None and lease.session_id != session_id:
                return lease
        for lease in self.by_element.values():
            if lease.session_id != session_id and subtree(lease.element_id):
                return lease
        return None

    def holding(self, chain: Iterable[str], session_id: str) -> Lease | None:
        """The lease of another session on the element or one of its ancestors (for operations)."""
        for element_id in chain:
            lease = self.by_element.get(element_id)
            if lease is not None and lease.session_id != session_id:
                return lease
        return None

    def grant(self, element_id: str, session_id: str, user_id: str, holder_name: str) -> Lease:
        lease = Lease(element_id, session_id, user_id, holder_name, self.clock() + self.ttl)
        self.by_element[element_id] = lease
        return lease

    def renew_session(self, session_id: str) -> None:
        until = self.clock() + self.ttl
        for lease in self.by_element.values():
            if lease.session_id == session_id:
                lease.expires_at = until

    def release(self, element_id: str) -> Lease | None:
        return self.by_element.pop(element_id, None)

    def release_session(self, session_id: str) -> list[Lease]:
        gone = [lease for lease in self.by_element.values() if lease.session_id == session_id]
        for lease in gone:
            del self.by_element[lease.element_id]
        return gone

    def expire(self) -> list[Lease]:
        now = self.clock()
        gone = [lease for lease in self.by_element.values() if lease.expires_at <= now]
        for lease in gone:
            del self.by_element[lease.element_id]
        return gone

    def all(self) -> list[Lease]:
        return list(self.by_element.values())
