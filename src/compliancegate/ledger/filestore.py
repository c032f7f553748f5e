"""The file store: the ledger in a local folder (default ``.compliancegate/ledger``).

Concurrent writers on one machine take turns under an exclusive lock; each derives its
operation's records from the ledger as it finds it once it holds the lock. When the lock is
not granted in time, or the disk refuses the write, the operation is kept in ``pending/`` and
written by the next run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.clocks import Now, system_now
from compliancegate.ledger.files import LedgerFolder
from compliancegate.ledger.interface import (
    ChainError,
    CommitOutcome,
    LedgerError,
    LedgerUnavailable,
    Snapshot,
    VerifyReport,
)
from compliancegate.ledger.lock import DEFAULT_TIMEOUT
from compliancegate.ledger.operations import Operation
from compliancegate.ledger.pending import PendingQueue
from compliancegate.ledger.records import RecordKind
from compliancegate.ledger.state import StateBuilder

PENDING_DIR = "pending"


class FileStore:
    """A ledger folder on this machine."""

    def __init__(
        self,
        folder: Path,
        location: str | None = None,
        *,
        now: Now = system_now,
        lock_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """The ledger in ``folder``; ``now`` stamps the store's own records (recoveries)."""
        self.folder = folder
        self._location = location or str(folder)
        self._files = LedgerFolder(folder)
        self._queue = PendingQueue(folder / PENDING_DIR)
        self._now = now
        self._lock_timeout = lock_timeout

    @property
    def location(self) -> str:
        """The ``--ledger`` value."""
        return self._location

    def snapshot(self, now: dt.datetime) -> Snapshot:
        """The findings as of ``now``, pending operations included."""
        state = StateBuilder()
        head = self._files.load(state)
        queued = self._queue.load()
        if queued:
            build_batch(state, head.chain, (), [q.operation for q in queued])
        return Snapshot(state.freeze(now), self._location, pending=len(queued))

    def commit(self, operations: Sequence[Operation]) -> CommitOutcome:
        """Append the records of the pending operations, then of ``operations``."""
        try:
            queued = self._queue.load()
        except LedgerError:
            # One unreadable pending file must not cost this run its record: queue it too.
            self._queue.add(operations)
            raise
        try:
            with self._files.lock(timeout=self._lock_timeout):
                recovered = self._files.recover(self._now())
                state = StateBuilder()
                head = self._files.load(state)
                batch = build_batch(
                    state, head.chain, recovered, [q.operation for q in queued] + list(operations)
                )
                self._files.write(head, batch.linked)
        except (LedgerUnavailable, OSError) as exc:
            # A full disk or a read-only folder mid-append: the records wait in pending/.
            self._queue.add(operations)
            reason = exc.message if isinstance(exc, LedgerUnavailable) else str(exc)
            return CommitOutcome(
                stored=0,
                records=0,
                pending=len(queued) + len(operations),
                reason=reason,
            )
        except LedgerError:
            # A ledger that fails verification takes no new records; the operations wait
            # in pending/ until it is restored, rather than being lost.
            self._queue.add(operations)
            raise
        self._queue.remove(q.path for q in queued)
        return CommitOutcome(
            stored=batch.stored,
            records=len(batch.linked.records),
            pending=0,
            synced=len(queued),
            dropped=batch.dropped,
            recovered=tuple(
                str(r.data["file"]) for r in batch.linked.records if r.kind is RecordKind.RECOVERED
            ),
        )

    def _pending_problem(self, records: int) -> ChainError | None:
        """A pending file that cannot be read would hold back every later run: a failure."""
        try:
            self._queue.load()
        except LedgerError as exc:
            return ChainError(exc.message, seq=records, file=exc.file, hint=exc.hint)
        return None

    def verify(self) -> VerifyReport:
        """Check every record, the head and what follows it."""
        if not self._files.exists():
            if self.folder.is_dir() or self._queue.count():
                return VerifyReport(
                    self._location,
                    0,
                    "0" * 64,
                    self._pending_problem(0),
                    notes=("the ledger is empty",),
                )
            raise LedgerError(
                "there is no ledger here",
                file=str(self.folder),
                hint="check records runs here unless --no-ledger; or pass --ledger LOCATION",
            )
        state = StateBuilder()
        if os.access(self.folder, os.W_OK):
            # Shared with other readers, exclusive of writers: an append in progress would
            # otherwise look like bytes after the head.
            with self._files.lock(shared=True, timeout=self._lock_timeout):
                problem, notes = self._files.inspect(state)
        else:
            # A read-only copy (an auditor's) cannot be locked, and has no writers.
            problem, notes = self._files.inspect(state)
        problem = problem or self._pending_problem(state.records)
        pending = self._queue.count()
        if pending:
            notes.append(f"{pending} operation(s) pending in {self._queue.folder}")
        return VerifyReport(self._location, state.records, state.head, problem, tuple(notes))
