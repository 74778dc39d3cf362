"""Real-time pace checks: audio faster than `factor` x real time is slowed down, and
long stretches without audio end the conversation."""

from __future__ import annotations

from collections.abc import Callable


class AudioPacer:
    """Audio time received vs. wall time since the first chunk.

    A client may run `burst_ms` ahead plus `factor` x the elapsed time; `delay_for` says how
    long to wait before reading more so it falls back within that budget.
    """

    def __init__(self, factor: float, burst_ms: float, clock: Callable[[], float]) -> None:
        self.factor = factor
        self.burst_ms = burst_ms
        self._clock = clock
        self._started: float | None = None
        self.audio_ms = 0.0

    def add(self, ms: float) -> float:
        """Count `ms` of audio; return the seconds to wait (0 when within the budget)."""
        now = self._clock()
        if self._started is None:
            self._started = now
        self.audio_ms += ms
        if self.factor <= 0:
            return 0.0
        allowed = self.burst_ms + (now - self._started) * 1000 * self.factor
        excess = self.audio_ms - allowed
        return excess / 1000 / self.factor if excess > 0 else 0.0


class IdleTimer:
    """Seconds since the last activity, against a limit."""

    def __init__(self, timeout_s: float, clock: Callable[[], float]) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._last = clock()

    def touch(self) -> None:
        self._last = self._clock()

    def remaining(self) -> float:
        return self.timeout_s - (self._clock() - self._last)

    def expired(self) -> bool:
        return self.remaining() <= 0
