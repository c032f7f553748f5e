"""The break-fix rule follows each policy's own decision, and fails closed: a production
release that cannot read the ledger while the register has a break-fix clause is exit 2,
unless the config turns enforcement off, and then every report says so (SPEC section 12)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from ledger_project import DAY0, Project, cli, day, policies_yaml, register_yaml

from compliancegate.ledger.breakfix import (
    BREAK_FIX_POLICY,
    has_break_fix_clause,
    release_block,
    sort_open,
    would_block,
)
from compliancegate.ledger.filestore import FileStore
from compliancegate.loading.policies import load_policies
from compliancegate.loading.register import load_register
from compliancegate.model import (
    ControlRef,
    Enforcement,
    OpenBreakFix,
    Policy,
    PolicyId,
    PolicyResult,
    Severity,
    Status,
    Violation,
)
from compliancegate.reporters import REPORTERS

LEDGER = ".compliancegate/ledger"

# --------------------------------------------------------------------------- sort_open


def policy(tmp_path: Path, enforcement: str = "block", severity: str = "moderate") -> Policy:
    """``images-pinned`` with ``enforcement`` and ``severity``, loaded from YAML."""
    text = policies_yaml(pin_enforcement=enforcement).replace(
        "severity: moderate", f"severity: {severity}"
    )
    folder = tmp_path / f"p-{enforcement}-{severity}"
    folder.mkdir()
    (folder / "gate.yaml").write_text(text, encoding="utf-8")
    (found,) = [p for p in load_policies([folder]).policies if p.id == "images-pinned"]
    return found


def finding(policy_id: str | None = "images-pinned", fingerprint: str = "f" * 64) -> OpenBreakFix:
    return OpenBreakFix(
        finding="abc123",
        fingerprint=fingerprint,
        policy=None if policy_id is None else PolicyId(policy_id),
        title="container web uses nginx:latest",
        controls=(ControlRef("tiny:CFG-1"),),
        severity=Severity.MODERATE,
        opened_at=DAY0,
    )


def violation(of: Policy, fingerprint: str = "f" * 64, waived: bool = False) -> Violation:
    from compliancegate.model import Location, Waiver

    waiver = (
        Waiver("w", of.id, (), "r", "a", dt.date(2030, 1, 1), None, "w.yaml") if waived else None
    )
    return Violation(
        fingerprint, of.id, of.controls, of.severity, "m", None, Location("x"), "raw", waiver
    )


@pytest.mark.parametrize("status", [Status.ERROR, Status.NOT_APPLICABLE])
def test_a_policy_that_did_not_complete_does_not_fix_its_finding(
    tmp_path: Path, status: Status
) -> None:
    """An errored policy may have stopped before the item; a not-applicable one did not
    look: neither fixes the break-fix finding, which still blocks."""
    pinned = policy(tmp_path)
    blocking, quiet = sort_open([finding()], [PolicyResult(pinned, status)], Severity.LOW)
    assert blocking == (finding(),) and quiet == ()


@pytest.mark.parametrize("status", [Status.PASS, Status.FAIL, Status.WAIVED])
def test_a_completed_policy_without_the_violation_fixes_it(tmp_path: Path, status: Status) -> None:
    pinned = policy(tmp_path)
    other = violation(pinned, fingerprint="e" * 64)
    result = PolicyResult(pinned, status, (other,) if status is not Status.PASS else ())
    assert sort_open([finding()], [result], Severity.LOW) == ((), ())


def test_a_violation_still_there_is_not_fixed_and_a_waived_one_is_excepted(
    tmp_path: Path,
) -> None:
    pinned = policy(tmp_path)
    still = PolicyResult(pinned, Status.FAIL, (violation(pinned),))
    assert sort_open([finding()], [still], Severity.LOW) == ((finding(),), ())
    waived = PolicyResult(pinned, Status.WAIVED, (violation(pinned, waived=True),))
    assert sort_open([finding()], [waived], Severity.LOW) == ((), ())


@pytest.mark.parametrize("enforcement", ["block", "warn", "audit"])
@pytest.mark.parametrize("severity", ["critical", "high", "moderate", "low"])
@pytest.mark.parametrize("fail_on", list(Severity))
def test_only_a_finding_whose_policy_would_block_blocks(
    tmp_path: Path, enforcement: str, severity: str, fail_on: Severity
) -> None:
    """Every enforcement, every severity on both sides of every --fail-on."""
    pinned = policy(tmp_path, enforcement, severity)
    result = PolicyResult(pinned, Status.FAIL, (violation(pinned),))
    blocking, quiet = sort_open([finding()], [result], fail_on)
    blocks = enforcement == "block" and Severity(severity).at_least(fail_on)
    assert would_block(pinned, fail_on) is blocks
    assert (blocking, quiet) == (((finding(),), ()) if blocks else ((), (finding(),)))


def test_a_manual_finding_or_one_of_a_retired_policy_blocks(tmp_path: Path) -> None:
    pinned = policy(tmp_path, "warn")
    results = [PolicyResult(pinned, Status.PASS)]
    manual, retired = finding(None), finding("retired-policy", "d" * 64)
    assert sort_open([manual, retired], results, Severity.CRITICAL) == ((manual, retired), ())


def test_release_block_lists_each_finding(tmp_path: Path) -> None:
    assert release_block((), "ledger") is None
    block = release_block((finding(), finding(None, "d" * 64)), "ledger")
    assert block is not None and block.blocking and block.status is Status.FAIL
    assert block.policy.id == BREAK_FIX_POLICY and block.policy.enforcement is Enforcement.BLOCK
    assert len(block.violations) == 2


def test_has_break_fix_clause(tmp_path: Path) -> None:
    with_clause = tmp_path / "with.yaml"
    with_clause.write_text(register_yaml(), encoding="utf-8")
    assert has_break_fix_clause(load_register([with_clause]))
    without = tmp_path / "without.yaml"
    without.write_text(
        register_yaml().replace("clause: break-fix", "clause: security-incident"),
        encoding="utf-8",
    )
    assert not has_break_fix_clause(load_register([without]))
    assert not has_break_fix_clause(None)


# --------------------------------------------------------------------------- fail closed


def open_a_break_fix_finding(project: Project) -> None:
    """A blocking images-pinned finding (break-fix control) opened by a staging run, whose
    deployment is then removed: it is not fixed, and the next release must be blocked."""
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    assert cli(["check", "--env", "staging"]).code == 1
    (project.root / "release/deploy.yaml").unlink()


def production(*extra: str, now: dt.datetime | None = None) -> Any:
    return cli(
        ["check", "--env", "production", "--report", "json=out/report.json", *extra],
        now=now or day(1),
    )


def assert_fails_closed(outcome: Any, project: Project, *fragments: str) -> None:
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    text = " ".join(outcome.stdout.split())  # the text report wraps at 80 columns
    assert "compliancegate:break-fix" in text
    assert "break_fix: {enforce: false}" in text  # says what to do
    for fragment in fragments:
        assert fragment in text
    report = json.loads((project.root / "out/report.json").read_text(encoding="utf-8"))
    assert report["decision"] == "error"
    (rule,) = [r for r in report["results"] if r["policy"]["id"] == "compliancegate:break-fix"]
    assert rule["status"] == "error" and rule["blocking"]


def test_the_open_finding_blocks_a_readable_ledger(project: Project) -> None:
    open_a_break_fix_finding(project)
    outcome = production()
    assert outcome.code == 1 and "compliancegate:break-fix" in outcome.stdout


def test_a_release_that_starts_a_new_ledger_says_so(project: Project) -> None:
    """A folder ledger on an ephemeral runner is new at every release, so it never blocks
    one on a break-fix finding: the report says so (and only when the ledger is new)."""
    open_a_break_fix_finding(project)
    outcome = production("--ledger", "elsewhere")
    report = json.loads((project.root / "out/report.json").read_text(encoding="utf-8"))
    (notice,) = [n for n in report["notices"] if n["code"] == "ledger-new"]
    assert "elsewhere" in notice["message"] and "git:" in notice["message"], outcome.output
    production("--ledger", "elsewhere")
    report = json.loads((project.root / "out/report.json").read_text(encoding="utf-8"))
    assert "ledger-new" not in {n["code"] for n in report["notices"]}


def test_no_ledger_in_a_production_release_fails_closed(project: Project) -> None:
    open_a_break_fix_finding(project)
    assert_fails_closed(production("--no-ledger"), project, "--no-ledger")


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{",
        b"not json at all",
        b'{"seq": 0, "hash": "' + b"0" * 64 + b'"}',
        b"\xff\xfe",
    ],
)
def test_a_damaged_head_file_fails_closed(project: Project, damage: bytes) -> None:
    open_a_break_fix_finding(project)
    (project.root / LEDGER / "head.json").write_bytes(damage)
    assert_fails_closed(production(), project)


def test_an_edited_record_fails_closed(project: Project) -> None:
    open_a_break_fix_finding(project)
    records = project.root / LEDGER / "records.jsonl"
    records.write_bytes(records.read_bytes().replace(b"nginx:latest", b"nginx:stable"))
    assert_fails_closed(production(), project)


def test_a_ledger_that_is_a_file_fails_closed(project: Project) -> None:
    open_a_break_fix_finding(project)
    project.write("not-a-folder", "x")
    assert_fails_closed(production("--ledger", "not-a-folder"), project)


def test_an_unreachable_remote_on_a_fresh_runner_fails_closed(
    project: Project, tmp_path: Path
) -> None:
    open_a_break_fix_finding(project)
    outcome = production("--ledger", f"git:{tmp_path}/nowhere.git#ledger")
    assert_fails_closed(outcome, project, "no copy")


def test_without_a_break_fix_clause_an_unreadable_ledger_is_a_notice(project: Project) -> None:
    project.write(
        "registers/tiny.yaml",
        register_yaml().replace("clause: break-fix", "clause: security-incident"),
    )
    outcome = production("--no-ledger", "--format", "json")
    assert outcome.code == 0, outcome.output
    assert "ledger-unavailable" in [n["code"] for n in outcome.json()["notices"]]


ENFORCE_OFF = """\
apiVersion: compliancegate/v1
kind: Config
environments:
  production: {production: true}
  staging: {}
