"""Settings of the text service: `REALTIME_TEXT_*` variables or `Settings.extra` (the one pattern
every service shares, `platform.service_config`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..platform.service_config import load_service_config

SECTION = "text"


@dataclass(frozen=True)
class TextConfig:
    #: Worker processes for big FixTextBatch requests (REALTIME_TEXT_BATCH_WORKERS); None: one per
    #: core beside the event loop's, at most 2 (1 on a 2-core machine, where a second worker
    #: measured no faster); 0 keeps every batch on threads.
    batch_workers: int | None = None
    #: Documents one user may have open across all their Session streams in this process
    #: (REALTIME_TEXT_MAX_DOCUMENTS_PER_USER); beyond: RESOURCE_EXHAUSTED TOO_MANY_DOCUMENTS with
    #: QuotaFailure. 0 disables the bound.
    max_documents_per_user: int = 32
    #: FixText / FixTextBatch calls one user may have queued or running on the thread pool at once
    #: (REALTIME_TEXT_MAX_IN_FLIGHT_PER_USER); beyond: RESOURCE_EXHAUSTED TOO_MANY_IN_FLIGHT with
    #: QuotaFailure and RetryInfo. 0 disables the bound.
    max_in_flight_per_user: int = 4
    #: Calls waiting for a pool thread, all users together (REALTIME_TEXT_MAX_QUEUED); beyond:
    #: RESOURCE_EXHAUSTED OVERLOADED with RetryInfo. 0 disables the bound.
    max_queued: int = 64

    def __post_init__(self) -> None:
        if self.batch_workers is not None and self.batch_workers < 0:
            raise ValueError(f"batch_workers={self.batch_workers}: must be 0 or more")
        for name in ("max_documents_per_user", "max_in_flight_per_user", "max_queued"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: must be 0 or more")

    @property
    def workers(self) -> int:
        """`batch_workers`, with None resolved for this machine."""
        if self.batch_workers is None:
            return max(1, min(2, (os.cpu_count() or 1) - 1))
        return self.batch_workers

    @classmethod
    def load(
        cls, extra: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> TextConfig:
        return load_service_config(cls, SECTION, extra, environ)
