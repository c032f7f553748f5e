"""Tests written to kill mutants of engine/conditions.py and engine/decision.py that survived
the rest of the suite (docs/mutation-testing.md lists them, and the equivalent ones).

Each test pins a boundary or an outcome exactly, so that a one-token change of the code
(``<=`` read as ``<``, a swallowed exception, a dropped status) fails it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.engine.conditions import (
    COUNT_OPS,
    Condition,
    EvalContext,
)
from compliancegate.engine.decision import decide, is_blocking
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.engine.waivers import apply_waivers
from compliancegate.errors import EvaluationError
from compliancegate.loading.waivers import load_waivers
from compliancegate.model import Decision, Enforcement, Policy, PolicyResult, Severity, Status

Compile = Callable[[Any], Condition]
MakePolicy = Callable[..., Policy]
Write = Callable[[str, str], Path]
Store = Callable[[], ArtifactStore]

TRUTH = {
    "equals": lambda n, v: n == v,
    "not_equals": lambda n, v: n != v,
    "gt": lambda n, v: n > v,
    "gte": lambda n, v: n >= v,
    "lt": lambda n, v: n < v,
    "lte": lambda n, v: n <= v,
}


# --------------------------------------------------------------------------- count


@pytest.mark.parametrize("op", COUNT_OPS)
@pytest.mark.parametrize("value", [0, 1, 2, 3, 2.5, -1])
def test_count_ops_at_every_boundary(
    compile_rule: Compile, ctx: EvalContext, op: str, value: float
) -> None:
    # Below, at and above the value: `lte` read as `lt` (or any other swap) fails here.
    rule = compile_rule({"count": "items", "op": op, "value": value})
    for n in range(5):
        data = {"items": list(range(n))}
        assert rule.holds(data, ctx) is TRUTH[op](n, value), (op, n, value)
        failures = rule.failures(data, ctx)
        assert (failures == []) is TRUTH[op](n, value)
        if failures:
            (failure,) = failures
            assert failure.detail == f"count of items is {n}, expected {op} {json.dumps(value)}"
            assert failure.item is data


def test_count_lte_is_not_lt_in_a_policy(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    # The hand-made mutant of issue 8: "at most one critical" read as "fewer than one".
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule:
  count: findings
  where: {path: severity, op: equals, value: critical}
  op: lte
  value: 1
"""
    )
    write("artifacts/scan.json", json.dumps({"findings": [{"severity": "critical"}]}))
    result, _ = evaluate_policy(policy, store(), ctx, None)
    assert result.status is Status.PASS
    write(
        "artifacts/scan.json",
        json.dumps({"findings": [{"severity": "critical"}, {"severity": "critical"}]}),
    )
    result, _ = evaluate_policy(policy, store(), ctx, None)
    assert result.status is Status.FAIL
    assert result.violations[0].message.endswith("count of findings is 2, expected lte 1")


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("threshold", [7, 7.5, -2])
def test_leaf_ordered_ops_at_every_boundary(
    compile_rule: Compile, ctx: EvalContext, op: str, threshold: float
) -> None:
    rule = compile_rule({"path": "x", "op": op, "value": threshold})
    for actual in (threshold - 1, threshold - 0.5, threshold, threshold + 0.5, threshold + 1):
        for written in (actual, str(actual)):
            assert rule.holds({"x": written}, ctx) is TRUTH[op](actual, threshold), written


# --------------------------------------------------------------- errors, waivers, decision


RULE = """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {path: score, op: lt, value: 7}
message: "{item.name}"
"""


