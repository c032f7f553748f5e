"""A ``check`` turned into a run operation: which policies count as evaluated (only those
resolve findings), which violations are recorded with which clock, and where the run ran
(commit, branch, CI pipeline)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ledger_project import DAY0, git, register_yaml

from compliancegate.ledger.breakfix import release_block
from compliancegate.ledger.clocks import NO_CLOCK, controls_clock
from compliancegate.ledger.observe import RunContext, observe, pipeline_id, run_context
from compliancegate.loading.policies import load_policies
from compliancegate.loading.register import load_register
from compliancegate.model import (
    CheckReport,
    ControlRef,
    Coverage,
    Decision,
    Location,
    OpenBreakFix,
    Policy,
    PolicyId,
    PolicyResult,
    Register,
    Severity,
    Status,
    Violation,
    Waiver,
)

POLICIES = "".join(
    f"""\
---
apiVersion: compliancegate/v1
kind: Policy
id: {name}
title: Policy {name}
controls: [{controls}]
severity: high
input: {{glob: "*.json"}}
rule: {{path: ok, op: equals, value: true}}
"""
    for name, controls in [
        ("passes", "tiny:VULN-1"),
        ("fails", "tiny:VULN-1"),
        ("errors", "tiny:CFG-1"),
        ("skipped", "tiny:VULN-1"),
        ("waived", "tiny:CFG-1"),
        ("two", "tiny:VULN-1, tiny:CFG-1"),
    ]
)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[dict[str, Policy], Register]:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICIES, encoding="utf-8")
    (tmp_path / "register.yaml").write_text(register_yaml(), encoding="utf-8")
    register = load_register([tmp_path / "register.yaml"])
    policies = {p.id: p for p in load_policies([tmp_path / "policies"], register).policies}
    return policies, register


WAIVER = Waiver(
    "W-1", PolicyId("waived"), (), "r", "a", dt.date(2026, 9, 30), None, "waivers.yaml", 3
)


def violation(policy: Policy, n: int, waiver: Waiver | None = None) -> Violation:
    return Violation(
        fingerprint=f"{policy.id}-{n}",
        policy=policy.id,
        controls=policy.controls,
        severity=policy.severity,
        message=f"{policy.id} item {n}",
        remediation="fix it",
        location=Location(f"{policy.id}.json", n),
        kind="raw",
        waiver=waiver,
    )


def report(setup: tuple[dict[str, Policy], Register], *, release: bool = True) -> CheckReport:
    policies, register = setup
    p = policies
    open_finding = OpenBreakFix(
        "f1", "x", None, "manual", (ControlRef("tiny:CFG-1"),), Severity.LOW, DAY0
    )
    block = release_block([open_finding], "ledger")
    assert block is not None
    results = [
        PolicyResult(p["passes"], Status.PASS),
        block,  # the gate's own rule, wherever it is, is not a policy
        PolicyResult(p["fails"], Status.FAIL, (violation(p["fails"], 1),), blocking=True),
        PolicyResult(p["errors"], Status.ERROR, (violation(p["errors"], 1),), error="broken"),
        PolicyResult(p["skipped"], Status.NOT_APPLICABLE),
        PolicyResult(p["waived"], Status.WAIVED, (violation(p["waived"], 1, WAIVER),)),
        PolicyResult(p["two"], Status.FAIL, (violation(p["two"], 1), violation(p["two"], 2))),
    ]
    return CheckReport(
        run_id="run-7",
        started_at=DAY0,
        environment="prod",
        fail_on=Severity.MODERATE,
        decision=Decision.ERROR,
        results=(*results, block),  # and at the end
        notices=(),
        coverage=Coverage(0, 0, ()),
        paths=("release",),
        tool_version="9.9",
        register=register,
        release=release,
    )


CONTEXT = RunContext("c0ffee", "main", "github:42.1")


def test_the_run_operation_records_the_run(setup: tuple[dict[str, Policy], Register]) -> None:
    op = observe(report(setup), CONTEXT, op="op-1")
    assert (op.op, op.at, op.run_id, op.environment) == ("op-1", DAY0, "run-7", "prod")
    assert (op.commit, op.branch, op.pipeline) == ("c0ffee", "main", "github:42.1")
    assert (op.decision, op.fail_on, op.tool_version) == ("error", "moderate", "9.9")
    assert op.production is True
    assert observe(report(setup, release=False), CONTEXT).production is False
    assert len(observe(report(setup), CONTEXT).op) == 32  # a fresh id when none is given


def test_only_complete_outcomes_count_as_evaluated(
    setup: tuple[dict[str, Policy], Register],
) -> None:
    """An ``error`` may have stopped early and ``not_applicable`` did not look: neither
    resolves a finding; the gate's own break-fix rule is not a policy at all."""
    op = observe(report(setup), CONTEXT)
    assert op.evaluated == ("passes", "fails", "waived", "two")
    assert op.policies == 6


