"""A ``check`` turned into a run operation: where and when it ran, and what it found."""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compliancegate.ledger.breakfix import BREAK_FIX_POLICY
from compliancegate.ledger.clocks import Clock, controls_clock
from compliancegate.ledger.operations import (
    ObservedViolation,
    RunOp,
    clock_override_json,
    new_op_id,
)
from compliancegate.ledger.overflow import DEFAULT_CAP, PolicyOverflow
from compliancegate.model import CheckReport, Register, Severity, Status, Violation

_EVALUATED = (Status.PASS, Status.FAIL, Status.WAIVED)
"""Outcomes that are complete: a violation missing from them is fixed. An ``error`` result
may have stopped early and ``not_applicable`` did not look, so neither resolves anything."""

# The CI systems' own ids for the pipeline run, most specific first.
_PIPELINE_VARIABLES = (
    ("COMPLIANCEGATE_PIPELINE", ""),
    ("GITHUB_RUN_ID", "github"),
    ("CI_PIPELINE_ID", "gitlab"),
    ("BUILD_BUILDID", "azure"),
    ("CIRCLE_WORKFLOW_ID", "circleci"),
    ("BUILDKITE_BUILD_ID", "buildkite"),
    ("BUILD_TAG", "jenkins"),
)
_BRANCH_VARIABLES = ("GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILD_SOURCEBRANCHNAME")


@dataclass(frozen=True)
class RunContext:
    """Where a run happened."""

    commit: str | None
    """The commit checked out in the repository being gated, when there is one."""
    branch: str | None
    pipeline: str | None
    """The CI system's id of the pipeline run, e.g. ``github:123456789.1``."""


def pipeline_id(environ: Mapping[str, str]) -> str | None:
    """The CI pipeline's id from the environment (``COMPLIANCEGATE_PIPELINE`` first)."""
    for variable, system in _PIPELINE_VARIABLES:
        value = environ.get(variable)
        if value:
            if system == "github" and environ.get("GITHUB_RUN_ATTEMPT"):
                value = f"{value}.{environ['GITHUB_RUN_ATTEMPT']}"
            return f"{system}:{value}" if system else value
    return None


def run_context(cwd: Path, environ: Mapping[str, str] | None = None) -> RunContext:
    """The commit and branch of the repository around ``cwd`` (None outside one) and the
    pipeline id."""
    env = os.environ if environ is None else environ
    commit = branch = None
    import git

    # Outside a repository, or in one without a commit yet, the run simply has no commit.
    with (
        contextlib.suppress(git.GitError, ValueError, OSError),
        git.Repo(cwd, search_parent_directories=True) as repo,
    ):
        # Read from the ref files, without running git: an inherited GIT_DIR (a hook) must
        # not make the lookup read another repository.
        commit = git.SymbolicReference.dereference_recursive(repo, "HEAD")
        if not repo.head.is_detached:
            branch = repo.active_branch.name
    if branch is None:
        branch = next((env[v] for v in _BRANCH_VARIABLES if env.get(v)), None)
    return RunContext(commit, branch, pipeline_id(env))


def observe(
    report: CheckReport, context: RunContext, op: str | None = None, cap: int = DEFAULT_CAP
) -> RunOp:
    """The run operation for ``report``: every violation, waived or not, with its clock.

    At most ``cap`` violations per policy (distinct fingerprints, the smallest) are kept with
    their text; the others of the policy are kept as fingerprints only (``overflow.py``).
    """
    if cap < 1:
        raise ValueError(f"the cap must be at least 1, not {cap}")
    clocks: dict[tuple[str, ...], Clock] = {}
    violations: list[ObservedViolation] = []
    overflow: list[PolicyOverflow] = []
    evaluated = []
    policies = 0
    count = 0
    for result in report.results:
        if result.policy.id == BREAK_FIX_POLICY:
            continue  # the ledger's own block, not a policy: it records nothing new
        policies += 1
        if result.status in _EVALUATED:
            evaluated.append(str(result.policy.id))
        # One pass, keeping references to the report's violations (no copies): the first
        # violation of each fingerprint, as the ledger has always taken it.
        distinct: dict[str, Violation] = {}
        for v in result.violations:
            count += 1
            distinct.setdefault(v.fingerprint, v)
        if len(distinct) <= cap:
            kept = list(distinct.values())
        else:
            # The smallest fingerprints, so the same violations are kept in full whatever
            # order the evidence lists them in.
            smallest = heapq.nsmallest(cap, distinct)
            kept = [distinct.pop(fp) for fp in smallest]
            overflow.append(_overflow(str(result.policy.id), distinct, report, clocks))
        for v in kept:
            violations.append(_observed(v, report, clocks))
    return RunOp(
        op=op or new_op_id(),
        at=report.started_at,
        run_id=report.run_id,
        environment=report.environment,
        commit=context.commit,
        branch=context.branch,
        pipeline=context.pipeline,
        decision=report.decision.value,
        fail_on=report.fail_on.value,
        tool_version=report.tool_version,
        policies=policies,
        evaluated=tuple(evaluated),
        violations=tuple(violations),
        clock_override=(
            None if report.clock_override is None else clock_override_json(report.clock_override)
        ),
        production=report.release,
        overflow=tuple(overflow),
        cap=cap,
        violation_count=count,
    )


def _clock(
    register: Register | None,
    controls: tuple[str, ...],
    report: CheckReport,
    clocks: dict[tuple[str, ...], Clock],
) -> Clock:
    clock = clocks.get(controls)
    if clock is None:
        clock = clocks[controls] = controls_clock(register, controls, report.started_at)
    return clock


def _observed(
    v: Violation, report: CheckReport, clocks: dict[tuple[str, ...], Clock]
) -> ObservedViolation:
    key = tuple(v.controls)
    waiver = v.waiver
    return ObservedViolation(
        fingerprint=v.fingerprint,
        policy=str(v.policy),
        controls=key,
        severity=v.severity,
        message=v.message,
        kind=v.kind,
        file=v.location.file,
        line=v.location.line,
        waiver=None if waiver is None else waiver.id,
        waiver_expires=None if waiver is None else waiver.expires,
        clock=_clock(report.register, key, report, clocks),
    )


def _overflow(
    policy: str,
    rest: Mapping[str, Violation],
    report: CheckReport,
    clocks: dict[tuple[str, ...], Clock],
) -> PolicyOverflow:
    """The violations of ``policy`` past the cap: fingerprints, waivers, and what the
    finding that follows them needs (every control, the highest severity)."""
    violations = rest.values()
    # Violations of one policy mostly share their controls and severity: comprehensions
    # over sets of them, rather than a loop that compares each violation's.
    controls = {c for group in {tuple(v.controls) for v in violations} for c in group}
    severity = max({v.severity for v in violations}, key=lambda s: s.rank, default=Severity.LOW)
    waivers = {
        fp: (v.waiver.id, v.waiver.expires) for fp, v in rest.items() if v.waiver is not None
    }
    kind = next(iter(violations)).kind if rest else ""
    key = tuple(sorted(controls))
    return PolicyOverflow(
        policy=policy,
        fingerprints=tuple(sorted(rest)),
        waivers=waivers,
        controls=key,
        severity=severity,
        kind=kind,
        clock=_clock(report.register, key, report, clocks),
    )
