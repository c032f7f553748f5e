"""The file store: the ledger in a local folder (default ``.compliancegate/ledger``).

Concurrent writers on one machine take turns under an exclusive lock; each derives its
operation's records from the ledger as it finds it once it holds the lock. When the lock is
not granted in time, or the disk refuses the write, the operation is kept in the ledger's
pending queue (in the per-user state directory, ``placement``) and written by the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compliancegate.ledger.chain import ChainHead
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.clocks import Now, system_now
from compliancegate.ledger.derived import DerivedCache
from compliancegate.ledger.files import Head, LedgerFolder, write_all
from compliancegate.ledger.interface import (
    ChainError,
    CommitOutcome,
    LedgerContents,
    LedgerError,
    LedgerRewritten,
    LedgerUnavailable,
    Snapshot,
    VerifyReport,
)
from compliancegate.ledger.lock import DEFAULT_TIMEOUT
from compliancegate.ledger.operations import Operation
from compliancegate.ledger.pending import STRAY_REASON, PendingQueue, queue_problem
from compliancegate.ledger.placement import gated_tree, ledger_state, stray_pending
from compliancegate.ledger.records import RecordKind
from compliancegate.ledger.signed import (
    HEADS_FILE,
    append_head,
    check_heads,
    complete,
    expected_problem,
    parse_heads,
    record_ends,
    tip_problem,
)
from compliancegate.ledger.state import StaleState, StateBuilder

if TYPE_CHECKING:
    from compliancegate.signing.keys import PublicKey

LEGACY_PENDING_DIR = "pending"
"""Where versions before the authenticated queue kept it: inside the ledger folder."""


class FileStore:
    """A ledger folder on this machine."""

    def __init__(
        self,
        folder: Path,
        location: str | None = None,
        *,
        now: Now = system_now,
        lock_timeout: float = DEFAULT_TIMEOUT,
        state: Path | None = None,
        cwd: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """The ledger in ``folder``; ``now`` stamps the store's own records (recoveries).

        ``state`` is the ledger's state folder (its pending queue), by default the one
        ``placement.ledger_state`` gives; ``cwd`` locates the gated tree.
        """
        self.folder = folder
        self._location = location or str(folder)
        self._files = LedgerFolder(folder)
        identity = ledger_identity(folder)
        cwd = cwd or Path.cwd()
        self._tree = gated_tree(cwd)
        if state is None:
            state = ledger_state(identity, cwd, os.environ if environ is None else environ)
        self._queue = PendingQueue(state, identity)
        self._derived = DerivedCache(state, identity, self._queue.mac_key)
        self._now = now
        self._lock_timeout = lock_timeout
        self._replayed: tuple[tuple[object, ...], Head, StateBuilder] | None = None
        self._blocks: tuple[str, ...] = ()
        """Digests of the records file's blocks verified or written by this process."""
        from compliancegate.signing.keys import key_from_environment

        # Loaded when the store opens: a bad key fails the command before anything runs.
        self._key = key_from_environment(os.environ if environ is None else environ, self._tree)

    def _load(self, *, cached: bool = True, save: bool = True) -> tuple[Head, StateBuilder]:
        """Replay the records: only those after the head of the derived-state cache when it
        is still a prefix of the ledger (``derived``), else all (and cache the result,
        unless ``save`` is false: a commit caches what it wrote instead, and a production
        check's live-only read is followed by that commit). A replay of the very same
        content earlier in this process (a production check's snapshot, then its commit) is
        reused rather than repeated."""
        version = self._files.version()
        memo = self._replayed
        if cached and version is not None and memo is not None and memo[0] == version:
            return memo[1], memo[2].copy()
        head = self._files.read_head()
        resumed = None
        if cached and head.chain.seq and version is not None:
            resumed = self._derived.resume(self._files.read_range, head.chain, self._stamp())
        state = None
        if resumed is not None:
            try:
                state = resumed.state
                self._files.load(state, head, resumed.head)
                self._blocks = resumed.blocks
            except (ChainError, StaleState):
                # The records after the cached head, or its cold part, say otherwise: the
                # replay from the first record decides (and names the bad record).
                state = resumed = None
        if state is None:
            state = StateBuilder()
            head = self._files.load(state, head)
        if version is not None and self._files.version() == version:
            if save and (resumed is None or resumed.head != head.chain):
                # Exporting a long ledger's state costs about as much as replaying it: a
                # fresh runner (no cache) pays it once a run, not once a read.
                self._save(state, head.chain)
            self._replayed = (version, head, state.copy())
        return head, state

    def _save(self, state: StateBuilder, head: ChainHead) -> None:
        """Cache ``state`` (derived at ``head``) for the next run."""
        stamp = self._stamp()
        read = self._files.read_range
        self._blocks = self._derived.save(state, head, read, self._blocks, stamp=stamp)

    def _stamp(self) -> str | None:
        """What changes whenever the records file does: any write moves its change time
        (which no user can set), a replacement its inode."""
        try:
            info = self._files.records_path.stat()
        except OSError:
            return None
        return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"

    @property
    def location(self) -> str:
        """The ``--ledger`` value."""
        return self._location

    def _stray(self) -> tuple[str, ...]:
        found = stray_pending(self._tree, self.folder / LEGACY_PENDING_DIR)
        return tuple(f"{path}: {STRAY_REASON}" for path in found)

    def snapshot(self, now: dt.datetime, *, live_only: bool = False) -> Snapshot:
        """The findings as of ``now``, this runner's pending operations included; with
        ``live_only``, only those not resolved (``StateBuilder.freeze``)."""
        try:
            return self._snapshot(now, live_only, cached=True)
        except StaleState:
            return self._snapshot(now, live_only, cached=False)

    def _snapshot(self, now: dt.datetime, live_only: bool, *, cached: bool) -> Snapshot:
        head, state = self._load(cached=cached, save=not live_only)
        queued = self._queue.load()
        ops = [q.operation for q in queued.operations]
        if ops:
            build_batch(state, head.chain, (), ops)
        return Snapshot(
            state.freeze(now, live_only=live_only),
            self._location,
            pending=len(ops),
            found=self.folder.is_dir() or bool(ops),
            refused=queued.refused + self._stray(),
        )

    def commit(self, operations: Sequence[Operation]) -> CommitOutcome:
        """Append the records of the pending operations, then of ``operations``."""
        try:
            queued = self._queue.load(set_aside=True)
        except LedgerError:
            # An untrusted queue key must not cost this run its record: queue it if possible.
            self._queue.add(operations)
            raise
        refused = queued.refused + self._stray()
        ops = [q.operation for q in queued.operations]
        if not ops and not operations:
            # Nothing to write (ledger sync with an empty queue): leave the disk alone.
            return CommitOutcome(stored=0, records=0, pending=0, refused=refused)
        try:
            with self._files.lock(timeout=self._lock_timeout):
                recovered = self._files.recover(self._now())
                head, state = self._load(save=False)
                if self._key is not None:
                    self._check_tip(head.chain)
                try:
                    batch = build_batch(state, head.chain, recovered, ops + list(operations))
                except StaleState:
                    head, state = self._load(cached=False, save=False)
                    batch = build_batch(state, head.chain, recovered, ops + list(operations))
                self._files.write(head, batch.linked)
                self._save(state, batch.linked.head)
                if self._key is not None and batch.linked.data:
                    with contextlib.suppress(OSError):
                        # The records are stored: a failed signature must not queue them
                        # again. The next batch's signed head covers them.
                        self._sign(batch.linked.head)
        except (LedgerUnavailable, OSError) as exc:
            # A full disk or a read-only folder mid-append: the records wait in the queue.
            self._queue.add(operations)
            reason = exc.message if isinstance(exc, LedgerUnavailable) else str(exc)
            return CommitOutcome(
                stored=0,
                records=0,
                pending=len(ops) + len(operations),
                reason=reason,
                refused=refused,
            )
        except LedgerError:
            # A ledger that fails verification takes no new records; the operations wait
            # in the queue until it is restored, rather than being lost.
            self._queue.add(operations)
            raise
        self._queue.remove(q.path for q in queued.operations)
        return CommitOutcome(
            stored=batch.stored,
            records=len(batch.linked.records),
            pending=0,
            synced=len(ops),
            dropped=batch.dropped,
            recovered=tuple(
                str(r.data["file"]) for r in batch.linked.records if r.kind is RecordKind.RECOVERED
            ),
            refused=refused,
        )

    def _check_tip(self, head: ChainHead) -> None:
        """Refuse to sign on top of signed heads this runner's key did not make, or that no
        longer match the records (``signed.tip_problem``)."""
        assert self._key is not None
        path = self.folder / HEADS_FILE
        try:
            heads = path.read_bytes()
        except FileNotFoundError:
            return
        with self._files.records_path.open("rb") as handle:
            records = handle.read(head.size)
        problem = tip_problem(heads, list(record_ends(records)), self._key.public, str(path))
        if problem is not None:
            raise LedgerRewritten(
                problem.message, seq=problem.seq, file=str(path), hint=problem.hint
            )

    def _sign(self, head: ChainHead) -> None:
        """Append ``head``, signed, to ``heads.jsonl`` (under the lock, after the records).

        A crash before this leaves the batch unsigned; the next batch's signed head covers
        it, since a signed head vouches for every record before it through the chain.
        """
        assert self._key is not None
        path = self.folder / HEADS_FILE
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            existing = b""
        data = append_head(existing, self._key, head)
        kept = complete(existing)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.ftruncate(fd, len(kept))  # a torn line from a crash is dropped
            os.lseek(fd, len(kept), os.SEEK_SET)
            write_all(fd, data[len(kept) :])
            os.fsync(fd)
        finally:
            os.close(fd)

    def verify_signed(
        self, trusted: Sequence[PublicKey], expect: ChainHead | None = None
    ) -> ChainError | None:
        """The signed heads against the records (call after ``verify`` passed): every
        signature by a ``trusted`` key, the last record covered; ``expect`` still a
        prefix."""
        contents = self.contents()
        ends = list(record_ends(contents.records))
        problem = expected_problem(ends, expect, self._files.display)
        if problem is not None:
            return problem
        name = str(self.folder / HEADS_FILE)
        try:
            heads = parse_heads(contents.heads, name)
        except ChainError as exc:
            return exc
        return check_heads(heads, ends, trusted, name)

    def contents(self) -> LedgerContents:
        """The records the head covers and ``heads.jsonl``."""
        # Under the shared lock, as verify: an append in between would otherwise show a
        # signed head past the records read.
        guard: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        if self._files.exists() and os.access(self.folder, os.W_OK):
            guard = self._files.lock(shared=True, timeout=self._lock_timeout)
        with guard:
            records, heads = self._read_signed()
        return LedgerContents(records, heads)

    def _read_signed(self) -> tuple[bytes, bytes]:
        """The records the head covers, and ``heads.jsonl`` (empty when absent)."""
        records = heads = b""
        if self._files.exists():
            head = self._files.read_head()
            with self._files.records_path.open("rb") as handle:
                records = handle.read(head.chain.size)
        with contextlib.suppress(FileNotFoundError):
            heads = (self.folder / HEADS_FILE).read_bytes()
        return records, heads

    def _queue_problem(self, records: int) -> ChainError | None:
        """Queued operations that are refused: a failure until someone looks at them."""
        return queue_problem(self._queue, self._stray(), records)

    def verify(self) -> VerifyReport:
        """Check every record, the head and what follows it, and the queue."""
        if not self._files.exists():
            if self.folder.is_dir() or self._queue.count() or self._stray():
                return VerifyReport(
                    self._location,
                    0,
                    "0" * 64,
                    self._queue_problem(0),
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
        problem = problem or self._queue_problem(state.records)
        pending = self._queue.count()
        if pending:
            notes.append(f"{pending} operation(s) pending in {self._queue.folder}")
        return VerifyReport(self._location, state.records, state.head, problem, tuple(notes))


def ledger_identity(folder: Path) -> str:
    """What a file ledger's queue is bound to: its folder, symlinks resolved."""
    return f"file:{folder.resolve()}"
