"""Collaboration settings: from the hub's `Settings.extra` (`extra["collab"]` or "collab_*" keys),
then REALTIME_COLLAB_* environment variables, then defaults (`platform.service_config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..platform.service_config import load_service_config


@dataclass(frozen=True)
class CollabConfig:
    #: Seconds a lease lives without renewal (any command or ping of its holder renews it).
    lease_ttl: float = 30.0
    #: Seconds a participant's presence lives without a command or ping.
    presence_ttl: float = 30.0
    #: Cursor updates per second one participant's cursor may reach each other participant.
    cursor_rate: float = 20.0
    #: Concurrent joined sessions per user (the seed's 5 connections per user).
    max_sessions_per_user: int = 5
    #: Participants per document.
    max_participants: int = 50
    #: Events queued for one session before it is cut off as a slow consumer.
    max_queued_events: int = 1000
    #: Operations per `op` command.
    max_batch: int = 200
    #: Operations kept in memory per document for replay and rebasing.
    log_limit: int = 1000
    #: Operations kept after a compaction.
    log_keep: int = 500
    #: Snapshot save debounce: seconds of quiet before saving ...
    save_debounce: float = 2.0
    #: ... but never later than this many seconds after the first unsaved change.
    save_max_wait: float = 10.0
    #: Seconds between expiry sweeps (leases, presence).
    sweep_interval: float = 1.0
    #: Seconds a replica's claim on a document lives without renewal (several replicas).
    owner_ttl: float = 5.0
    #: Documents one user may own.
    max_documents_per_user: int = 1000
    #: Code points one text edit may insert.
    max_insert_length: int = 64 * 1024

    @classmethod
    def load(cls, extra: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> CollabConfig:
        return load_service_config(cls, "collab", extra, environ)
