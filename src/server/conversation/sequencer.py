"""Audio sequence numbers: drop duplicates, fix small reorders, report gaps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SequenceResult:
    ready: list[bytes] = field(default_factory=list)  # chunks to process now, in order
    duplicate: bool = False
    reordered: bool = False  # this chunk was late and released chunks held behind it
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (first missing, last missing)


class Sequencer:
    """Chunks are numbered from the first one seen. A chunk ahead of the next expected one
    waits (up to `window` chunks); when the window is full the missing numbers are declared
    a gap and skipped; a late chunk from a declared gap counts as a duplicate."""

    def __init__(self, window: int = 8) -> None:
        self.window = max(0, window)
        self.expected: int | None = None
        self._held: dict[int, bytes] = {}
        self.duplicates = 0
        self.reorders = 0
        self.gap_chunks = 0

    def push(self, seq: int, data: bytes) -> SequenceResult:
        result = SequenceResult()
        if self.expected is None:
            self.expected = seq
        if seq < self.expected or seq in self._held:
            self.duplicates += 1
            result.duplicate = True
            return result
        if seq > self.expected:
            self._held[seq] = data
            if len(self._held) > self.window:
                first = self.expected
                last = min(self._held) - 1
                result.gaps.append((first, last))
                self.gap_chunks += last - first + 1
                self.expected = last + 1
                self._drain(result)
            return result
        if self._held:  # the late chunk arrived: what waited behind it goes out in order
            result.reordered = True
            self.reorders += 1
        result.ready.append(data)
        self.expected += 1
        self._drain(result)
        return result

    def _drain(self, result: SequenceResult) -> None:
        assert self.expected is not None
        while self.expected in self._held:
            result.ready.append(self._held.pop(self.expected))
            self.expected += 1

    def flush(self) -> SequenceResult:
        """End of audio: whatever is held goes out, skipping the missing numbers."""
        result = SequenceResult()
        while self._held:
            assert self.expected is not None
            nxt = min(self._held)
            if nxt > self.expected:
                result.gaps.append((self.expected, nxt - 1))
                self.gap_chunks += nxt - self.expected
                self.expected = nxt
            self._drain(result)
        return result
