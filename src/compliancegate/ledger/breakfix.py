"""Break-fix findings block production releases until they are fixed.

``check`` asks the ledger (through ``compliancegate.check.BreakFixSource``) which break-fix
findings are open. In a production run, those this very run neither resolves nor waives
become one blocking result of a gate rule named ``compliancegate:break-fix``, so that every
report format shows why the release stopped, with one violation per finding; the ledger then
records each of them as breached by this release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from compliancegate.engine.conditions import Condition
from compliancegate.engine.evaluation import fingerprint
from compliancegate.ledger.state import FindingStatus, LedgerState
from compliancegate.model import (
    PRODUCTION_ENVIRONMENT,
    ControlRef,
    Enforcement,
    InputSpec,
    Location,
    OpenBreakFix,
    Policy,
    PolicyId,
    PolicyResult,
    Status,
    Violation,
)

BREAK_FIX_POLICY = PolicyId("compliancegate:break-fix")
"""The id of the gate rule (a colon, which policy ids cannot contain, keeps it apart)."""

_KIND = "ledger"


def open_break_fix(state: LedgerState) -> tuple[OpenBreakFix, ...]:
    """The break-fix findings of ``state`` that are open (a waived one is excepted)."""
    found = []
    for finding in state.live():
        if finding.clock.before_release and finding.status is FindingStatus.OPEN:
            found.append(
                OpenBreakFix(
                    finding=finding.id,
                    fingerprint=finding.fingerprint,
                    policy=None if finding.policy is None else PolicyId(finding.policy),
                    title=finding.title,
                    controls=tuple(ControlRef(c) for c in finding.controls),
                    severity=finding.severity,
                    opened_at=finding.opened_at,
                )
            )
    return tuple(found)


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).date().isoformat()


def release_block(
    open_findings: Sequence[OpenBreakFix], results: Sequence[PolicyResult], ledger: str
) -> PolicyResult | None:
    """The blocking result for the open break-fix findings this run does not fix, or None.

    A finding is fixed by this run when its policy was evaluated and no longer reports the
    violation, and excepted when a waiver covers it now.
    """
    outcome: dict[str, bool] = {}
    evaluated = set()
    for result in results:
        if result.status in (Status.PASS, Status.FAIL, Status.WAIVED):
            evaluated.add(result.policy.id)
        for v in result.violations:
            outcome[v.fingerprint] = v.waived
    remaining = []
    for found in open_findings:
        waived = outcome.get(found.fingerprint)
        if waived:
            continue
        if waived is None and found.policy is not None and found.policy in evaluated:
            continue
        remaining.append(found)
    if not remaining:
        return None
    controls = tuple(dict.fromkeys(c for f in remaining for c in f.controls))
    severity = max((f.severity for f in remaining), key=lambda s: s.rank)
    policy = Policy(
        id=BREAK_FIX_POLICY,
        title="Break-fix findings are fixed before the next production release",
        description="A finding under a break-fix clause must be resolved before production.",
        controls=controls,
        severity=severity,
        enforcement=Enforcement.BLOCK,
        environments=(PRODUCTION_ENVIRONMENT,),
        input=InputSpec(kind=_KIND),
        required=True,
        rule=Condition(),
        message=None,
        remediation=None,
        key=None,
        file=ledger,
    )
    violations = tuple(
        Violation(
            fingerprint=fingerprint(BREAK_FIX_POLICY, _KIND, f.finding),
            policy=BREAK_FIX_POLICY,
            controls=f.controls,
            severity=f.severity,
            message=(
                f"break-fix finding {f.finding} (open since {_day(f.opened_at)}"
                + (f", policy {f.policy}" if f.policy else "")
                + f") is not fixed: {f.title}"
            ),
            remediation=(
                "Fix it before releasing to production: a run that evaluates "
                + (f"policy {f.policy}" if f.policy else "it")
                + f" and passes resolves it (compliancegate findings show {f.finding})"
            ),
            location=Location(ledger),
            kind=_KIND,
        )
        for f in remaining
    )
    return PolicyResult(policy, Status.FAIL, violations, blocking=True)