break_fix: {enforce: false}
"""


def test_enforcement_off_is_said_by_every_report(project: Project) -> None:
    open_a_break_fix_finding(project)
    project.write("compliancegate.yaml", ENFORCE_OFF)
    reports = [f"--report={fmt}=out/report.{fmt}" for fmt in sorted(REPORTERS)]
    outcome = cli(["check", "--env", "production", "--no-ledger", *reports], now=day(1))
    assert outcome.code == 0, outcome.output
    assert "break-fix-off" in outcome.stdout
    for fmt in REPORTERS:
        text = (project.root / f"out/report.{fmt}").read_text(encoding="utf-8")
        assert "break-fix enforcement is off" in text, fmt
    # With a readable ledger too: the open finding does not block, and it is said.
    outcome = cli(["check", "--env", "production", "--format", "json"], now=day(1))
    assert outcome.code == 0, outcome.output
    assert "break-fix-off" in [n["code"] for n in outcome.json()["notices"]]


# --------------------------------------------------------------------------- environments


PROD = """\
apiVersion: compliancegate/v1
kind: Config
environments:
  stage: {}
  prod: {production: true}
"""


def test_the_declared_production_environment_is_a_release_whatever_its_name(
    project: Project,
) -> None:
    project.write("compliancegate.yaml", PROD)
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    assert cli(["check", "--env", "stage"]).code == 1
    (project.root / "release/deploy.yaml").unlink()
    refused = cli(["check", "--env", "production"], now=day(1))
    assert refused.code == 2 and "stage, prod" in refused.stderr
    outcome = cli(["check", "--env", "prod", "--format", "json"], now=day(1))
    assert outcome.code == 1, outcome.output
    assert "compliancegate:break-fix" in [r["policy"]["id"] for r in outcome.json()["results"]]
    (finding_,) = FileStore(project.root / LEDGER).snapshot(day(2)).state.findings.values()
    assert [b.kind for b in finding_.breaches] == ["release"]


def test_a_run_without_env_is_not_a_release(project: Project) -> None:
    open_a_break_fix_finding(project)
    outcome = cli(["check", "--format", "json"], now=day(1))
    document = outcome.json()
    assert outcome.code == 0, outcome.output
    assert document["run"]["environment"] == "production"
    assert "not-a-release" in [n["code"] for n in document["notices"]]
    assert "compliancegate:break-fix" not in [r["policy"]["id"] for r in document["results"]]
    (finding_,) = FileStore(project.root / LEDGER).snapshot(day(2)).state.findings.values()
    assert finding_.breaches == ()


# --------------------------------------------------------------------------- observation


def run_at(project: Project, at: dt.datetime, env: str = "staging") -> Any:
    outcome = cli(["check", "--env", env, "--format", "json"], now=at)
    return outcome


def cve_findings(project: Project) -> list[Any]:
    state = FileStore(project.root / LEDGER).snapshot(day(30)).state
    return [f for f in state.findings.values() if f.policy == "no-critical-vulns"]


@pytest.mark.parametrize(
    "broken",
    [
        "{",  # the scan cannot be parsed
        '{"vulnerabilities": [{"id": "CVE-1", "severity": "critical"}',  # truncated
        "\ufeff\x00binary",  # not JSON at all
    ],
)
def test_a_policy_that_errors_does_not_resolve_its_open_findings(
    project: Project, broken: str
) -> None:
    project.scan("CVE-1")
    assert run_at(project, day(0)).code == 1
    (opened,) = cve_findings(project)
    project.write("release/scan.json", broken)
    errored = run_at(project, day(1))
    assert errored.code == 2, errored.output
    (still,) = cve_findings(project)
    assert still.id == opened.id and still.live and still.resolved_at is None
    run = [r for r in errored.json()["results"] if r["policy"]["id"] == "no-critical-vulns"]
    assert run[0]["status"] == "error"
    project.scan()
    assert run_at(project, day(2)).code == 0
    (fixed,) = cve_findings(project)
    assert not fixed.live  # a complete evaluation without the violation resolves it


def test_an_errored_policy_does_not_fix_a_break_fix_finding(project: Project) -> None:
    """The break-fix finding of a block policy that errors in the release stays open and
    blocks (the error already makes the decision error; the finding is listed too)."""
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    assert run_at(project, day(0)).code == 1
    project.write("release/deploy.yaml", "spec: [unclosed\n")
    outcome = run_at(project, day(1), env="production")
    assert outcome.code == 2, outcome.output
    results = {r["policy"]["id"]: r for r in outcome.json()["results"]}
    assert results["images-pinned"]["status"] == "error"
    assert results["compliancegate:break-fix"]["status"] == "fail"
    (finding_,) = [
        f
        for f in FileStore(project.root / LEDGER).snapshot(day(2)).state.findings.values()
        if f.policy == "images-pinned"
    ]
    assert finding_.live and [b.kind for b in finding_.breaches] == ["release"]


def test_the_github_annotations_keep_the_enforcement_notice_when_the_budget_is_full() -> None:
    from compliancegate.model import CheckReport, Coverage, Decision, Notice
    from compliancegate.reporters.github import GitHubReporter

    many = [Notice("waiver-unused", f"waiver w{i} matched nothing") for i in range(12)]
    off = Notice("break-fix-off", "break-fix enforcement is off (break_fix: {enforce: false})")
    report = CheckReport(
        run_id="r",
        started_at=DAY0,
        environment="production",
        fail_on=Severity.LOW,
        decision=Decision.COMPLIANT,
        results=(),
        notices=(*many, off),
        coverage=Coverage(0, 0, ()),
        paths=(),
        tool_version="0",
    )
    for limit in (2, 3, 10):
        text = GitHubReporter(limit=limit).render(report)
        assert "break-fix enforcement is off" in text, limit


# --------------------------------------------------------------------------- the rule's result


def test_the_block_result_is_exact() -> None:
    from compliancegate.engine.conditions import Condition
    from compliancegate.engine.evaluation import fingerprint
    from compliancegate.model import InputSpec, Location

    moderate = finding("images-pinned", "a" * 64)
    high = OpenBreakFix(
        "def456",
        "b" * 64,
        None,
        "manual: the backup job is off",
        (ControlRef("tiny:CFG-2"), ControlRef("tiny:CFG-1")),
        Severity.HIGH,
        dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC),
    )
    block = release_block((moderate, high), "git:ledger#x")
    assert block is not None
    rule = block.policy
    assert rule.id == BREAK_FIX_POLICY == "compliancegate:break-fix"
    assert rule.title == "Break-fix findings are fixed before the next production release"
    assert rule.description == (
        "A finding under a break-fix clause must be resolved before production."
    )
    assert rule.controls == ("tiny:CFG-1", "tiny:CFG-2")  # each once, in order
    # max by rank: "moderate" sorts after "high" as a string, not as a severity
    assert rule.severity is Severity.HIGH
    assert rule.enforcement is Enforcement.BLOCK and rule.required is True
    assert rule.environments == ("production",)
    assert rule.input == InputSpec(kind="ledger") and isinstance(rule.rule, Condition)
    assert rule.file == "git:ledger#x"
    assert (block.status, block.blocking, block.error) == (Status.FAIL, True, None)
    first, second = block.violations
    assert first.fingerprint == fingerprint(BREAK_FIX_POLICY, "ledger", "abc123")
    assert second.fingerprint == fingerprint(BREAK_FIX_POLICY, "ledger", "def456")
    assert (first.policy, first.controls, first.severity) == (
        BREAK_FIX_POLICY,
        ("tiny:CFG-1",),
        Severity.MODERATE,
    )
    assert first.message == (
        "break-fix finding abc123 (open since 2026-03-02, policy images-pinned) is not "
        "fixed: container web uses nginx:latest"
    )
    assert first.remediation == (
        "Fix it before releasing to production: a run that evaluates policy images-pinned "
        "and passes resolves it (compliancegate findings show abc123)"
    )
    assert second.message == (
        "break-fix finding def456 (open since 2026-03-02) is not fixed: "
        "manual: the backup job is off"
    )
    assert second.remediation == (
        "Fix it before releasing to production: a run that evaluates it and passes "
        "resolves it (compliancegate findings show def456)"
    )
    for v in (first, second):
        assert (v.location, v.kind, v.waiver) == (Location("git:ledger#x"), "ledger", None)
    low_and_critical = release_block(
        (finding(), OpenBreakFix("c", "c", None, "t", (), Severity.CRITICAL, DAY0)), "l"
    )
    assert low_and_critical is not None and low_and_critical.policy.severity is Severity.CRITICAL


def test_the_day_a_finding_opened_is_the_utc_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """23:30 UTC is already the next day east of Greenwich: the message says the UTC day,
    whatever the runner's time zone."""
    import time

    late = OpenBreakFix(
        "late",
        "l" * 64,
        None,
        "t",
        (),
        Severity.LOW,
        dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC),
    )
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        block = release_block((late,), "ledger")
        assert block is not None and "open since 2026-03-02" in block.violations[0].message
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_unreadable_result_is_an_errored_blocking_rule() -> None:
    from compliancegate.ledger.breakfix import unreadable_result

    result = unreadable_result("could not read: x", "ledger-dir", "do this")
    assert (result.status, result.blocking, result.violations) == (Status.ERROR, True, ())
    assert result.error == "could not read: x; do this"
    assert result.policy.id == BREAK_FIX_POLICY and result.policy.severity is Severity.CRITICAL
    assert result.policy.controls == () and result.policy.file == "ledger-dir"


