"""Retry policies: how often a failed job runs again, after how long, and for which errors.

Each analyzer has a `retry` policy (the default below unless it sets its own).
When an attempt ends with an error whose code the policy retries and attempts
remain, the job goes back to the queue (state QUEUED, same place in line) with
`next_retry` = now + backoff; the queue does not start it before then. The
backoff grows exponentially per attempt with random jitter, so jobs that failed
together do not all come back at once. A job out of attempts ends FAILED with
the last error: the dead-letter view is `ListOperations` with `state=FAILED`.

Errors that say the input or the request is wrong (INVALID_ARGUMENT,
FAILED_PRECONDITION, PERMISSION_DENIED, ...) and cancellation never retry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..platform.errors import Code

#: Errors that may pass on a second try: a dependency was down, a run was too slow or crashed.
TRANSIENT = frozenset({Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.ABORTED, Code.INTERNAL})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` runs in all (1 = never retry); backoff `initial` x `multiplier`^(n-1) seconds,
    at most `maximum`, each scaled by a random factor within 1 +/- `jitter`."""

    attempts: int = 3
    initial: float = 1.0
    multiplier: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.2
    retry_on: frozenset[Code] = TRANSIENT

    def retries(self, code: int, attempt: int) -> bool:
        """Whether an attempt (1-based) that failed with `code` is followed by another."""
        return attempt < self.attempts and code in self.retry_on

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        base = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        return max(0.0, base * (1.0 + self.jitter * rng.uniform(-1.0, 1.0)))


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)