def errored_with_violations(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> tuple[PolicyResult, dict[str, Any]]:
    """A policy in ``error`` that also has a violation: one item's score is the text NaN
    (a JSON NaN literal would be refused when the file is read, before any item)."""
    policy = make_policy(RULE)
    write("artifacts/x.json", '{"items": [{"name": "high", "score": 9}, {"score": "NaN"}]}')
    result, items = evaluate_policy(policy, store(), ctx, None)
    assert result.status is Status.ERROR
    assert [v.message for v in result.violations] == ["high"]
    return result, items


def test_error_with_every_violation_waived_stays_error_and_decides_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    # Hand-made mutant of issue 8: an ERROR whose violations are all waived became WAIVED,
    # and the release passed although a value could not be evaluated.
    result, items = errored_with_violations(make_policy, write, store, ctx)
    waivers = load_waivers(
        write(
            "waivers.yaml",
            "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n"
            "  - {id: W-1, policy: p, reason: r, approved_by: a, expires: '2026-12-31'}\n",
        )
    )
    waived, _ = apply_waivers(
        [result], items, waivers, today=dt.date(2026, 6, 15), environment=None
    )
    (after,) = waived
    assert all(v.waived for v in after.violations)
    assert after.status is Status.ERROR
    decided, decision = decide(waived, Severity.LOW)
    assert decision is Decision.ERROR
    assert decided[0].blocking


def test_decide_error_beats_blocked_in_either_order(make_policy: MakePolicy) -> None:
    failing = PolicyResult(make_policy(RULE, id="f"), Status.FAIL)
    erroring = PolicyResult(make_policy(RULE, id="e"), Status.ERROR, error="x")
    for results in ([failing, erroring], [erroring, failing]):
        marked, decision = decide(results, Severity.LOW)
        assert decision is Decision.ERROR
        assert [r.blocking for r in marked] == [True, True]
    marked, decision = decide([failing], Severity.LOW)
    assert decision is Decision.BLOCKED


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("enforcement", list(Enforcement))
@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("fail_on", list(Severity))
def test_is_blocking_truth_table(
    make_policy: MakePolicy,
    status: Status,
    enforcement: Enforcement,
    severity: Severity,
    fail_on: Severity,
) -> None:
    policy = dataclasses.replace(make_policy(RULE), enforcement=enforcement, severity=severity)
    expected = (
        enforcement is Enforcement.BLOCK
        and status in (Status.FAIL, Status.ERROR)
        and severity.rank >= fail_on.rank
    )
    assert is_blocking(PolicyResult(policy, status), fail_on) is expected
    # A lone result that could not block was no judgement at all unless it is a block policy
    # at or above fail_on that completed: a run that judged nothing is an error, not compliant.
    judged = (
        enforcement is Enforcement.BLOCK
        and severity.rank >= fail_on.rank
        and status in (Status.PASS, Status.FAIL, Status.WAIVED)
    )
    _, decision = decide([PolicyResult(policy, status)], fail_on)
    if expected:
        assert decision is (Decision.ERROR if status is Status.ERROR else Decision.BLOCKED)
    else:
        assert decision is (Decision.COMPLIANT if judged else Decision.ERROR)


# --------------------------------------------------------------------------- the clock


OLD = "2026-01-01"  # 165 days before the test clock
NEW = "2026-06-14"


@pytest.mark.parametrize(
    "wrap",
    [
        lambda c: c,
        lambda c: {"all": [c]},
        lambda c: {"all": [{"path": "x", "op": "exists"}, c]},
        lambda c: {"any": [{"path": "nothing", "op": "exists"}, c]},
        lambda c: {"not": {"not": c}},
        lambda c: {"for_each": "@", "assert": c},
        lambda c: {
            "for_each": "@",
            "where": {"not": c},
            "assert": {"path": "missing", "op": "exists"},
        },
        lambda c: {"count": "@", "where": c, "op": "equals", "value": 1},
        lambda c: {"any": [{"for_each": "@", "assert": c}]},
        lambda c: {
            "any": [
                {
                    "for_each": "@",
                    "where": {"not": c},
                    "assert": {"path": "missing", "op": "exists"},
                }
            ]
        },
    ],
    ids=[
        "leaf",
        "all",
        "all2",
        "any",
        "not-not",
        "for_each",
        "where",
        "count-where",
        "nested-for_each",
        "nested-where",
    ],
)
def test_the_run_clock_reaches_every_condition(
    compile_rule: Compile, ctx: EvalContext, wrap: Callable[[Any], Any]
) -> None:
    # Each composite passes the run's clock down; one that passed None would crash or pass.
    rule = compile_rule(wrap({"path": "x", "op": "newer_than", "value": "30d"}))
    assert rule.holds({"x": NEW}, ctx)
    assert rule.failures({"x": NEW}, ctx) == []
    assert not rule.holds({"x": OLD}, ctx)
    assert rule.failures({"x": OLD}, ctx) != []


# --------------------------------------------------------------------------- what messages say


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"path": "a.b", "op": "exists"}, "a.b exists"),
        ({"path": "a", "op": "absent"}, "a absent"),
        ({"path": "a", "op": "equals", "value": "x"}, 'a equals "x"'),
        ({"path": "a", "op": "in", "value": [1, True, None]}, "a in [1, true, null]"),
        (
            {"all": [{"path": "a", "op": "exists"}, {"path": "b", "op": "absent"}]},
            "all of (a exists; b absent)",
        ),
        (
            {"any": [{"path": "a", "op": "exists"}, {"path": "b", "op": "absent"}]},
            "any of (a exists; b absent)",
        ),
        ({"not": {"path": "a", "op": "exists"}}, "not (a exists)"),
        (
            {"for_each": "items", "assert": {"path": "a", "op": "exists"}},
            "for each items: a exists",
        ),
        ({"count": "items", "op": "lte", "value": 2}, "count of items lte 2"),
        ({"count": "items", "op": "gt", "value": 2.5}, "count of items gt 2.5"),
        ({"schema": {"type": "object"}}, "schema (inline)"),
    ],
)
def test_descriptions_are_exact(compile_rule: Compile, spec: Any, text: str) -> None:
    assert compile_rule(spec).describe() == text


