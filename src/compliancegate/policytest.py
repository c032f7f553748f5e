"""Policy tests (``compliancegate policy test``): each case feeds a policy an input document
and states the expected outcome, as conftest's ``verify`` and Kyverno's ``test`` do.

A case passes when the policy's status is the expected one and, when ``violations`` is
given, the rendered messages are exactly that list (order ignored, duplicates counted).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.artifacts.selection import ArtifactStore, Selection
from compliancegate.check import current_time
from compliancegate.engine.conditions import EvalContext
from compliancegate.engine.durations import parse_instant
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.errors import ArtifactError, LoadError
from compliancegate.loading.documents import display, validate
from compliancegate.loading.policies import PolicyTestDocument, load_policies
from compliancegate.model import Artifact, InputSpec, Policy, Status


@dataclass(frozen=True)
class CaseOutcome:
    """The result of one test case."""

    policy: str
    name: str
    file: str
    passed: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestRun:
    """Every case's outcome, and the policies no case exercises."""

    cases: tuple[CaseOutcome, ...]
    untested: tuple[str, ...]
    hidden: tuple[Path, ...] = ()
    """Hidden YAML files below the policy folders, not read."""


@dataclass(frozen=True)
class _Fixed:
    """An artifact source that hands every policy the case's artifacts."""

    artifacts: tuple[Artifact, ...]
    errors: tuple[ArtifactError, ...] = ()

    def select(self, spec: InputSpec) -> Selection:
        return Selection(self.artifacts, self.errors, tuple(a.path for a in self.artifacts))


def _case_artifacts(
    policy: Policy, case: dict[str, Any], test_file: Path, now: dt.datetime
) -> _Fixed:
    from compliancegate.artifacts.registry import get_format

    label = f"{display(test_file)}#{case['name']}"
    if "input" in case:
        kind_or_format = case.get("format") or policy.input.format or policy.input.kind or "yaml"
        fmt = get_format(kind_or_format)
        kind = fmt.kind if fmt is not None else kind_or_format
        name = fmt.name if fmt is not None else kind_or_format
        syntax = fmt.syntax if fmt is not None else "yaml"
        # An inline document for a normalized kind is taken as already normalized.
        return _Fixed((Artifact(label, name, kind, syntax, case["input"], line=None),))
    if "input_file" in case:
        # run_policy_tests checked that it is a file and that a named format exists.
        store = ArtifactStore([test_file.parent / case["input_file"]], now=now)
        entry = store.files[0]
        forced = case.get("format") or policy.input.format
        # Read the file as the policy would: the claiming format of its input's kind first.
        wanted = store.format_for(entry, policy.input.kind)
        fmt = get_format(forced) if forced else (wanted or store.format_of(entry))
        if fmt is None:
            return _Fixed((), (ArtifactError("input_file: unknown format", file=label),))
        try:
            return _Fixed(tuple(store.artifacts(entry, fmt)))
        except ArtifactError as exc:
            return _Fixed((), (exc,))
    return _Fixed(())


def _run_case(policy: Policy, case: dict[str, Any], test_file: Path) -> CaseOutcome:
    now = parse_instant(case["now"]) if "now" in case else current_time()[0]
    name = display(test_file)
    if now is None:
        return CaseOutcome(
            policy.id,
            case["name"],
            name,
            False,
            (f"now {case['now']!r} is not an ISO 8601 date or datetime",),
        )
    source = _case_artifacts(policy, case, test_file, now)
    result, _ = evaluate_policy(policy, source, EvalContext(now), case.get("environment"))
    problems: list[str] = []
    expected = Status(case["expect"])
    if result.status is not expected:
        problems.append(f"expected {expected.value}, got {result.status.value}")
    if result.error and expected is not Status.ERROR:
        problems.append(f"error: {result.error}")
    if "violations" in case:
        got = Counter(v.message for v in result.violations)
        want = Counter(case["violations"])
        for message in sorted((want - got).elements()):
            problems.append(f"missing violation: {message}")
        for message in sorted((got - want).elements()):
            problems.append(f"unexpected violation: {message}")
    if problems and result.violations and "violations" not in case:
        problems.extend(f"got violation: {v.message}" for v in result.violations)
    return CaseOutcome(policy.id, case["name"], name, not problems, tuple(problems))


def _check_case(case: dict[str, Any], index: int, test: PolicyTestDocument) -> None:
    """A case naming a file that is not there, or a format that does not exist, is a broken
    test (exit 2), not a failed case."""
    from compliancegate.artifacts.registry import formats, get_format

    where: list[str | int] = ["cases", index]
    if "format" in case and get_format(case["format"]) is None:
        raise LoadError(
            f"case {case['name']!r}: unknown format {case['format']!r}",
            file=display(test.file),
            line=test.document.line_at([*where, "format"]),
            hint="formats: " + ", ".join(sorted(formats())),
        )
    if "input_file" in case and not (test.file.parent / case["input_file"]).is_file():
        raise LoadError(
            f"case {case['name']!r}: input_file {case['input_file']!r} is not a file",
            file=display(test.file),
            line=test.document.line_at([*where, "input_file"]),
            hint="input_file is relative to the test file",
        )


def run_policy_tests(paths: Iterable[Path]) -> TestRun:
    """Run every ``PolicyTest`` document found under ``paths`` against the policies there.

    Raises ``LoadError`` for invalid test documents, tests naming unknown policies, cases
    naming a missing input file or an unknown format, and when there is no case at all (a
    run that tested nothing must not say "0 failed").
    """
    named = list(paths)
    loaded = load_policies(named)
    policies = loaded.by_id()
    outcomes: list[CaseOutcome] = []
    tested: set[str] = set()
    for test in loaded.tests:
        name = display(test.file)
        data = test.document.data
        validate(
            "policytest",
            test.document,
            name,
            data.get("policy") if isinstance(data, dict) else None,
        )
        policy = policies.get(data["policy"])
        if policy is None:
            raise LoadError(
                f"test names unknown policy {data['policy']!r}",
                file=name,
                line=test.document.line_at(["policy"]),
            )
        tested.add(policy.id)
        for index, case in enumerate(data["cases"]):
            _check_case(case, index, test)
            outcomes.append(_run_case(policy, case, test.file))
    if not outcomes:
        raise LoadError(
            "no policy test cases found under " + ", ".join(display(p) for p in named),
            hint="tests are kind: PolicyTest documents with cases, in .yaml/.yml files "
            "beside the policies (docs/policies.md)",
        )
    untested = tuple(sorted(set(policies) - tested))
    return TestRun(tuple(outcomes), untested, loaded.hidden)
