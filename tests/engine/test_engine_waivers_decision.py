"""Waivers (shown and counted, never silent; expired ones reported) and the gate's decision."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.engine.conditions import EvalContext
from compliancegate.engine.decision import coverage, decide, is_blocking
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.engine.waivers import apply_waivers
from compliancegate.errors import LoadError
from compliancegate.loading.register import load_register
from compliancegate.loading.waivers import load_waivers
from compliancegate.model import Decision, Policy, PolicyResult, Severity, Status, Waiver

MakePolicy = Callable[..., Policy]
Write = Callable[[str, str], Path]
Store = Callable[[], ArtifactStore]

TODAY = dt.date(2026, 6, 15)

RULE = """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {path: ok, op: equals, value: true}
message: "{item.name}"
"""


@pytest.fixture
def evaluated(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> tuple[list[PolicyResult], dict[str, Any]]:
    """Policy ``p`` with two violations (``b`` and ``c``)."""
    policy = make_policy(RULE)
    write(
        "artifacts/x.json",
        json.dumps({"items": [{"name": "b", "ok": False}, {"name": "c", "ok": False}]}),
    )
    result, items = evaluate_policy(policy, store(), ctx, "production")
    assert result.status is Status.FAIL
    return [result], items


def waivers(write: Write, body: str) -> tuple[Waiver, ...]:
    text = "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n" + body
    return load_waivers(write("waivers.yaml", text))


def apply(
    evaluated: tuple[list[PolicyResult], dict[str, Any]],
    found: tuple[Waiver, ...],
    *,
    today: dt.date = TODAY,
    environment: str | None = "production",
) -> tuple[PolicyResult, list[Any]]:
    results, items = evaluated
    out, notices = apply_waivers(results, items, found, today=today, environment=environment)
    (result,) = out
    return result, notices


# --------------------------------------------------------------------------- waivers


def test_waiver_with_match_waives_only_that_item(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - id: w1
    policy: p
    match: {name: b}
    reason: accepted risk
    approved_by: ciso@example.com
    expires: "2026-12-31"
""",
    )
    result, notices = apply(evaluated, found)
    assert result.status is Status.FAIL  # c is still open
    waived = {v.message: v.waived for v in result.violations}
    assert waived == {"b": True, "c": False}
    # Waived violations are kept and shown, never dropped.
    assert len(result.violations) == 2
    assert [v.message for v in result.open_violations] == ["c"]
    assert result.violations[0].waiver is not None
    assert result.violations[0].waiver.id == "w1"
    assert notices == []


def test_all_violations_waived_is_status_waived(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - policy: p
    reason: vendor fix pending
    approved_by: ciso@example.com
    expires: "2026-06-15"
""",
    )
    result, notices = apply(evaluated, found)
    assert result.status is Status.WAIVED
    assert len(result.violations) == 2
    assert all(v.waived for v in result.violations)
    assert result.open_violations == ()
    assert notices == []


def test_expired_waiver_does_not_apply_and_is_reported(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - id: old
    policy: p
    reason: vendor fix pending
    approved_by: ciso@example.com
    expires: "2026-06-14"
""",
    )
    result, notices = apply(evaluated, found)
    assert result.status is Status.FAIL
    assert not any(v.waived for v in result.violations)
    (notice,) = notices
    assert notice.code == "waiver-expired"
    assert "old" in notice.message
    assert "2026-06-14" in notice.message
    assert notice.file is not None
    assert notice.file.endswith("waivers.yaml")
    assert notice.line == 4
    # The day it expires it still applies.
    result, notices = apply(evaluated, found, today=dt.date(2026, 6, 14))
    assert result.status is Status.WAIVED
    assert notices == []