@pytest.mark.parametrize("count", [1, 2, 5, 6, 7])
def test_the_notice_for_findings_that_do_not_block(count: int) -> None:
    from compliancegate.ledger.breakfix import quiet_notice

    quiet = [finding(f"p{i}", str(i) * 64) for i in range(count)]
    notice = quiet_notice(quiet)
    assert notice.code == "break-fix-open" and notice.file is None
    shown = ", ".join(f"abc123 (p{i})" for i in range(min(count, 5)))
    more = f" and {count - 5} more" if count > 5 else ""
    assert notice.message == (
        f"{count} open break-fix finding(s) of policies that do not block "
        f"(warn, audit or below --fail-on) are not fixed: {shown}{more}"
    )


def test_every_open_finding_is_sorted_whatever_comes_before_it(tmp_path: Path) -> None:
    """A fixed or waived finding early in the list does not end the sorting."""
    block_policy, warn_policy = policy(tmp_path), policy(tmp_path, "warn", "high")
    fixed = finding("images-pinned", "1" * 64)
    waived = finding("images-pinned", "2" * 64)
    unfixed = finding("images-pinned", "3" * 64)
    results = [
        PolicyResult(
            block_policy,
            Status.FAIL,
            (violation(block_policy, "2" * 64, waived=True), violation(block_policy, "3" * 64)),
        )
    ]
    assert sort_open([fixed, waived, unfixed], results, Severity.LOW) == ((unfixed,), ())
    assert sort_open([waived, fixed, unfixed], results, Severity.LOW) == ((unfixed,), ())
    warn_results = [PolicyResult(warn_policy, Status.FAIL, (violation(warn_policy, "3" * 64),))]
    manual = finding(None, "4" * 64)
    assert sort_open([unfixed, manual], warn_results, Severity.LOW) == ((manual,), (unfixed,))


