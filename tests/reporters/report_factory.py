"""Factories for CheckReport objects built straight from the model's dataclasses.

Reporters only read reports, so the compiled parts of a ``Policy`` (rule, templates, key) are
``None`` stand-ins here. A module with a distinctive name rather than ``conftest`` so that
tests and hypothesis strategies can import it (pytest discourages importing conftest).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from compliancegate.model import (
    CheckReport,
    ControlRef,
    Coverage,
    Decision,
    Enforcement,
    InputSpec,
    Location,
    Notice,
    Policy,
    PolicyId,
    PolicyResult,
    Severity,
    Status,
    Violation,
    Waiver,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
JUNIT_XSD = FIXTURES / "junit-xsd" / "junit-10.xsd"

STARTED_AT = dt.datetime(2026, 10, 2, 9, 30, 15, tzinfo=dt.UTC)

HOSTILE = (
    "<script>alert(1)</script> & ]]> \x00\x07\x1b[31mred\x1b[0m \x9b2J | pipe "
    "**bold** [link](https://evil.example) `code` \u202eevil\u202c 😀 \ud800 \ufffe "
    "line1\nline2\r\n::error::fake ##[error]fake $x$ @team #1"
)
"""Text an attacker controlling an artifact could put in a violation message."""


def make_policy(
    policy_id: str = "no-critical-vulnerabilities",
    *,
    title: str = "No known critical vulnerability ships",
    controls: Sequence[str] = ("nist-800-53-r5:SI-2", "nist-800-53-r5:RA-5"),
    severity: Severity = Severity.CRITICAL,
    enforcement: Enforcement = Enforcement.BLOCK,
    environments: tuple[str, ...] | None = None,
    required: bool = True,
    file: str = "policies/vulnerabilities.yaml",
    line: int | None = 3,
) -> Policy:
    """A policy with ``None`` for the compiled rule and templates."""
    return Policy(
        id=PolicyId(policy_id),
        title=title,
        description="",
        controls=tuple(ControlRef(c) for c in controls),
        severity=severity,
        enforcement=enforcement,
        environments=environments,
        input=InputSpec(kind="vulnerabilities"),
        required=required,
        rule=None,  # type: ignore[arg-type]
        message=None,
        remediation=None,
        key=None,
        file=file,
        line=line,
    )


def make_waiver(policy: Policy, waiver_id: str = "W-7", reason: str = "vendor fix due") -> Waiver:
    """An unexpired waiver for ``policy``."""
    return Waiver(
        id=waiver_id,
        policy=policy.id,
        match=(),
        reason=reason,
        approved_by="ciso@acme.example",
        expires=dt.date(2026, 12, 31),
        environments=None,
        file="waivers.yaml",
        line=4,
    )


def make_violation(
    policy: Policy,
    number: int = 1,
    *,
    message: str | None = None,
    remediation: str | None = "Upgrade openssl to 3.0.15",
    file: str | None = "reports/trivy.json",
    line: int | None = 42,
    waiver: Waiver | None = None,
    controls: Sequence[str] | None = None,
) -> Violation:
    """A violation of ``policy``; ``number`` makes message and fingerprint unique."""
    return Violation(
        fingerprint=f"sha256:{policy.id}:{number:04d}",
        policy=policy.id,
        controls=policy.controls if controls is None else tuple(ControlRef(c) for c in controls),
        severity=policy.severity,
        message=message if message is not None else f"CVE-2026-{number:04d} (critical) in openssl",
        remediation=remediation,
        location=Location(file=file, line=line),
        kind="vulnerabilities",
        waiver=waiver,
    )


def make_result(
    policy: Policy,
    status: Status,
    violations: Sequence[Violation] = (),
    *,
    error: str | None = None,
    blocking: bool = False,
    artifacts: Sequence[str] = ("reports/trivy.json",),
) -> PolicyResult:
    """A result for ``policy``."""
    return PolicyResult(
        policy=policy,
        status=status,
        violations=tuple(violations),
        error=error,
        artifacts=tuple(artifacts),
        blocking=blocking,
    )


def make_report(
    results: Sequence[PolicyResult],
    *,
    decision: Decision | None = None,
    notices: Sequence[Notice] = (),
    coverage: Coverage | None = None,
    environment: str | None = "production",
    fail_on: Severity = Severity.LOW,
    run_id: str = "run-2026-10-02-0001",
    ledger: str | None = ".compliancegate/ledger/",
) -> CheckReport:
    """A report over ``results``; by default decided from their ``blocking`` flags as the
    engine does: ``error`` when a blocking result errored, else ``blocked`` when any blocks."""
    if decision is None:
        if any(r.blocking and r.status is Status.ERROR for r in results):
            decision = Decision.ERROR
        elif any(r.blocking for r in results):
            decision = Decision.BLOCKED
        else:
            decision = Decision.COMPLIANT
    return CheckReport(
        run_id=run_id,
        started_at=STARTED_AT,
        environment=environment,
        fail_on=fail_on,
        decision=decision,
        results=tuple(results),
        notices=tuple(notices),
        coverage=coverage or Coverage(controls=4, implemented=3, gaps=(ControlRef("nist:AC-2"),)),
        paths=("reports/",),
        tool_version="0.1.0",
        ledger=ledger,
    )


def mixed_report(message: str | None = None) -> CheckReport:
    """One result of every status, waived and open violations, notices and coverage gaps.

    ``message`` (when given) is used for every violation message, remediation, error and
    notice, to push hostile text through every field a reporter renders.
    """
    text = message
    vuln = make_policy()
    warn = make_policy(
        "sbom-licenses",
        title="Only approved licenses",
        controls=("nist-800-53-r5:CM-10", "iso-27001:A.5.32"),
        severity=Severity.MODERATE,
        enforcement=Enforcement.WARN,
        file="policies/sbom.yaml",
    )
    erroring = make_policy(
        "tests-pass",
        title="Tests pass",
        controls=("nist-800-53-r5:SA-11",),
        enforcement=Enforcement.WARN,
        file="t.yaml",
    )
    na = make_policy(
        "prod-provenance",
        title="Provenance is signed",
        controls=(),
        environments=("production",),
        file="policies/provenance.yaml",
    )
    waived = make_policy("signed-commits", title="Commits are signed", controls=("slsa:L2",))
    passing = make_policy("coverage-80", title="Coverage at least 80%", controls=())
    waiver = make_waiver(waived, reason=text or "migration to sigstore in progress")
    results = [
        make_result(
            vuln,
            Status.FAIL,
            [
                make_violation(vuln, 1, message=text, remediation=text or "Upgrade openssl"),
                make_violation(vuln, 2, message=text, line=None),
                make_violation(vuln, 3, message=text, waiver=make_waiver(vuln)),
            ],
            blocking=True,
        ),
        make_result(
            warn,
            Status.FAIL,
            [make_violation(warn, 1, message=text, file=None, remediation=None)],
        ),
        make_result(erroring, Status.ERROR, error=text or "cannot read junit.xml"),
        make_result(na, Status.NOT_APPLICABLE, artifacts=()),
        make_result(
            waived, Status.WAIVED, [make_violation(waived, 1, message=text, waiver=waiver)]
        ),
        make_result(passing, Status.PASS),
    ]
    notices = [
        Notice("expired-waiver", text or "waiver W-1 expired on 2026-09-30", "waivers.yaml", 9),
        Notice("coverage-gap", text or "1 control has no policy"),
    ]
    return make_report(results, notices=notices, environment="staging")


def columns(line: str) -> int:
    """Terminal columns of ``line``, computed independently of the reporters' own helper."""
    total = 0
    for ch in line:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf") or unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total