def test_waiver_for_another_environment_does_not_apply(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - policy: p
    reason: staging only
    approved_by: ciso@example.com
    expires: "2026-12-31"
    environments: [staging]
""",
    )
    assert apply(evaluated, found)[0].status is Status.FAIL
    assert apply(evaluated, found, environment="staging")[0].status is Status.WAIVED


def test_waiver_match_is_strict(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - policy: p
    match: {name: b, ok: 0}
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    result, notices = apply(evaluated, found)
    # ok is false, not 0: the waiver matches nothing, and says so.
    assert not any(v.waived for v in result.violations)
    assert [n.code for n in notices] == ["waiver-unused"]


def test_waiver_for_unknown_policy_is_reported(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - policy: no-such-policy
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    result, notices = apply(evaluated, found)
    assert result.status is Status.FAIL
    assert [n.code for n in notices] == ["waiver-unknown-policy"]


def test_waivers_never_turn_an_error_into_a_pass(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(RULE)
    write("artifacts/broken.json", "{")
    results, items = evaluate_policy(policy, store(), ctx, None)
    assert results.status is Status.ERROR
    found = waivers(
        write,
        """\
  - policy: p
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    out, _ = apply_waivers([results], items, found, today=TODAY, environment=None)
    assert out[0].status is Status.ERROR


def test_missing_evidence_can_be_waived_only_without_match(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(RULE)
    result, items = evaluate_policy(policy, store(), ctx, None)
    assert result.status is Status.FAIL
    found = waivers(
        write,
        """\
  - policy: p
    match: {name: b}
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    out, _ = apply_waivers([result], items, found, today=TODAY, environment=None)
    assert out[0].status is Status.FAIL


# --------------------------------------------------------------------------- decision


def result_for(
    make_policy: MakePolicy,
    status: Status,
    *,
    severity: str = "high",
    enforcement: str = "block",
    id: str = "p",
) -> PolicyResult:
    policy = make_policy(RULE + f"enforcement: {enforcement}\n", id=id, severity=severity)
    return PolicyResult(policy, status)


def anchor(make_policy: MakePolicy) -> PolicyResult:
    """A critical block policy that passed: the run evaluated something that could block."""
    return result_for(make_policy, Status.PASS, severity="critical", id="anchor")


@pytest.mark.parametrize(
    ("severity", "fail_on", "blocks"),
    [
        ("critical", Severity.CRITICAL, True),
        ("high", Severity.CRITICAL, False),
        ("high", Severity.HIGH, True),
        ("moderate", Severity.HIGH, False),
        ("moderate", Severity.MODERATE, True),
        ("low", Severity.MODERATE, False),
        ("low", Severity.LOW, True),
        ("critical", Severity.LOW, True),
    ],
)
def test_fail_on_threshold(
    make_policy: MakePolicy, severity: str, fail_on: Severity, blocks: bool
) -> None:
    result = result_for(make_policy, Status.FAIL, severity=severity)
    marked, decision = decide([result, anchor(make_policy)], fail_on)
    assert marked[0].blocking is blocks
    assert decision is (Decision.BLOCKED if blocks else Decision.COMPLIANT)


@pytest.mark.parametrize("enforcement", ["warn", "audit"])
@pytest.mark.parametrize("status", [Status.FAIL, Status.ERROR])
def test_warn_and_audit_never_block(
    make_policy: MakePolicy, enforcement: str, status: Status
) -> None:
    result = result_for(make_policy, status, severity="critical", enforcement=enforcement)
    marked, decision = decide([result, anchor(make_policy)], Severity.LOW)
    assert not marked[0].blocking
    assert decision is Decision.COMPLIANT


@pytest.mark.parametrize("status", [Status.PASS, Status.WAIVED, Status.NOT_APPLICABLE])
def test_non_failing_statuses_never_block(make_policy: MakePolicy, status: Status) -> None:
    result = result_for(make_policy, status, severity="critical")
    assert not is_blocking(result, Severity.LOW)
    assert decide([result, anchor(make_policy)], Severity.LOW)[1] is Decision.COMPLIANT


def test_blocking_error_makes_the_decision_error(make_policy: MakePolicy) -> None:
    failed = result_for(make_policy, Status.FAIL, id="a")
    errored = result_for(make_policy, Status.ERROR, id="b")
    marked, decision = decide([failed, errored], Severity.LOW)
    assert decision is Decision.ERROR
    assert [r.blocking for r in marked] == [True, True]


def test_error_below_the_threshold_does_not_make_the_decision_error(
    make_policy: MakePolicy,
) -> None:
    errored = result_for(make_policy, Status.ERROR, severity="low", id="b")
    failed = result_for(make_policy, Status.FAIL, severity="critical", id="a")
    assert decide([errored, anchor(make_policy)], Severity.HIGH)[1] is Decision.COMPLIANT
    assert decide([errored, failed], Severity.HIGH)[1] is Decision.BLOCKED


def test_a_partly_waived_policy_blocks_and_a_waived_one_does_not(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    partly = waivers(
        write,
        """\
  - policy: p
    match: {name: b}
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    result, _ = apply(evaluated, partly)
    assert decide([result], Severity.LOW)[1] is Decision.BLOCKED
    fully = waivers(
        write,
        """\
  - policy: p
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    result, _ = apply(evaluated, fully)
    assert decide([result], Severity.LOW)[1] is Decision.COMPLIANT


def test_coverage_gaps(make_policy: MakePolicy, write: Write) -> None:
    register = load_register(
        [
            write(
                "register.yaml",
                """\
                apiVersion: compliancegate/v1
                kind: Register
                metadata: {name: r}
                standards:
                  - id: std
                    title: Standard
                    controls:
                      - {id: C-1, title: One, severity: high, clause: break-fix}
                      - {id: C-2, title: Two, severity: low, clause: break-fix}
                """,
            )
        ]
    )
    policy = make_policy(RULE)  # implements std:C-1
    result = coverage(register, [policy])
    assert result.controls == 2
    assert result.implemented == 1
    assert result.gaps == ("std:C-2",)
    assert coverage(None, [policy]).controls == 0


# --------------------------------------------------------------------------- nothing evaluated

SEVERITIES = ["critical", "high", "moderate", "low"]


@pytest.mark.parametrize("fail_on", list(Severity))
@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize(
    ("status", "enforcement"),
    [
        (Status.PASS, "block"),
        (Status.WAIVED, "block"),
        (Status.NOT_APPLICABLE, "block"),
        (Status.PASS, "warn"),
        (Status.FAIL, "warn"),
        (Status.PASS, "audit"),
        (Status.FAIL, "audit"),
        (Status.ERROR, "audit"),
    ],
)
def test_a_run_that_evaluated_nothing_that_could_block_is_not_compliant(
    make_policy: MakePolicy, fail_on: Severity, severity: str, status: Status, enforcement: str
) -> None:
    """Every mix of one result: compliant only when a block policy at or above fail_on
    completed; never compliant otherwise (not applicable, warn, audit, below the line)."""
    result = result_for(make_policy, status, severity=severity, enforcement=enforcement)
    decision = decide([result], fail_on)[1]
    could_block = enforcement == "block" and Severity(severity).at_least(fail_on)
    if could_block and status in (Status.PASS, Status.WAIVED):
        assert decision is Decision.COMPLIANT
    else:
        assert decision is Decision.ERROR


def test_an_empty_run_is_not_compliant() -> None:
    assert decide([], Severity.LOW)[1] is Decision.ERROR


def test_an_error_below_the_line_with_nothing_else_is_not_compliant(
    make_policy: MakePolicy,
) -> None:
    errored = result_for(make_policy, Status.ERROR, severity="low")
    assert decide([errored], Severity.HIGH)[1] is Decision.ERROR


# --------------------------------------------------------------------------- waiver breadth


@pytest.fixture
def missing(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> tuple[list[PolicyResult], dict[str, Any]]:
    """Policy ``p`` with no artifact at all: one "missing evidence" violation."""
    result, items = evaluate_policy(make_policy(RULE), store(), ctx, None)
    assert result.status is Status.FAIL and "missing evidence" in result.violations[0].message
    return [result], items


WAIVER = """\
  - policy: p
    reason: r
    approved_by: a
    expires: "2026-12-31"
"""


@pytest.mark.parametrize(
    "match",
    [
        "",
        "    match: null\n",
        "    match: {}\n",
        "    match: {name: null}\n",
        "    match: {'@': null}\n",
        "    match: {ok: false}\n",
        "    missing_evidence: false\n",
    ],
)
def test_missing_evidence_is_waived_only_by_a_waiver_that_says_so(
    missing: tuple[list[PolicyResult], dict[str, Any]], write: Write, match: str
) -> None:
    found = waivers(write, WAIVER + match)
    result, notices = apply(missing, found, environment=None)
    assert result.status is Status.FAIL
    assert not result.violations[0].waived
    assert [n.code for n in notices] == ["waiver-unused"]


def test_a_missing_evidence_waiver_waives_missing_evidence(
    missing: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(write, WAIVER + "    missing_evidence: true\n")
    assert found[0].missing_evidence
    result, notices = apply(missing, found, environment=None)
    assert result.status is Status.WAIVED and result.violations[0].waived
    assert notices == []


def test_a_missing_evidence_waiver_waives_nothing_else(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(write, WAIVER + "    missing_evidence: true\n")
    result, notices = apply(evaluated, found)
    assert result.status is Status.FAIL
    assert not any(v.waived for v in result.violations)
    assert [n.code for n in notices] == ["waiver-unused"]


def test_a_missing_evidence_waiver_with_a_match_is_refused(write: Write) -> None:
    with pytest.raises(LoadError) as caught:
        waivers(write, WAIVER + "    missing_evidence: true\n    match: {name: b}\n")
    assert "missing evidence" in caught.value.message and caught.value.line == 8


@pytest.mark.parametrize(
    "body",
    [
        "- policy: p\n  reason: r\n  approved_by: a\n  expires: '2026-12-31'\n",
        "[]\n",
        "just a string\n",
        "42\n",
    ],
)
def test_a_waivers_file_of_another_shape_shows_the_expected_shape(write: Write, body: str) -> None:
    with pytest.raises(LoadError) as caught:
        load_waivers(write("waivers.yaml", body))
    text = str(caught.value)
    assert "waivers.yaml" in text and "kind: Waivers" in text and "waivers:" in text
    assert "{'" not in text and "[{" not in text  # no Python dump of the data


@pytest.mark.parametrize("expression", ["length(ok)", "abs(name)", "keys(name)"])
def test_a_waiver_whose_match_path_errors_does_not_match(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write, expression: str
) -> None:
    """``length`` of a boolean raises in JMESPath: the waiver never matches (it would
    otherwise waive every item it cannot even read)."""
    found = waivers(write, WAIVER + f"    match: {{'{expression}': 1}}\n")
    result, _ = apply(evaluated, found)
    assert result.status is Status.FAIL
    assert not any(v.waived for v in result.violations)


def test_an_error_whose_violations_are_all_waived_stays_an_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    """One file fails to parse, the other has violations: waiving all the violations found
    does not make the policy waived, since the broken file was never evaluated."""
    policy = make_policy(RULE)
    write("artifacts/broken.json", "{")
    write("artifacts/x.json", json.dumps({"items": [{"name": "b", "ok": False}]}))
    result, items = evaluate_policy(policy, store(), ctx, None)
    assert result.status is Status.ERROR and len(result.violations) == 1
    found = waivers(write, WAIVER)
    out, _ = apply_waivers([result], items, found, today=TODAY, environment=None)
    assert out[0].status is Status.ERROR
    assert all(v.waived for v in out[0].violations)
    assert decide([*out, anchor(make_policy)], Severity.LOW)[1] is Decision.ERROR


def test_the_notices_of_unknown_and_unused_waivers_name_the_waiver_and_its_line(
    evaluated: tuple[list[PolicyResult], dict[str, Any]], write: Write
) -> None:
    found = waivers(
        write,
        """\
  - id: w-unknown
    policy: no-such-policy
    reason: r
    approved_by: a
    expires: "2026-12-31"
  - id: w-unused
    policy: p
    match: {name: nobody}
    reason: r
    approved_by: a
    expires: "2026-12-31"
""",
    )
    _, notices = apply(evaluated, found)
    unknown, unused = notices
    assert (unknown.code, unknown.line) == ("waiver-unknown-policy", 4)
    assert (
        unknown.message == "waiver w-unknown names policy 'no-such-policy', which was not evaluated"
    )
    assert (unused.code, unused.line) == ("waiver-unused", 9)
    assert unused.message == "waiver w-unused for p matched no violation in this run"
    assert unknown.file == unused.file == found[0].file and found[0].file.endswith("waivers.yaml")


def test_a_result_without_violations_is_never_made_waived(
    make_policy: MakePolicy, write: Write
) -> None:
    """Waivers change only violations: a result that has none (whatever its status) is
    returned as it came, even with a waiver that covers every item of its policy."""
    found = waivers(write, WAIVER)
    for status in Status:
        result = result_for(make_policy, status)
        out, _ = apply_waivers([result], {}, found, today=TODAY, environment=None)
        assert out == [result]