def test_a_whole_document_failure_says_what_does_not_hold(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    data = {"a": 1}
    rule = compile_rule({"not": {"path": "a", "op": "exists"}})
    (failure,) = rule.failures(data, ctx)
    assert (failure.item, failure.detail, failure.subkey, failure.error) == (
        data,
        "not (a exists)",
        "",
        False,
    )
    rule = compile_rule({"for_each": "items", "assert": {"path": "ok", "op": "equals", "value": 1}})
    (failure,) = rule.failures({"items": [{"ok": 1}, {"ok": 2}]}, ctx)
    assert (failure.item, failure.detail) == ({"ok": 2}, "fails ok equals 1")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x" * 58, '"' + "x" * 58 + '"'),  # 60 characters: whole
        ("x" * 59, '"' + "x" * 56 + "..."),  # 61: cut to 57 and "..."
        ({"b": 1, "a": "é"}, '{"a": "é", "b": 1}'),  # sorted keys, not ASCII-escaped
        ([True, None], "[true, null]"),
    ],
)
def test_values_in_errors_are_shown_as_written_and_cut(
    compile_rule: Compile, ctx: EvalContext, value: Any, shown: str
) -> None:
    rule = compile_rule({"path": "x", "op": "gt", "value": 1})
    with pytest.raises(EvaluationError) as caught:
        rule.holds({"x": value}, ctx)
    assert caught.value.message == f"x is {shown}, not a number"
    assert caught.value.hint == (
        "compare numbers with numbers (a string counts when it is a plain decimal number such"
        ' as "7.5"); guard with {op: exists} or a where clause'
    )