def test_only_open_break_fix_findings_are_read_from_the_ledger(project: Project) -> None:
    from compliancegate.ledger.breakfix import open_break_fix

    project.scan("CVE-1")  # no-critical-vulns: security-incident, not break-fix
    project.deploy(pinned=False)  # images-pinned: break-fix
    cli(["check", "--env", "staging"], now=day(0))
    state = FileStore(project.root / LEDGER).snapshot(day(1)).state
    assert len(state.live()) == 2
    (found,) = open_break_fix(state)
    live = {f.policy: f for f in state.live()}["images-pinned"]
    assert found == OpenBreakFix(
        finding=live.id,
        fingerprint=live.fingerprint,
        policy=PolicyId("images-pinned"),
        title="container web uses nginx:latest",
        controls=(ControlRef("tiny:CFG-1"),),
        severity=Severity.MODERATE,
        opened_at=day(0),
    )
    project.write(
        "waivers.yaml",
        "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n"
        "  - {policy: images-pinned, reason: r, approved_by: a, expires: '2030-01-01'}\n",
    )
    cli(["check", "--env", "staging", "--waivers", "waivers.yaml"], now=day(2))
    state = FileStore(project.root / LEDGER).snapshot(day(3)).state
    assert open_break_fix(state) == ()  # waived: excepted
    assert len(state.live()) == 2
