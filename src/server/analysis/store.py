"""The job store: jobs, inputs, results, the queue, leases and indexes as keys of a `Backend`.

Keys (all prefixed `analysis:`):

    job:{id}              the Job as JSON (TTL: result retention once done)
    input:{id}            the input bytes
    artifacts:{id}        result artifacts (JSON with base64 data)
    lease:{id}            who runs the job; TTL = lease time, renewed by heartbeat
    req:{owner}:{rid}     request_id -> job id + payload fingerprint (AIP-155)
    queue                 {"seq": n, "entries": [...], "running": {...}, "reported": {...}}
                          (compare-and-set; "reported": ReportProgress jobs -> next idle check)
    index:{owner}         the owner's job ids, newest last (bounded)
    index                 every job id, newest last (bounded; admins' listing)

Every read-modify-write goes through compare-and-set, so any number of replicas
may share one backend without a lock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

from ..platform.errors import unavailable
from .backend import Backend
from .model import Job
from .queue import Entry, Running

T = TypeVar("T")
P = "analysis:"
CAS_ATTEMPTS = 200
INDEX_LIMIT = 5000


class QueueDoc:
    """The shared queue document: waiting entries and started jobs."""

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        raw = raw or {}
        self.seq: int = int(raw.get("seq", 0))
        self.entries: list[Entry] = [Entry(**e) for e in raw.get("entries", ())]
        self.running: dict[str, Running] = {k: Running(**v) for k, v in raw.get("running", {}).items()}
        # Jobs run elsewhere (ReportProgress) -> when to check that their worker still reports.
        self.reported: dict[str, float] = {k: float(v) for k, v in raw.get("reported", {}).items()}

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "seq": self.seq,
                "entries": [e.to_dict() for e in self.entries],
                "running": {k: v.to_dict() for k, v in self.running.items()},
                "reported": self.reported,
            },
            separators=(",", ":"),
        ).encode()

    def remove(self, job_id: str) -> Entry | None:
        for i, e in enumerate(self.entries):
            if e.job_id == job_id:
                return self.entries.pop(i)
        return None


class JobStore:
    def __init__(self, backend: Backend, retention: float) -> None:
        self.backend = backend
        self.retention = retention

    # -- compare-and-set helper ---------------------------------------------------
    async def _update(
        self, key: str, fn: Callable[[bytes | None], tuple[bytes | None, T]], ttl: float | None
    ) -> T:
        """Apply `fn(current) -> (new or None to keep, out)` atomically; retry on conflicts."""
        b = self.backend
        for _ in range(CAS_ATTEMPTS):
            current = await b.kv_get(key)
            new, out = fn(current)
            if new is None or new == current:
                return out
            if current is None:
                ok = await b.kv_set_if_absent(key, new, ttl=ttl)
            else:
                ok = await b.kv_compare_and_set(key, current, new, ttl=ttl)
            if ok:
                return out
        raise unavailable("analysis store is too contended; retry", retry_after=0.5)

    # -- jobs -------------------------------------------------------------------------
    async def load(self, job_id: str) -> Job | None:
        raw = await self.backend.kv_get(P + "job:" + job_id)
        return None if raw is None else Job.from_json(raw)

    def _ttl(self, job: Job) -> float | None:
        return self.retention if job.done else None

    async def create(self, job: Job, data: bytes) -> None:
        if data:
            await self.backend.kv_set(P + "input:" + job.id, data, ttl=None)
        job.version = 1
        await self.backend.kv_set(P + "job:" + job.id, job.to_json(), ttl=None)
        job_id = job.id

        def add(current: bytes | None) -> tuple[bytes | None, None]:
            return _index_add(current, job_id), None

        for key in (P + "index:" + job.owner, P + "index"):
            await self._update(key, add, None)

    async def update(self, job_id: str, fn: Callable[[Job], T]) -> tuple[Job | None, T | None]:
        """Apply `fn` to the stored job (it may raise to refuse); returns (job after, fn's result).

        `fn` returning the special value `UNCHANGED` leaves the job as is.
        """
        key = P + "job:" + job_id
        holder: dict[str, Any] = {}

        def step(current: bytes | None) -> tuple[bytes | None, None]:
            if current is None:
                holder["job"], holder["out"] = None, None
                return None, None
            job = Job.from_json(current)
            out = fn(job)
            holder["job"], holder["out"] = job, out
            if out is UNCHANGED:
                return None, None
            job.version += 1
            return job.to_json(), None

        b = self.backend
        for _ in range(CAS_ATTEMPTS):
            current = await b.kv_get(key)
            new, _ = step(current)
            if new is None:
                out = holder["out"]
                return holder["job"], None if out is UNCHANGED else out
            job = holder["job"]
            if await b.kv_compare_and_set(key, current or b"", new, ttl=self._ttl(job)):
                if job.done:
                    await self._expire_satellites(job)
                return job, holder["out"]
        raise unavailable("analysis store is too contended; retry", retry_after=0.5)

    async def _expire_satellites(self, job: Job) -> None:
        # Inputs are not needed once a job is done; artifacts live as long as the job.
        await self.backend.kv_delete(P + "input:" + job.id)

    async def delete(self, job: Job) -> None:
        for key in ("job:", "input:", "artifacts:", "lease:"):
            await self.backend.kv_delete(P + key + job.id)
        if job.request_id:  # only when it stands for this job (not for the first of two retries)
            key = P + f"req:{job.owner}:{job.request_id}"
            await self.backend.kv_compare_and_delete(key, _binding(job.id, job.fingerprint))
        job_id = job.id

        def remove(current: bytes | None) -> tuple[bytes | None, None]:
            return _index_remove(current, job_id), None

        for key in (P + "index:" + job.owner, P + "index"):
            await self._update(key, remove, None)

    async def input(self, job_id: str) -> bytes:
        return await self.backend.kv_get(P + "input:" + job_id) or b""

    async def save_artifacts(self, job_id: str, artifacts: list[tuple[str, str, bytes]]) -> None:
        if not artifacts:
            return
        doc = [
            {"name": n, "content_type": ct, "data": base64.b64encode(d).decode()} for n, ct, d in artifacts
        ]
        await self.backend.kv_set(P + "artifacts:" + job_id, json.dumps(doc).encode(), ttl=self.retention)

    async def artifacts(self, job_id: str) -> list[tuple[str, str, bytes]]:
        raw = await self.backend.kv_get(P + "artifacts:" + job_id)
        if raw is None:
            return []
        return [(a["name"], a["content_type"], base64.b64decode(a["data"])) for a in json.loads(raw)]

    async def trim_owner(self, owner: str, keep: int) -> int:
        """Delete `owner`'s oldest finished jobs beyond the newest `keep` (0: keep all), so what
        one user stores is bounded however fast their jobs finish. Jobs still queued or running
        are never deleted. Returns how many were deleted."""
        ids = await self.index(owner)
        excess = len(ids) - keep if keep > 0 else 0
        deleted = 0
        for job_id in ids:  # oldest first
            if excess <= 0:
                break
            job = await self.load(job_id)
            if job is None:  # expired: only its index entry is left
                await self._update(P + "index:" + owner, _remover(job_id), None)
            elif job.done:
                await self.delete(job)
                deleted += 1
            else:
                continue
            excess -= 1
        return deleted

    async def index(self, owner: str | None) -> list[str]:
        raw = await self.backend.kv_get(P + "index" + ("" if owner is None else ":" + owner))
        return [] if raw is None else list(json.loads(raw))

    # -- idempotency --------------------------------------------------------------------
    async def bound_job(self, owner: str, request_id: str) -> Job | None:
        """The stored job `request_id` stands for, if any."""
        raw = await self.backend.kv_get(P + f"req:{owner}:{request_id}")
        return None if raw is None else await self.load(json.loads(raw)["job"])

    async def bind_request_id(self, owner: str, request_id: str, job: Job) -> Job | None:
        """Bind `request_id` to `job`, which must be stored already (`create`), unless it stands
        for another job that still exists: then that job is returned and the caller drops its own.

        Because a request id only ever points at a stored job, a retry that arrives while the
        first call is still in flight finds the first job instead of taking it for expired."""
        key = P + f"req:{owner}:{request_id}"
        mine = _binding(job.id, job.fingerprint)
        for _ in range(CAS_ATTEMPTS):
            if await self.backend.kv_set_if_absent(key, mine, ttl=self.retention):
                return None
            raw = await self.backend.kv_get(key)
            if raw is None:
                continue  # expired in between: try to take it again
            existing = await self.load(json.loads(raw)["job"])
            if existing is not None:
                return existing
            # Its job was deleted or expired (or refused at enqueue): the request id is free again.
            if await self.backend.kv_compare_and_set(key, raw, mine, ttl=self.retention):
                return None
        raise unavailable("analysis store is too contended; retry", retry_after=0.5)

    # -- queue --------------------------------------------------------------------------
    async def queue(self) -> QueueDoc:
        raw = await self.backend.kv_get(P + "queue")
        return QueueDoc(None if raw is None else json.loads(raw))

    async def update_queue(self, fn: Callable[[QueueDoc], T]) -> T:
        """Apply `fn` to the queue document atomically; `fn` returning UNCHANGED writes nothing."""

        def step(current: bytes | None) -> tuple[bytes | None, T]:
            doc = QueueDoc(None if current is None else json.loads(current))
            out = fn(doc)
            if out is UNCHANGED:
                return None, out
            return doc.to_json(), out

        return await self._update(P + "queue", step, None)

    # -- leases --------------------------------------------------------------------------
    async def acquire_lease(self, job_id: str, holder: str, ttl: float) -> bool:
        return await self.backend.kv_set_if_absent(P + "lease:" + job_id, holder.encode(), ttl=ttl)

    async def renew_lease(self, job_id: str, holder: str, ttl: float) -> bool:
        h = holder.encode()
        return await self.backend.kv_compare_and_set(P + "lease:" + job_id, h, h, ttl=ttl)

    async def release_lease(self, job_id: str, holder: str | None = None) -> None:
        if holder is None:
            await self.backend.kv_delete(P + "lease:" + job_id)
        else:
            await self.backend.kv_compare_and_delete(P + "lease:" + job_id, holder.encode())

    async def lease_holder(self, job_id: str) -> str | None:
        raw = await self.backend.kv_get(P + "lease:" + job_id)
        return None if raw is None else raw.decode()


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: Returned by an update function to write nothing.
UNCHANGED: Any = _Unchanged()


def _binding(job_id: str, fingerprint: str) -> bytes:
    return json.dumps({"job": job_id, "fp": fingerprint}).encode()


def _index_add(current: bytes | None, job_id: str) -> bytes:
    ids: list[str] = [] if current is None else json.loads(current)
    ids.append(job_id)
    return json.dumps(ids[-INDEX_LIMIT:]).encode()


def _remover(job_id: str) -> Callable[[bytes | None], tuple[bytes | None, None]]:
    def remove(current: bytes | None) -> tuple[bytes | None, None]:
        return _index_remove(current, job_id), None

    return remove


def _index_remove(current: bytes | None, job_id: str) -> bytes | None:
    if current is None:
        return None
    ids: list[str] = json.loads(current)
    if job_id not in ids:
        return None
    ids.remove(job_id)
    return json.dumps(ids).encode()