def test_every_violation_is_recorded_with_its_waiver_and_clock(
    setup: tuple[dict[str, Policy], Register],
) -> None:
    _, register = setup
    op = observe(report(setup), CONTEXT)
    by_fingerprint = {v.fingerprint: v for v in op.violations}
    assert list(by_fingerprint) == ["fails-1", "errors-1", "waived-1", "two-1", "two-2"]
    fails = by_fingerprint["fails-1"]
    assert (fails.policy, fails.controls, fails.severity) == ("fails", ("tiny:VULN-1",), "high")
    assert (fails.message, fails.kind, fails.file, fails.line) == (
        "fails item 1",
        "raw",
        "fails.json",
        1,
    )
    assert (fails.waiver, fails.waiver_expires) == (None, None)
    waived = by_fingerprint["waived-1"]
    assert (waived.waiver, waived.waiver_expires) == ("W-1", dt.date(2026, 9, 30))
    for v in op.violations:
        assert v.clock == controls_clock(register, v.controls, DAY0)
    assert by_fingerprint["errors-1"].clock.before_release  # CFG-1 is break-fix
    assert not fails.clock.before_release
    two = by_fingerprint["two-2"].clock
    assert two.before_release and set(two.clauses) == {"security-incident", "break-fix"}


def test_without_a_register_violations_have_no_clock(
    setup: tuple[dict[str, Policy], Register],
) -> None:
    import dataclasses

    op = observe(dataclasses.replace(report(setup), register=None), CONTEXT)
    assert {v.clock for v in op.violations} == {NO_CLOCK}


# --------------------------------------------------------------------------- pipeline ids


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"COMPLIANCEGATE_PIPELINE": "mine-1"}, "mine-1"),
        ({"GITHUB_RUN_ID": "123"}, "github:123"),
        ({"GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "2"}, "github:123.2"),
        ({"GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": ""}, "github:123"),
        ({"GITHUB_RUN_ATTEMPT": "2", "CI_PIPELINE_ID": "9"}, "gitlab:9"),
        ({"CI_PIPELINE_ID": "9"}, "gitlab:9"),
        ({"BUILD_BUILDID": "7"}, "azure:7"),
        ({"CIRCLE_WORKFLOW_ID": "w"}, "circleci:w"),
        ({"BUILDKITE_BUILD_ID": "b"}, "buildkite:b"),
        ({"BUILD_TAG": "jenkins-x-1"}, "jenkins:jenkins-x-1"),
        ({"COMPLIANCEGATE_PIPELINE": "mine", "GITHUB_RUN_ID": "1"}, "mine"),
        ({"COMPLIANCEGATE_PIPELINE": "", "GITHUB_RUN_ID": "1"}, "github:1"),
        ({"GITHUB_RUN_ID": "1", "CI_PIPELINE_ID": "2", "BUILD_TAG": "3"}, "github:1"),
        ({"CI_PIPELINE_ID": "2", "BUILD_TAG": "3"}, "gitlab:2"),
    ],
)
def test_pipeline_id(environ: dict[str, str], expected: str | None) -> None:
    assert pipeline_id(environ) == expected


# --------------------------------------------------------------------------- run context


def repository(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "-b", "main", cwd=root)
    (root / "a.txt").write_text("a\n", encoding="utf-8")
    git("add", "a.txt", cwd=root)
    git("commit", "--quiet", "-m", "one", cwd=root)
    return git("rev-parse", "HEAD", cwd=root).strip()


def test_run_context_in_a_repository_from_a_subfolder(tmp_path: Path) -> None:
    head = repository(tmp_path / "repo")
    (tmp_path / "repo" / "sub").mkdir()
    context = run_context(tmp_path / "repo" / "sub", {"GITHUB_REF_NAME": "other", "BUILD_TAG": "t"})
    assert context == RunContext(head, "main", "jenkins:t")


def test_a_detached_head_takes_the_branch_from_the_ci(tmp_path: Path) -> None:
    head = repository(tmp_path / "repo")
    git("checkout", "--quiet", "--detach", cwd=tmp_path / "repo")
    for variable in ("GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILD_SOURCEBRANCHNAME"):
        context = run_context(tmp_path / "repo", {variable: "release-1"})
        assert context == RunContext(head, "release-1", None)
    first = run_context(tmp_path / "repo", {"CI_COMMIT_REF_NAME": "b", "GITHUB_REF_NAME": "a"})
    assert first.branch == "a"
    empty = run_context(tmp_path / "repo", {"GITHUB_REF_NAME": "", "CI_COMMIT_REF_NAME": "b"})
    assert empty.branch == "b"
    assert run_context(tmp_path / "repo", {}).branch is None


def test_outside_a_repository_there_is_no_commit(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    context = run_context(tmp_path / "plain", {"GITHUB_REF_NAME": "main"})
    assert context == RunContext(None, "main", None)


def test_a_repository_without_a_commit_has_no_commit(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    git("init", "--quiet", "-b", "main", cwd=tmp_path / "empty")
    assert run_context(tmp_path / "empty", {}).commit is None


def test_run_context_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain").mkdir()
    monkeypatch.setenv("COMPLIANCEGATE_PIPELINE", "from-env")
    monkeypatch.setenv("GITHUB_REF_NAME", "env-branch")
    assert run_context(tmp_path / "plain") == RunContext(None, "env-branch", "from-env")


@pytest.mark.parametrize(
    "error", [OSError(5, "Input/output error"), ValueError("bad ref"), PermissionError(13, "no")]
)
def test_a_repository_that_cannot_be_read_leaves_the_run_without_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """An I/O error reading the refs (a flaky network file system, a hostile ``.git``) must
    not stop the run from being recorded: it simply has no commit."""
    import git as gitpython

    repository(tmp_path / "repo")

    def fail(*args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr(gitpython.SymbolicReference, "dereference_recursive", fail)
    context = run_context(tmp_path / "repo", {"GITHUB_REF_NAME": "ci-branch"})
    assert context == RunContext(None, "ci-branch", None)
