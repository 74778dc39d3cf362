"""One Session stream's documents: versioned edits, debounce, cancellation of stale work.

Modelled on LSP text sync. Per document:

- every edit carries a higher version; a result is computed only after the
  document has been quiet for its debounce (500 ms by default), so a burst of
  keystrokes costs one computation, and the versions skipped are reported in a
  `Superseded` event (reason "debounced") so clients can count the savings;
- at most one computation runs and at most one is pending; an edit that
  arrives while a computation runs makes it stale: it is told to stop (the
  fixer polls a flag) and reported as superseded (reason "cancelled");
- a result is never sent for a version older than one already answered;
- a word is fixed as soon as it is complete: an edit that types a space or a
  punctuation mark after a word that may be on the wrong layout computes at
  once, without the debounce (a word that cannot change waits with the rest);
- the word being typed (a keystroke's word, at the caret) is never changed by
  results computed while typing, the debounced one included: "aku" does not flip
  to "שלו" on the way to "akuo". Once typing has stopped for HOLD_RELEASE after
  such a result, the held word is fixed too; flush, half-close and a prefilled
  open fix every word at once;
- the texts of documents closed on the stream (the messages sent) are the
  context of later short texts (`FixOptions.context` works the same way).

Time comes from an injectable clock (tests use `ManualClock`); computations go
through an injectable runner (the service runs large texts in a thread pool).
Events leave through `emit`; the service turns them into protobuf messages.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

from ..platform.errors import Code, HubError, invalid_argument, resource_exhausted
from .clock import Clock, LoopClock, Timer
from .documents import WORD_END, Change, apply_changes, caret_of, word_at, word_before
from .fairness import UserDocuments
from .fixer import (
    ALL_OPERATIONS,
    MAX_CONTEXT,
    MAX_CONTEXT_CHARS,
    FixResult,
    Operation,
    TextFixer,
    check_context,
    check_hints,
    check_text,
)
from .layout import Cancelled

log = logging.getLogger("realtime.text")

DEFAULT_DEBOUNCE = 0.5  # seconds; the seed's figure
MAX_DEBOUNCE = 10.0
MAX_DOCUMENTS = 16  # open documents per stream (a page with several fields)
MAX_DOCUMENT_ID = 128
HOLD_RELEASE = 1.0  # seconds after a result that held the word being typed: then it is fixed too
RECENT_MESSAGES = 5  # texts of closed documents kept as context for later short texts


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Configured:
    command_id: str
    debounce: float


@dataclass(frozen=True, slots=True)
class Opened:
    command_id: str
    document_id: str
    version: int
    debounce: float


@dataclass(frozen=True, slots=True)
class Result:
    command_id: str
    document_id: str
    version: int
    fix: FixResult


@dataclass(frozen=True, slots=True)
class Superseded:
    document_id: str
    versions: tuple[int, ...]
    reason: str  # "debounced" or "cancelled"
    command_id: str = ""


@dataclass(frozen=True, slots=True)
class Closed:
    command_id: str
    document_id: str


@dataclass(frozen=True, slots=True)
class Failed:
    command_id: str
    error: HubError


Event = Configured | Opened | Result | Superseded | Closed | Failed
Runner = Callable[[Callable[[], FixResult], int], Awaitable[FixResult]]


async def run_inline(work: Callable[[], FixResult], size: int) -> FixResult:
    return work()


@dataclass
class SessionStats:
    edits: int = 0
    computations: int = 0
    results: int = 0
    debounced_versions: int = 0
    cancelled_versions: int = 0


@dataclass(eq=False)
class _Document:
    id: str
    text: str
    version: int
    operations: frozenset[Operation]
    hints: tuple[str, ...]
    debounce: float
    context: tuple[str, ...] = ()
    hold: tuple[int, int] | None = None  # the word being typed in the current version
    release: Timer | None = None  # fixes the held word once typing has stopped for HOLD_RELEASE
    answered: int = -1
    answered_held: bool = False  # the answer for `answered` held back a word: a flush re-answers it
    last_result: Result | None = None
    pending: bool = False  # the current version has not started computing
    skipped: list[int] = field(default_factory=list)  # versions since the last computation started
    trigger: str = ""  # command id the next result answers
    timer: Timer | None = None
    due: bool = False  # the debounce ended while a computation was still running
    running: asyncio.Task[None] | None = None
    running_version: int = -1
    stop: threading.Event | None = None
    closed: bool = False


class TextSession:
    """The documents of one stream. Call its methods from the event loop only."""

    def __init__(
        self,
        emit: Callable[[Event], None],
        fixer: TextFixer,
        *,
        clock: Clock | None = None,
        runner: Runner = run_inline,
        debounce: float = DEFAULT_DEBOUNCE,
        max_documents: int = MAX_DOCUMENTS,
        user: str = "",
        user_documents: UserDocuments | None = None,
    ) -> None:
        self._emit = emit
        self._user = user
        self._user_documents = user_documents
        self._fixer = fixer
        self._clock = clock or LoopClock()
        self._runner = runner
        self.debounce = debounce
        self._max_documents = max_documents
        self._docs: dict[str, _Document] = {}
        self.stats = SessionStats()
        self._closed = False
        self._recent: deque[str] = deque(maxlen=RECENT_MESSAGES)

    # --- commands ---------------------------------------------------------------------

    def configure(self, command_id: str, debounce: float | None) -> None:
        if debounce is not None:
            self.debounce = _check_debounce(debounce, "configure.debounce")
        self._emit(Configured(command_id, self.debounce))

    def open(
        self,
        command_id: str,
        document_id: str,
        *,
        operations: Collection[Operation] = (),
        hints: Sequence[str] = (),
        debounce: float | None = None,
        text: str = "",
        version: int = 0,
        context: Sequence[str] = (),
    ) -> None:
        if not document_id or len(document_id) > MAX_DOCUMENT_ID:
            raise invalid_argument(
                "bad document id", [("open.document_id", f"1 to {MAX_DOCUMENT_ID} characters")]
            )
        if document_id in self._docs:
            raise invalid_argument(
                f"document {document_id!r} is already open",
                [("open.document_id", "already open on this stream; close it first")],
                reason="DOCUMENT_ALREADY_OPEN",
            )
        if len(self._docs) >= self._max_documents:
            raise resource_exhausted(f"at most {self._max_documents} documents may be open on one stream")
        if version < 0:
            raise invalid_argument("negative version", [("open.version", "must be >= 0")])
        check_text(text, "open.text", allow_empty=True)
        checked_hints = check_hints(hints, "open.options.language_hints")
        checked_context = check_context(context, "open.options.context")
        wait = self.debounce if debounce is None else _check_debounce(debounce, "open.debounce")
        if self._user_documents is not None:
            self._user_documents.acquire(self._user)  # last: nothing below may fail
        doc = _Document(
            id=document_id,
            text=text,
            version=version,
            operations=frozenset(operations) or ALL_OPERATIONS,
            hints=checked_hints,
            context=checked_context,
            debounce=wait,
        )
        self._docs[document_id] = doc
        self._emit(Opened(command_id, document_id, version, doc.debounce))
        if text:
            # A prefilled field: nothing is being typed, so compute at once.
            doc.pending, doc.trigger = True, command_id
            self._start(doc)

    def edit(
        self,
        command_id: str,
        document_id: str,
        version: int,
        *,
        text: str | None = None,
        changes: Sequence[Change] | None = None,
    ) -> None:
        doc = self._document(document_id, "edit.document_id")
        if version <= doc.version:
            raise invalid_argument(
                f"version {version} is not after the document's version {doc.version}",
                [("edit.version", f"must be greater than {doc.version}")],
                reason="VERSION_OUT_OF_ORDER",
            )
        if text is not None:
            check_text(text, "edit.text", allow_empty=True)
            new_text = text
        elif changes is not None:
            new_text = apply_changes(doc.text, changes)
        else:
            raise invalid_argument("edit has no content", [("edit.content", "set text or changes")])
        self.stats.edits += 1
        self._cancel_release(doc)
        if changes is not None and len(changes) == 1:  # a keystroke: the change says where the caret is
            caret, inserted = changes[0].offset + len(changes[0].text), len(changes[0].text)
        else:
            caret, inserted = caret_of(doc.text, new_text)
        doc.text, doc.version, doc.trigger = new_text, version, command_id
        doc.hold = word_at(new_text, caret) if inserted <= 1 else None
        doc.pending = True
        doc.skipped.append(version)
        self._cancel_running(doc)
        if inserted and self._completed_word_may_change(doc, new_text, caret):
            # A word that may be on the wrong layout was just completed: fix it now.
            if doc.timer is not None:
                doc.timer.cancel()
                doc.timer = None
            if doc.running is not None:
                doc.due = True  # starts as soon as the stale computation has stopped
            else:
                self._start(doc)
        else:
            self._arm(doc, doc.debounce)

    def flush(self, command_id: str, document_id: str) -> None:
        doc = self._document(document_id, "flush.document_id")
        if doc.timer is not None:
            doc.timer.cancel()
            doc.timer = None
        self._cancel_release(doc)
        if doc.hold is not None:
            # Results of this version held back the word being typed; a flush fixes every word.
            doc.hold = None
            doc.pending = True
        if doc.pending or (doc.last_result is None and doc.running is None):
            doc.pending, doc.trigger = True, command_id
            if doc.running is not None:
                doc.due = True  # starts as soon as the stale computation has stopped
            else:
                self._start(doc)
        elif doc.running is not None:
            doc.trigger = command_id  # the running computation is current: its result answers the flush
        elif doc.last_result is not None:
            last = doc.last_result
            self._emit(Result(command_id, last.document_id, last.version, last.fix))

    def close(self, command_id: str, document_id: str) -> None:
        doc = self._document(document_id, "close.document_id")
        if doc.last_result is not None and doc.last_result.fix.text.strip():
            self._recent.append(doc.last_result.fix.text[-MAX_CONTEXT_CHARS:])
        self._drop(doc)
        self._emit(Closed(command_id, document_id))

    # --- lifetime ---------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Client half-closed: compute every pending document now and wait for the results."""
        for doc in list(self._docs.values()):
            if doc.pending:
                self.flush(doc.trigger, doc.id)
        async with asyncio.timeout(timeout):
            while True:
                tasks = [d.running for d in self._docs.values() if d.running is not None]
                if not tasks:
                    return
                await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stream ended: stop timers and computations, drop every document."""
        self._closed = True
        tasks = [d.running for d in self._docs.values() if d.running is not None]
        for doc in list(self._docs.values()):
            self._drop(doc)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def documents(self) -> int:
        return len(self._docs)

    # --- internals --------------------------------------------------------------------

    def _document(self, document_id: str, field_name: str) -> _Document:
        doc = self._docs.get(document_id)
        if doc is None:
            raise invalid_argument(
                f"document {document_id!r} is not open on this stream",
                [(field_name, "open the document first (it may have been closed)")],
                reason="DOCUMENT_NOT_OPEN",
            )
        return doc

    def _drop(self, doc: _Document) -> None:
        doc.closed = True
        if doc.timer is not None:
            doc.timer.cancel()
            doc.timer = None
        self._cancel_release(doc)
        if doc.stop is not None:
            doc.stop.set()
        if self._docs.get(doc.id) is doc:
            del self._docs[doc.id]
            if self._user_documents is not None:
                self._user_documents.release(self._user)

    def _completed_word_may_change(self, doc: _Document, text: str, caret: int) -> bool:
        """Whether the edit ended a word (a word-end character typed after it) that the layout
        fix may change. A word that cannot change ('the', 'שלום') waits for the debounce like the
        rest: computing at once would send a result that changes nothing new."""
        if caret < 2 or text[caret - 1] not in WORD_END or text[caret - 2] in WORD_END:
            return False
        if Operation.FIX_LAYOUT not in doc.operations:
            return False
        word = word_before(text, caret - 1 if text[caret - 1].isspace() else caret)
        return word is not None and self._may_change(word)

    def _may_change(self, word: str) -> bool:
        return bool(self._fixer.layout.token_info(word).choices)

    def _arm_release(self, doc: _Document, version: int, word: str) -> None:
        if self._may_change(word):  # the held word may be on the wrong layout: fix it if typing stops
            self._cancel_release(doc)
            doc.release = self._clock.call_later(HOLD_RELEASE, lambda: self._release(doc, version))

    def _cancel_release(self, doc: _Document) -> None:
        if doc.release is not None:
            doc.release.cancel()
            doc.release = None

    def _release(self, doc: _Document, version: int) -> None:
        """Typing stopped HOLD_RELEASE ago after a result that held a word back: fix that word too."""
        doc.release = None
        if doc.closed or doc.version != version or doc.hold is None:
            return
        doc.hold = None
        doc.pending = True
        if doc.running is not None:
            doc.due = True
        else:
            self._start(doc)

    def _arm(self, doc: _Document, delay: float) -> None:
        if doc.timer is not None:
            doc.timer.cancel()
        doc.timer = self._clock.call_later(delay, lambda: self._due(doc))

    def _due(self, doc: _Document) -> None:
        doc.timer = None
        if doc.closed or not doc.pending:
            return
        if doc.running is not None:
            doc.due = True
        else:
            self._start(doc)

    def _cancel_running(self, doc: _Document) -> None:
        if doc.running is not None and doc.stop is not None and not doc.stop.is_set():
            doc.stop.set()
            self.stats.cancelled_versions += 1
            self._emit(Superseded(doc.id, (doc.running_version,), "cancelled"))

    def _start(self, doc: _Document) -> None:
        version, text, trigger = doc.version, doc.text, doc.trigger
        hold = doc.hold
        context = (doc.context + tuple(self._recent))[-MAX_CONTEXT:]
        skipped = tuple(v for v in doc.skipped if v != version)
        doc.skipped.clear()
        doc.pending = doc.due = False
        if skipped:
            self.stats.debounced_versions += len(skipped)
            self._emit(Superseded(doc.id, skipped, "debounced"))
        stop = threading.Event()
        doc.stop, doc.running_version = stop, version
        self.stats.computations += 1
        doc.running = asyncio.get_running_loop().create_task(
            self._compute(doc, version, text, trigger, stop, hold, context), name=f"text-compute-{doc.id}"
        )

    async def _compute(
        self,
        doc: _Document,
        version: int,
        text: str,
        trigger: str,
        stop: threading.Event,
        hold: tuple[int, int] | None,
        context: tuple[str, ...],
    ) -> None:
        fix: FixResult | None = None
        try:
            fix = await self._runner(
                lambda: self._fixer.fix(text, doc.operations, doc.hints, stop.is_set, context, hold),
                len(text),
            )
        except Cancelled:
            pass
        except Exception:
            log.exception("text computation failed", extra={"document": doc.id})
            if not stop.is_set() and not doc.closed:
                self._emit(Failed(trigger, HubError(Code.INTERNAL, "computation failed; see the server log")))
        finally:
            doc.running = None
            doc.stop = None
        fresh = version > doc.answered or (version == doc.answered and doc.answered_held and hold is None)
        if fix is not None and not stop.is_set() and not doc.closed and fresh:
            doc.answered, doc.answered_held = version, hold is not None
            doc.last_result = Result(
                doc.trigger if doc.trigger and not doc.pending else trigger, doc.id, version, fix
            )
            self.stats.results += 1
            self._emit(doc.last_result)
            if hold is not None and version == doc.version and doc.hold == hold:
                self._arm_release(doc, version, text[hold[0] : hold[1]])
        if doc.due and doc.pending and not doc.closed and not self._closed:
            self._start(doc)


def _check_debounce(seconds: float, field_name: str) -> float:
    if not 0.0 <= seconds <= MAX_DEBOUNCE:
        raise invalid_argument(
            "debounce out of range", [(field_name, f"0 to {MAX_DEBOUNCE:g} seconds; got {seconds:g}")]
        )
    return seconds
