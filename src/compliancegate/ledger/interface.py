"""What every ledger store provides, the values it returns and the errors it raises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from compliancegate.errors import CompliancegateError

if TYPE_CHECKING:
    from compliancegate.ledger.chain import ChainHead
    from compliancegate.ledger.operations import Operation
    from compliancegate.ledger.state import LedgerState
    from compliancegate.signing.keys import PublicKey


class LedgerError(CompliancegateError):
    """The ledger cannot be read or written: unreadable files, a broken chain, a bad location."""


class ChainError(LedgerError):
    """A record breaks the chain or the format: the ledger was edited, or records were
    deleted, inserted or reordered. ``seq`` is the number of the first bad record (0 when the
    problem is the ledger's head rather than a record)."""

    def __init__(
        self,
        message: str,
        *,
        seq: int,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        subject = f"record {seq}" if seq > 0 else None
        super().__init__(message, file=file, line=line, subject=subject, hint=hint)
        self.seq = seq


class LedgerRewritten(ChainError):
    """The ledger no longer extends a head this runner saw before (or the pinned head): its
    history was rewritten, truncated or deleted. Nothing is appended on top of it."""


class LedgerUnavailable(LedgerError):
    """The store cannot be reached now (a remote that does not answer, a lock held too long).

    Operations are then kept locally as pending and stored by a later run."""


@dataclass(frozen=True)
class Snapshot:
    """The ledger as one store sees it now."""

    state: LedgerState
    """Findings and runs derived from the records."""
    location: str
    """The ``--ledger`` value."""
    pending: int = 0
    """Operations kept locally that the shared store does not have yet (they are included
    in ``state``)."""
    offline: str | None = None
    """Why the shared store could not be reached (``state`` is then the local copy), or None."""
    found: bool = True
    """False when there is no ledger at the location: nothing was ever recorded there (and,
    for a shared store that could not be reached, there is no local copy either)."""
    refused: tuple[str, ...] = ()
    """Queued operations that are not this runner's (no valid MAC, or found inside the gated
    tree): left out of ``state``, never stored."""


@dataclass(frozen=True)
class CommitOutcome:
    """What storing operations did."""

    stored: int
    """Operations written to the store by this call (earlier pending ones included)."""
    records: int
    """Records appended."""
    pending: int
    """Operations still kept locally, waiting for the store."""
    reason: str | None = None
    """Why operations are pending (the store could not be reached), or None."""
    synced: int = 0
    """Of ``stored``, how many were pending from earlier runs."""
    dropped: tuple[str, ...] = ()
    """Pending operations that no longer apply (e.g. an ack of a finding resolved since),
    each with the reason; they were discarded."""
    recovered: tuple[str, ...] = ()
    """Interrupted appends that were set aside on the way (quarantine files)."""
    refused: tuple[str, ...] = ()
    """Queued operations that were not stored because they are not this runner's (no valid
    MAC, or found inside the gated tree), each with where it is and why."""


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``ledger verify``."""

    location: str
    records: int
    """Records that verified, in order from the first."""
    head: str
    """SHA-256 of the last good record (the genesis value for an empty ledger)."""
    problem: ChainError | None = None
    """The first bad record, or None when the whole ledger verifies."""
    notes: tuple[str, ...] = ()
    """Things worth knowing that are not failures (an interrupted append, pending records,
    an unreachable remote)."""

    @property
    def ok(self) -> bool:
        """True when every record verified."""
        return self.problem is None


@dataclass(frozen=True)
class LedgerContents:
    """A ledger's files as stored, for evidence bundles."""

    records: bytes
    """``records.jsonl``: exactly the records the ledger's head covers."""
    heads: bytes
    """``heads.jsonl``: the signed heads (empty when the ledger is not signed)."""


class LedgerStore(Protocol):
    """A place the ledger lives: a folder, or a branch of a git repository."""

    @property
    def location(self) -> str:
        """The ``--ledger`` value this store was opened from."""
        ...

    def snapshot(self, now: dt.datetime, *, live_only: bool = False) -> Snapshot:
        """The current state; clocks and breaches are evaluated at ``now``. With
        ``live_only``, only the findings not resolved, and no runs: all a production release
        needs, without reading the resolved ones a derived-state cache holds apart."""
        ...

    def commit(self, operations: Sequence[Operation]) -> CommitOutcome:
        """Append the records of ``operations`` (and of any pending ones, first).

        When the store cannot be reached the operations are kept locally as pending and the
        outcome says so; other failures raise ``LedgerError``.
        """
        ...

    def verify(self) -> VerifyReport:
        """Check the chain, the format and the findings' consistency of every record."""
        ...

    def contents(self) -> LedgerContents:
        """The records and signed heads as stored (as ``verify`` last read them, for a git
        store); call after ``verify`` passed."""
        ...

    def verify_signed(
        self, trusted: Sequence[PublicKey], expect: ChainHead | None = None
    ) -> ChainError | None:
        """After ``verify`` passed: the signed heads (by ``trusted`` keys, covering the last
        record when keys are given), the history (git), and ``expect`` still a prefix."""
        ...