def test_non_finite_errors_say_how_to_fix_them(compile_rule: Compile, ctx: EvalContext) -> None:
    with pytest.raises(EvaluationError) as caught:
        compile_rule({"path": "x", "op": "equals", "value": 1}).holds({"x": math.nan}, ctx)
    assert caught.value.message == "x is NaN, which cannot be compared"
    assert caught.value.hint == (
        "NaN and Infinity are not values a policy can compare; fix what produced the document,"
        " or test the value with {op: exists} only"
    )


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("left", "right", "order"),
    [
        ("1.10", "1.9", 1),  # PEP 440
        ("1:2.10-1ubuntu1", "1:2.9-1ubuntu1", 1),  # Debian: numeric parts compare as numbers
        ("1:2.9-1ubuntu1", "1:2.10-1ubuntu1", -1),
        ("2.0-r1~a", "2.0-r1~a", 0),
        ("v1.2.3~x", "1.2.3~x", 0),  # a leading v or V is ignored, nothing else
        ("V1.2.3~x", "1.2.3~x", 0),
        ("X1.2.3~x", "1.2.3~x", -1),
        ("1.0-RC_1", "1.0-rc_1", 0),  # case does not matter
        ("1.0.b_", "1.0.1_", -1),  # a number ranks above a word at the same position
        ("1.0_a", "1.0_b", -1),
        ("1.0_1.1", "1.0_1", 1),  # a longer version with the same prefix is newer
    ],
)
def test_loose_version_order(left: str, right: str, order: int) -> None:
    from compliancegate.engine.conditions import compare_versions

    assert compare_versions(left, right) == order
    assert compare_versions(right, left) == -order


def test_a_value_too_deep_to_show_is_described(compile_rule: Compile, ctx: EvalContext) -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(EvaluationError) as caught:
        compile_rule({"path": "x", "op": "gt", "value": 1}).holds({"x": deep}, ctx)
    assert caught.value.message == "x is a list too large or too deep to show, not a number"


def test_coverage_without_a_register_is_empty(make_policy: MakePolicy) -> None:
    from compliancegate.engine.decision import coverage
    from compliancegate.model import Coverage

    assert coverage(None, [make_policy(RULE)]) == Coverage(0, 0, ())


SCHEMA_RULE = """\
input: {glob: "*.json"}
rule:
  schema:
    type: object
    properties:
      a: {type: string}
      b: {type: string}
      items: {type: array, items: {type: integer}}
message: "{item.kind}: {error}"
"""


