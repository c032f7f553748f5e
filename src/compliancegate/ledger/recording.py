"""What ``check`` asks of the ledger and writes to it.

Recording never changes the decision: a store that cannot be written adds a notice to the
report (pending records, a ledger that fails verification) and the run goes on. Reading is
different in production: the open break-fix findings decide the release, so a ledger that
cannot be read (corrupted, unreadable, a remote this runner has never read) raises, and
``check`` fails closed when the register has a break-fix clause.
"""

from __future__ import annotations

import datetime as dt

from compliancegate.ledger.breakfix import open_break_fix
from compliancegate.ledger.interface import (
    CommitOutcome,
    LedgerError,
    LedgerRewritten,
    LedgerStore,
    LedgerUnavailable,
)
from compliancegate.ledger.observe import RunContext, observe
from compliancegate.ledger.overflow import DEFAULT_CAP
from compliancegate.model import CheckReport, Notice, OpenBreakFix

REWRITTEN = "ledger-rewritten"
"""The notice of a run not recorded because the ledger's history was rewritten; ``check``
exits 2 on it after writing its reports."""


class LedgerBreakFix:
    """``check.BreakFixSource`` over a store: the open break-fix findings, read once."""

    def __init__(self, store: LedgerStore, now: dt.datetime) -> None:
        """Findings are read from ``store`` with clocks evaluated at ``now``."""
        self._store = store
        self._now = now
        self._notices: list[Notice] = []

    @property
    def notices(self) -> tuple[Notice, ...]:
        """What the report should say about reading the ledger."""
        return tuple(self._notices)

    def open_break_fix(self) -> tuple[OpenBreakFix, ...]:
        """The open break-fix findings.

        ``LedgerError`` when the ledger cannot be read (a broken chain or head, an
        unreadable file) and ``LedgerUnavailable`` when its remote cannot be reached and
        this runner holds no copy of it (a fresh runner knows no findings at all). With a
        local copy, the findings are read from it and a notice says so.
        """
        snapshot = self._store.snapshot(self._now, live_only=True)
        if snapshot.offline and snapshot.state.records == 0:
            raise LedgerUnavailable(
                f"{self._store.location} could not be reached ({snapshot.offline}) and this "
                "runner has no copy of it",
                hint="make the ledger's remote reachable from this runner",
            )
        if not snapshot.found and not snapshot.offline:
            # A ledger that does not persist between runs (a folder on an ephemeral runner)
            # is new at every release and so never blocks one: say so where it shows.
            self._notices.append(
                Notice(
                    "ledger-new",
                    f"this production release found no ledger at {self._store.location}, so "
                    "no break-fix finding of an earlier run could block it; a ledger that does "
                    "not survive between runs (a folder on an ephemeral runner) never will: "
                    "use a shared one (git:.#compliance-ledger)",
                )
            )
        if snapshot.offline:
            self._notices.append(
                Notice(
                    "ledger-offline",
                    f"{self._store.location} could not be reached ({snapshot.offline}); open "
                    "break-fix findings were read from the local copy",
                )
            )
        return open_break_fix(snapshot.state)


def record_run(
    store: LedgerStore, report: CheckReport, context: RunContext, cap: int | None = None
) -> tuple[Notice, ...]:
    """Append the run and its changes in findings, at most ``cap`` violations per policy
    (``DEFAULT_CAP`` when None) with their text, the rest counted (``overflow.py``);
    notices for the report."""
    cap = DEFAULT_CAP if cap is None else cap
    try:
        outcome = store.commit([observe(report, context, cap=cap)])
    except LedgerRewritten as exc:
        # Appending would bury the rewrite under a fresh, valid-looking chain: refused.
        text = f"nothing was appended to a ledger whose history was rewritten: {exc}"
        return (Notice(REWRITTEN, text, exc.file, exc.line),)
    except LedgerError as exc:
        text = f"this run was not recorded (it is kept pending where possible): {exc}"
        return (Notice("ledger-error", text, exc.file, exc.line),)
    return outcome_notices(outcome, store.location)


def outcome_notices(outcome: CommitOutcome, location: str) -> tuple[Notice, ...]:
    """Notices for what a commit did that the user should know."""
    notices = []
    if outcome.pending:
        notices.append(
            Notice(
                "ledger-pending",
                f"{outcome.pending} operation(s), this one included, are kept locally and not "
                f"yet recorded in {location}; the next run records them"
                + (f" ({outcome.reason})" if outcome.reason else ""),
            )
        )
    if outcome.synced:
        notices.append(
            Notice(
                "ledger-synced",
                f"recorded {outcome.synced} operation(s) that earlier runs kept pending",
            )
        )
    for dropped in outcome.dropped:
        text = f"a pending operation no longer applies: {dropped}"
        notices.append(Notice("ledger-dropped", text))
    for refused in outcome.refused:
        notices.append(Notice("ledger-refused", f"not recorded, not this runner's: {refused}"))
    for part in outcome.recovered:
        notices.append(
            Notice(
                "ledger-recovered",
                f"an interrupted append was set aside in {part} (a ledger.recovered record "
                "says so); no earlier record was lost",
            )
        )
    return tuple(notices)
