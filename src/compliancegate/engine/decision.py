"""The gate's decision: which results block the release, and whether the run is complete."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from compliancegate.model import (
    Coverage,
    Decision,
    Enforcement,
    Policy,
    PolicyResult,
    Register,
    Severity,
    Status,
)


def is_blocking(result: PolicyResult, fail_on: Severity) -> bool:
    """A ``block`` policy that failed or errored at or above ``fail_on`` blocks the release."""
    return (
        result.policy.enforcement is Enforcement.BLOCK
        and result.status in (Status.FAIL, Status.ERROR)
        and result.policy.severity.at_least(fail_on)
    )


def counts_as_evaluated(result: PolicyResult, fail_on: Severity) -> bool:
    """A ``block`` policy at or above ``fail_on`` whose evaluation completed (pass, fail or
    waived): a result that could have blocked the release, and was in a position to."""
    return (
        result.policy.enforcement is Enforcement.BLOCK
        and result.policy.severity.at_least(fail_on)
        and result.status in (Status.PASS, Status.FAIL, Status.WAIVED)
    )


def decide(
    results: Sequence[PolicyResult], fail_on: Severity
) -> tuple[list[PolicyResult], Decision]:
    """Mark blocking results and decide.

    ``error`` (exit 2) when a result that could block could not be evaluated: the gate never
    calls an incomplete evaluation compliant, and says it could not finish rather than
    pretending the failure is the release's. Otherwise ``blocked`` when any result blocks.
    A run in which no policy that could block was evaluated at all (everything not
    applicable, only ``warn`` and ``audit`` policies, or all below ``fail_on``) is ``error``
    too: it judged nothing, so it cannot say compliant.
    """
    marked = [dataclasses.replace(r, blocking=is_blocking(r, fail_on)) for r in results]
    if any(r.blocking and r.status is Status.ERROR for r in marked):
        return marked, Decision.ERROR
    if any(r.blocking for r in marked):
        return marked, Decision.BLOCKED
    if not any(counts_as_evaluated(r, fail_on) for r in marked):
        return marked, Decision.ERROR
    return marked, Decision.COMPLIANT


def coverage(register: Register | None, policies: Iterable[Policy]) -> Coverage:
    """Controls of the register that no policy implements are coverage gaps."""
    if register is None:
        return Coverage(0, 0, ())
    implemented = {ref for p in policies for ref in p.controls}
    refs = list(register.controls)
    gaps = tuple(ref for ref in refs if ref not in implemented)
    return Coverage(len(refs), len(refs) - len(gaps), gaps)