def test_schema_failures_are_sorted_by_path_and_name_the_document(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(SCHEMA_RULE)
    # Sorted by message, b's error ("1 is ...") would come first; by path, a's does.
    write("artifacts/x.json", json.dumps({"kind": "K", "a": 2, "b": 1, "items": [1, "x"]}))
    result, _ = evaluate_policy(policy, store(), ctx, None)
    assert [v.message for v in result.violations] == [
        "K: /a: 2 is not of type 'string'",
        "K: /b: 1 is not of type 'string'",
        "K: /items/1: 'x' is not of type 'integer'",
    ]


# --------------------------------------------------------------------------- compile errors

OPS_HINT = "ops: " + ", ".join(
    [
        "equals",
        "not_equals",
        "in",
        "not_in",
        "contains",
        "not_contains",
        "exists",
        "absent",
        "matches",
        "gt",
        "gte",
        "lt",
        "lte",
        "older_than",
        "newer_than",
        "version_gte",
        "version_lt",
    ]
)


@pytest.mark.parametrize(
    ("spec", "message", "where", "hint"),
    [
        ([], "a condition must be a non-empty mapping", ("rule",), None),
        ({}, "a condition must be a non-empty mapping", ("rule",), None),
        (
            {"all": [], "x": 1},
            "unknown key 'x' in condition",
            ("rule", "x"),
            "allowed here: all",
        ),
        ({"any": []}, "any needs a non-empty list", ("rule", "any"), None),
        ({"path": "a"}, "condition lacks 'op'", ("rule",), None),
        ({"op": "exists"}, "condition lacks 'path'", ("rule",), None),
        (
            {"count": "a", "where": {"path": "b"}, "op": "lt", "value": 1},
            "condition lacks 'op'",
            ("rule", "where"),
            None,
        ),
        (
            {"for_each": "a", "assert": {"path": "b", "op": "exists"}, "x": 1},
            "unknown key 'x' in condition",
            ("rule", "x"),
            "allowed here: assert, for_each, where",
        ),
        (
            {"count": "", "op": "lt", "value": 1},
            "a path must be a non-empty JMESPath string",
            ("rule", "count"),
            None,
        ),
        (
            {"path": "a[", "op": "exists"},
            "bad JMESPath 'a[': Invalid jmespath expression: Incomplete expression:",
            ("rule", "path"),
            'see https://jmespath.org/specification.html; quote keys with dashes as "a-b"',
        ),
        ({"all": {}}, "all needs a non-empty list", ("rule", "all"), None),
        (
            {"not": {"path": "a", "op": "exists", "value": 1}},
            "op exists takes no value",
            ("rule", "not", "value"),
            None,
        ),
        ({"for_each": "a"}, "condition lacks 'assert'", ("rule",), None),
        (
            {"for_each": "a", "assert": {"path": "", "op": "exists"}},
            "a path must be a non-empty JMESPath string",
            ("rule", "assert", "path"),
            None,
        ),
        (
            {"count": "a", "op": "most", "value": 1},
            "count op must be one of equals, not_equals, gt, gte, lt, lte",
            ("rule", "op"),
            None,
        ),
        (
            {"count": "a", "op": "lt", "value": "1"},
            "count value must be a finite number",
            ("rule", "value"),
            None,
        ),
        (
            {"count": "a", "op": "lt", "value": True},
            "count value must be a finite number",
            ("rule", "value"),
            None,
        ),
        ({"path": "a", "op": "like", "value": 1}, "unknown op 'like'", ("rule", "op"), OPS_HINT),
        ({"path": "a", "op": "equals"}, "op equals needs a value", ("rule",), None),
        (
            {"path": "a", "op": "in", "value": 1},
            "op in needs a list value",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "matches", "value": 1},
            "op matches needs a regex string value",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "gte", "value": "7"},
            "op gte needs a number value",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "gte", "value": False},
            "op gte needs a number value",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "lt", "value": math.inf},
            "op lt value holds NaN or Infinity, which compare false with everything",
            ("rule", "value"),
            "compare with finite numbers",
        ),
        (
            {"path": "a", "op": "version_lt", "value": True},
            "op version_lt needs a version string",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "version_lt", "value": [1]},
            "op version_lt needs a version string",
            ("rule", "value"),
            None,
        ),
        (
            {"path": "a", "op": "version_gte", "value": "1" * 257},
            "op version_gte value is longer than 256 characters",
            ("rule", "value"),
            None,
        ),
        (
            {"what": 1, "else": 2},
            "unknown condition with keys else, what",
            ("rule",),
            "a condition is one of all, any, not, for_each, count, schema or {path, op, value}",
        ),
        (
            {"schema": {"$ref": "https://example.com/s.json"}},
            "schema $ref must name a local file relative to the policy",
            ("rule", "schema"),
            None,
        ),
        (
            {"schema": {"$ref": "#/defs/a"}},
            "schema $ref must name a local file relative to the policy",
            ("rule", "schema"),
            None,
        ),
        ({"schema": [1]}, "schema must be a JSON Schema object", ("rule", "schema"), None),
        (
            {"schema": {"type": "thing"}},
            "invalid JSON Schema ((inline)): 'thing' is not valid under any of the given schemas",
            ("rule", "schema"),
            None,
        ),
    ],
)
def test_compile_errors_are_exact(
    compile_rule: Compile, spec: Any, message: str, where: tuple[Any, ...], hint: str | None
) -> None:
    from compliancegate.engine.conditions import ConditionSyntaxError

    with pytest.raises(ConditionSyntaxError) as caught:
        compile_rule(spec)
    assert (caught.value.message, caught.value.where, caught.value.hint) == (message, where, hint)


def test_regex_errors_say_how_to_fix_them(compile_rule: Compile) -> None:
    from compliancegate.engine.conditions import ConditionSyntaxError

    with pytest.raises(ConditionSyntaxError) as caught:
        compile_rule({"path": "a", "op": "matches", "value": "("})
    assert caught.value.message.startswith("bad regex '(': missing ), unterminated subpattern")
    assert caught.value.where == ("rule", "value")
    assert caught.value.hint == "Python re syntax; escape backslashes in YAML double quotes"


# --------------------------------------------------------------------------- hostile values


