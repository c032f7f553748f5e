"""Findings' lives and clocks, with an injected clock: a break at day 0, fixed at day 12 and
broken again at day 20 gives two lives, each with the due dates and breaches its clause says
(SPEC section 3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ledger_project import DAY0, Project, day, policies_yaml, register_yaml

from compliancegate.check import CheckOptions, resolve, run_check
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.observe import RunContext
from compliancegate.ledger.recording import LedgerBreakFix, record_run
from compliancegate.ledger.state import Finding, FindingStatus, LedgerState
from compliancegate.model import CheckReport, Decision

NO_CONTEXT = RunContext(None, None, None)


def gate(
    project: Project,
    store: FileStore,
    at: dt.datetime,
    *critical: str,
    env: str = "staging",
) -> CheckReport:
    """One ``check`` at ``at`` with ``critical`` vulnerabilities, recorded in ``store``."""
    project.scan(*critical)
    root = project.root
    options = CheckOptions(
        paths=(root / "release",),
        policies=(root / "policies",),
        registers=(root / "registers",),
        waivers=root / "waivers.yaml" if (root / "waivers.yaml").exists() else None,
        environment=env,
        now=at,
        run_id=f"{env}-{(at - DAY0).days}",
    )
    source = LedgerBreakFix(store, at) if env == "production" else None
    report = run_check(options, resolve(options), source)
    assert record_run(store, report, NO_CONTEXT) == ()
    return report


def lives(state: LedgerState) -> list[Finding]:
    """The lives of the CVE-1 finding, in order."""
    found = [f for f in state.findings.values() if f.title.startswith("CVE-1 ")]
    return sorted(found, key=lambda f: f.life)


def kinds(finding: Finding) -> list[str]:
    """The kinds of ``finding``'s breaches."""
    return [b.kind for b in finding.breaches]


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A file ledger for the timeline."""
    return FileStore(tmp_path / "ledger", now=lambda: DAY0)


def break_fix_break(project: Project, store: FileStore, production: tuple[int, ...] = ()) -> None:
    """Day 0 broken, day 12 fixed, day 20 broken again (staging), plus production runs."""
    timeline = [(0, True, "staging"), (12, False, "staging"), (20, True, "staging")]
    timeline += [(d, True, "production") for d in production]
    for n, broken, env in sorted(timeline):
        gate(project, store, day(n), *(["CVE-1"] if broken else []), env=env)


@pytest.mark.parametrize(
    ("clause", "first_due", "second_due"),
    [("security-incident", 30, 50), ("regulatory-change", 30, 50)],
)
def test_severity_clocks_give_each_life_its_own_due_date(
    project: Project, store: FileStore, clause: str, first_due: int, second_due: int
) -> None:
    project.write("registers/tiny.yaml", register_yaml(clause=clause, severity="high"))
    break_fix_break(project, store)

    first, second = lives(store.snapshot(day(40)).state)
    assert (first.life, second.life) == (1, 2)
    assert first.id != second.id and first.fingerprint == second.fingerprint
    assert first.clock.clause == clause and first.clock.due == day(first_due)
    assert first.opened_at == day(0) and first.resolved_at == day(12)
    assert first.status is FindingStatus.RESOLVED and not first.breached
    assert second.clock.due == day(second_due) and second.opened_at == day(20)
    assert second.status is FindingStatus.OPEN and not second.breached

    later = lives(store.snapshot(day(70)).state)
    assert not later[0].breached
    assert kinds(later[1]) == ["due"] and later[1].breaches[0].at == day(second_due)


def test_security_incident_clock_depends_on_the_control_severity(
    project: Project, store: FileStore
) -> None:
    # FedRAMP Rev5 POA&M: moderate 90 days, low 180; notification due at once.
    project.write("registers/tiny.yaml", register_yaml("security-incident", severity="moderate"))
    gate(project, store, day(0), "CVE-1")
    (finding,) = lives(store.snapshot(day(1)).state)
    assert finding.clock.due == day(90)
    assert finding.clock.notify_due == day(0)
    assert finding.clock.severity is not None and finding.clock.severity.value == "moderate"


def test_audit_finding_has_a_plan_due_date_and_a_close_due_date(
    project: Project, store: FileStore
) -> None:
    project.write("registers/tiny.yaml", register_yaml(clause="audit-finding"))
    break_fix_break(project, store)

    first, second = lives(store.snapshot(day(40)).state)
    assert (first.clock.plan_due, first.clock.due) == (day(15), day(45))
    # Resolved on day 12, before the plan was due: nothing was missed.
    assert not first.breached
    assert (second.clock.plan_due, second.clock.due) == (day(35), day(65))
    assert kinds(second) == ["plan"] and second.breaches[0].at == day(35)

    late = lives(store.snapshot(day(70)).state)[1]
    assert kinds(late) == ["plan", "due"]


def test_a_plan_on_time_meets_the_plan_clock(project: Project, store: FileStore) -> None:
    from compliancegate.ledger.operations import Action, FindingOp, new_op_id

    project.write("registers/tiny.yaml", register_yaml(clause="audit-finding"))
    gate(project, store, day(0), "CVE-1")
    (finding,) = lives(store.snapshot(day(1)).state)
    plan = FindingOp(new_op_id(), day(10), "alice", Action.PLAN, finding.id, "the plan", "p.md")
    store.commit([plan])
    (finding,) = lives(store.snapshot(day(40)).state)
    assert finding.planned_at == day(10)
    assert not finding.breached


def test_regulatory_sunset_is_due_lead_days_before_the_successor(
    project: Project, store: FileStore
) -> None:
    successor = (DAY0 + dt.timedelta(days=100)).date()
    project.write(
        "registers/tiny.yaml",
        register_yaml(clause="regulatory-sunset", successor_effective=successor.isoformat()),
    )
    break_fix_break(project, store)

    due = dt.datetime.combine(successor, dt.time(), dt.UTC) - dt.timedelta(days=90)
    first, second = lives(store.snapshot(day(21)).state)
    # Both lives race the same date: the successor does not move when the finding reopens.
    assert first.clock.due == due and second.clock.due == due
    assert kinds(first) == ["due"] and first.breaches[0].at == due
    assert kinds(second) == ["due"] and second.breaches[0].at == day(20)


def test_regulatory_sunset_without_dates_counts_from_the_opening(
    project: Project, store: FileStore
) -> None:
    project.write("registers/tiny.yaml", register_yaml(clause="regulatory-sunset"))
    gate(project, store, day(0), "CVE-1")
    (finding,) = lives(store.snapshot(day(1)).state)
    assert finding.clock.due == day(90)


def test_break_fix_findings_are_breached_by_a_production_release(
    project: Project, store: FileStore
) -> None:
    project.write("registers/tiny.yaml", register_yaml(clause="break-fix"))
    break_fix_break(project, store, production=(5, 25))

    first, second = lives(store.snapshot(day(30)).state)
    assert first.clock.before_release and first.clock.due is None
    assert kinds(first) == ["release"] and first.breaches[0].at == day(5)
    assert first.status is FindingStatus.RESOLVED
    assert kinds(second) == ["release"] and second.breaches[0].at == day(25)
    events = [e.kind.value for e in second.events]
    assert events == ["finding.opened", "finding.breached"]


def test_break_fix_without_a_production_release_is_not_breached(
    project: Project, store: FileStore
) -> None:
    project.write("registers/tiny.yaml", register_yaml(clause="break-fix"))
    break_fix_break(project, store)
    first, second = lives(store.snapshot(day(400)).state)
    assert not first.breached and not second.breached


def test_a_production_check_with_an_open_break_fix_finding_is_blocked(
    project: Project, store: FileStore
) -> None:
    # images-pinned blocks and its control is break-fix: once open, the finding must be
    # fixed before production, even when the evidence that showed it is gone.
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    staging = gate(project, store, day(0))
    assert staging.decision is Decision.BLOCKED

    (project.root / "release/deploy.yaml").unlink()
    production = gate(project, store, day(1), env="production")
    assert production.decision is Decision.BLOCKED
    block = [r for r in production.results if r.policy.id == "compliancegate:break-fix"]
    assert len(block) == 1 and block[0].blocking
    assert "uses nginx:latest" in block[0].violations[0].message

    (finding,) = [f for f in store.snapshot(day(2)).state.findings.values()]
    assert kinds(finding) == ["release"]


def test_a_warn_break_fix_finding_is_reported_and_breached_but_never_blocks(
    project: Project, store: FileStore
) -> None:
    project.deploy(pinned=False)
    assert gate(project, store, day(0)).decision is Decision.COMPLIANT
    production = gate(project, store, day(1), env="production")
    assert production.decision is Decision.COMPLIANT
    assert "compliancegate:break-fix" not in [r.policy.id for r in production.results]
    (notice,) = [n for n in production.notices if n.code == "break-fix-open"]
    assert "images-pinned" in notice.message
    (finding,) = store.snapshot(day(2)).state.findings.values()
    assert kinds(finding) == ["release"]  # its clock is the clause's: breached, reported


def test_a_production_check_that_fixes_the_break_is_not_blocked(
    project: Project, store: FileStore
) -> None:
    project.deploy(pinned=False)
    gate(project, store, day(0))
    project.deploy(pinned=True)
    production = gate(project, store, day(1), env="production")
    assert production.decision is Decision.COMPLIANT
    (finding,) = store.snapshot(day(2)).state.findings.values()
    assert finding.status is FindingStatus.RESOLVED and not finding.breached


def test_a_break_first_seen_in_production_is_due_before_the_next_release(
    project: Project, store: FileStore
) -> None:
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    first = gate(project, store, day(0), env="production")
    assert first.decision is Decision.BLOCKED  # by its own policy; its clock starts now
    assert "compliancegate:break-fix" not in [r.policy.id for r in first.results]
    (project.root / "release/deploy.yaml").unlink()
    second = gate(project, store, day(1), env="production")
    assert second.decision is Decision.BLOCKED
    assert "compliancegate:break-fix" in [r.policy.id for r in second.results]


def test_the_strictest_clock_of_several_controls_applies(tmp_path: Path, project: Project) -> None:
    extra = "      - {id: CHG-1, title: Changes, severity: moderate, clause: regulatory-change}\n"
    project.write(
        "registers/tiny.yaml", register_yaml("security-incident", "high", extra_controls=extra)
    )
    project.write("policies/gate.yaml", policies_yaml("[tiny:CHG-1, tiny:VULN-1, tiny:CFG-1]"))
    store = FileStore(tmp_path / "strict")
    gate(project, store, day(0), "CVE-1")
    (finding,) = lives(store.snapshot(day(1)).state)
    # regulatory-change moderate: 60 days; security-incident high: 30; break-fix: release.
    assert finding.clock.due == day(30)
    assert finding.clock.clause == "security-incident"
    assert finding.clock.clauses == ("regulatory-change", "security-incident", "break-fix")
    assert finding.clock.before_release


def test_time_under_a_waiver_does_not_count_against_the_due_date(
    project: Project, store: FileStore
) -> None:
    waiver_until = (DAY0 + dt.timedelta(days=35)).date().isoformat()
    gate(project, store, day(0), "CVE-1")
    project.write(
        "waivers.yaml",
        f"""\
apiVersion: compliancegate/v1
kind: Waivers
waivers:
  - {{id: W-1, policy: no-critical-vulns, reason: vendor patch pending, approved_by: ciso,
     expires: "{waiver_until}"}}
""",
    )
    gate(project, store, day(5), "CVE-1")
    (finding,) = lives(store.snapshot(day(34)).state)
    assert finding.status is FindingStatus.WAIVED and finding.waiver == "W-1"
    # Due on day 30, but waived since day 5: no breach while the waiver holds.
    assert not finding.breached

    gate(project, store, day(40), "CVE-1")  # the waiver expired after day 35
    (finding,) = lives(store.snapshot(day(41)).state)
    assert finding.status is FindingStatus.OPEN
    assert kinds(finding) == ["due"] and finding.breaches[0].at == day(40)
    assert [e.kind.value for e in finding.events] == [
        "finding.opened",
        "finding.waived",
        "finding.unwaived",
    ]
