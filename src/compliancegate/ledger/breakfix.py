"""Break-fix findings block production releases until they are fixed.

``check`` asks the ledger (through ``compliancegate.check.BreakFixSource``) which break-fix
findings are open. In a production run, those this very run neither resolves nor waives,
and whose policy would itself block (enforcement ``block``, severity at or above
``--fail-on``), become one blocking result of a gate rule named ``compliancegate:break-fix``,
so that every report format shows why the release stopped, with one violation per finding;
the ledger then records each of them as breached by this release. Findings of ``warn`` and
``audit`` policies, or below ``--fail-on``, keep their clocks and are reported, never block.

When the ledger cannot be read and the register has a break-fix clause, the rule fails
closed: ``unreadable_result`` is an errored blocking result (exit 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from compliancegate.engine.conditions import Condition
from compliancegate.engine.evaluation import fingerprint
from compliancegate.ledger.clocks import BEFORE_NEXT_RELEASE
from compliancegate.ledger.overflow import is_overflow, overflow_fingerprint
from compliancegate.ledger.state import FindingStatus, LedgerState
from compliancegate.model import (
    PRODUCTION_ENVIRONMENT,
    ControlRef,
    Enforcement,
    InputSpec,
    Location,
    Notice,
    OpenBreakFix,
    Policy,
    PolicyId,
    PolicyResult,
    Register,
    Severity,
    Status,
    Violation,
)

BREAK_FIX_POLICY = PolicyId("compliancegate:break-fix")
"""The id of the gate rule (a colon, which policy ids cannot contain, keeps it apart)."""

_KIND = "ledger"


def open_break_fix(state: LedgerState) -> tuple[OpenBreakFix, ...]:
    """The break-fix findings of ``state`` that are open (a waived one is excepted)."""
    found = []
    live = state.live()
    for finding in live:
        if finding.clock.before_release and finding.status is FindingStatus.OPEN:
            tracked: frozenset[str] = frozenset()
            if is_overflow(finding.fingerprint):
                tracked = frozenset(
                    f.fingerprint
                    for f in live
                    if f.policy == finding.policy and not is_overflow(f.fingerprint)
                )
            found.append(
                OpenBreakFix(
                    finding=finding.id,
                    fingerprint=finding.fingerprint,
                    policy=None if finding.policy is None else PolicyId(finding.policy),
                    title=finding.title,
                    controls=tuple(ControlRef(c) for c in finding.controls),
                    severity=finding.severity,
                    opened_at=finding.opened_at,
                    tracked=tracked,
                )
            )
    return tuple(found)


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).date().isoformat()


def has_break_fix_clause(register: Register | None) -> bool:
    """Whether any control of ``register`` falls under a clause due before the next
    production release (then a production run must be able to read the ledger)."""
    if register is None:
        return False
    return any(
        (register.sla.get(control.clause) or {}).get("before") == BEFORE_NEXT_RELEASE
        for control in register.controls.values()
    )


def would_block(policy: Policy, fail_on: Severity) -> bool:
    """The policy's own decision for a failure: ``block`` at or above ``fail_on``."""
    return policy.enforcement is Enforcement.BLOCK and policy.severity.at_least(fail_on)


def sort_open(
    open_findings: Sequence[OpenBreakFix], results: Sequence[PolicyResult], fail_on: Severity
) -> tuple[tuple[OpenBreakFix, ...], tuple[OpenBreakFix, ...]]:
    """The open break-fix findings this run does not fix: (those that block, those that
    do not because their policy would not block).

    A finding is fixed by this run when its policy was evaluated completely (pass, fail or
    waived; an ``error`` may have stopped early) and no longer reports the violation, and
    excepted when a waiver covers it now. Whether an unfixed finding blocks follows its
    policy's decision in this run; a finding opened by hand, or whose policy is no longer
    in the policy set, blocks (nothing says it would not).
    """
    outcome: dict[str, bool] = {}
    evaluated = set()
    policies: dict[str, Policy] = {}
    # A policy's finding of its violations past the ledger's cap fails while any violation
    # of the policy without a finding of its own fails, and is waived when all of them are.
    overflow = {f.fingerprint: f.tracked for f in open_findings if is_overflow(f.fingerprint)}
    for result in results:
        policies[result.policy.id] = result.policy
        if result.status in (Status.PASS, Status.FAIL, Status.WAIVED):
            evaluated.add(result.policy.id)
        tracked = overflow.get(overflow_fingerprint(result.policy.id))
        member = all_waived = False
        for v in result.violations:
            outcome[v.fingerprint] = v.waived
            if tracked is not None and v.fingerprint not in tracked:
                all_waived = v.waived and (all_waived or not member)
                member = True
        if member:
            outcome[overflow_fingerprint(result.policy.id)] = all_waived
    blocking = []
    quiet = []
    for found in open_findings:
        waived = outcome.get(found.fingerprint)
        if waived:
            continue
        if waived is None and found.policy is not None and found.policy in evaluated:
            continue
        policy = None if found.policy is None else policies.get(found.policy)
        if policy is not None and not would_block(policy, fail_on):
            quiet.append(found)
        else:
            blocking.append(found)
    return tuple(blocking), tuple(quiet)


def quiet_notice(quiet: Sequence[OpenBreakFix]) -> Notice:
    """The notice that reports open break-fix findings that do not block."""
    shown = ", ".join(f"{f.finding} ({f.policy})" for f in quiet[:5])
    more = f" and {len(quiet) - 5} more" if len(quiet) > 5 else ""
    return Notice(
        "break-fix-open",
        f"{len(quiet)} open break-fix finding(s) of policies that do not block "
        f"(warn, audit or below --fail-on) are not fixed: {shown}{more}",
    )


def unreadable_result(reason: str, ledger: str, hint: str) -> PolicyResult:
    """The errored blocking result of a production run that could not learn which
    break-fix findings are open: the gate cannot decide, so it fails closed (exit 2)."""
    policy = _gate_policy((), Severity.CRITICAL, ledger)
    return PolicyResult(policy, Status.ERROR, error=f"{reason}; {hint}", blocking=True)


def _gate_policy(controls: tuple[ControlRef, ...], severity: Severity, ledger: str) -> Policy:
    return Policy(
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


def release_block(remaining: Sequence[OpenBreakFix], ledger: str) -> PolicyResult | None:
    """The blocking result for the open break-fix findings that block (``sort_open``'s
    first part), or None when there are none."""
    if not remaining:
        return None
    controls = tuple(dict.fromkeys(c for f in remaining for c in f.controls))
    severity = max((f.severity for f in remaining), key=lambda s: s.rank)
    policy = _gate_policy(controls, severity, ledger)
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