def test_strict_equality_refuses_non_finite_on_either_side() -> None:
    from compliancegate.engine.conditions import values_equal

    for left, right in ((math.nan, 1), (1, math.nan), (math.inf, math.inf), ([1], [-math.inf])):
        with pytest.raises(EvaluationError) as caught:
            values_equal(left, right, strict=True)
        assert caught.value.message in (
            "a compared value is NaN, which cannot be compared",
            "a compared value is Infinity, which cannot be compared",
            "a compared value is -Infinity, which cannot be compared",
        )
        assert values_equal(left, right) is (left == right)


def test_out_of_range_numbers_are_named(compile_rule: Compile, ctx: EvalContext) -> None:
    with pytest.raises(EvaluationError) as caught:
        compile_rule({"path": "x", "op": "gt", "value": 1}).holds(
            {"x": "1e99999999999999999999"}, ctx
        )
    assert caught.value.message == 'x is "1e99999999999999999999", a number out of range'


def test_values_that_are_not_json_are_shown_as_text(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    # TOML dates are datetime objects, not strings.
    with pytest.raises(EvaluationError) as caught:
        compile_rule({"path": "x", "op": "gt", "value": 1}).holds({"x": dt.date(2026, 1, 2)}, ctx)
    assert caught.value.message == 'x is "2026-01-02", not a number'


@pytest.mark.parametrize(("digits", "compared"), [(30, True), (256, True), (257, False)])
def test_integer_versions_up_to_the_limit(
    compile_rule: Compile, ctx: EvalContext, digits: int, compared: bool
) -> None:
    rule = compile_rule({"path": "x", "op": "version_gte", "value": "2"})
    if compared:
        assert rule.holds({"x": 10 ** (digits - 1)}, ctx)
    else:
        with pytest.raises(EvaluationError, match="longer than 256"):
            rule.holds({"x": 10 ** (digits - 1)}, ctx)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ({"a": math.nan}, {"a": 1}),
        ({"a": {"b": [math.inf]}}, {"a": {"b": [1]}}),
        ([1, [math.nan]], [1, [1]]),
    ],
)
def test_strict_equality_reaches_every_depth(actual: Any, expected: Any) -> None:
    from compliancegate.engine.conditions import values_equal

    with pytest.raises(EvaluationError):
        values_equal(actual, expected, strict=True)
    assert values_equal(actual, expected) is False


@pytest.mark.parametrize(
    ("spec", "value", "message", "hint"),
    [
        (
            {"path": "x", "op": "older_than", "value": "30d"},
            "soon",
            'x is "soon", not an ISO 8601 date or datetime',
            "write dates as 2026-11-21 or 2026-11-21T10:00:00Z",
        ),
        (
            {"path": "x", "op": "newer_than", "value": "1h"},
            [2026],
            "x is [2026], not an ISO 8601 date or datetime",
            "write dates as 2026-11-21 or 2026-11-21T10:00:00Z",
        ),
        (
            {"path": "x", "op": "version_lt", "value": "2"},
            {"v": 1},
            'x is {"v": 1}, not a version',
            None,
        ),
        (
            {"path": "x", "op": "version_gte", "value": "2"},
            True,
            "x is true, not a version",
            None,
        ),
        (
            {"path": "x", "op": "version_gte", "value": "2"},
            "9" * 300,
            'x is a version longer than 256 characters ("' + "9" * 56 + "...)",
            "versions are compared up to 256 characters; fix what produced it",
        ),
    ],
    ids=["age-text", "age-list", "version-map", "version-bool", "version-long"],
)
def test_evaluation_errors_are_exact(
    compile_rule: Compile, ctx: EvalContext, spec: Any, value: Any, message: str, hint: Any
) -> None:
    with pytest.raises(EvaluationError) as caught:
        compile_rule(spec).holds({"x": value}, ctx)
    assert (caught.value.message, caught.value.hint) == (message, hint)


def test_each_path_is_compiled_once_per_policy(tmp_path: Path) -> None:
    from compliancegate.engine.conditions import CompileContext

    ctx = CompileContext(tmp_path)
    first = ctx.path("a.b", ("rule",))
    assert ctx.path("a.b", ("rule", "all", 1)) is first
    assert ctx.paths == {"a.b": first}
