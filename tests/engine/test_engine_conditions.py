"""The condition language: every leaf op, the composites, for_each, count, schema, and the
compile errors that name where in the rule the mistake is."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliancegate.engine.conditions import (
    CompileContext,
    Condition,
    ConditionSyntaxError,
    EvalContext,
    compare_versions,
    compile_condition,
)
from compliancegate.errors import CompliancegateError, EvaluationError

Compile = Callable[[Any], Condition]


def leaf(op: str, value: Any = ..., path: str = "x") -> dict[str, Any]:
    spec: dict[str, Any] = {"path": path, "op": op}
    if value is not ...:
        spec["value"] = value
    return spec


def holds(compile_rule: Compile, ctx: EvalContext, spec: Any, data: Any) -> bool:
    return compile_rule(spec).holds(data, ctx)


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize(
    ("actual", "expected", "result"),
    [
        (1, 1, True),
        (1, 1.0, True),
        ("a", "a", True),
        ([1, {"a": 2}], [1, {"a": 2}], True),
        ({"a": [1]}, {"a": [1]}, True),
        (None, None, True),
        (True, True, True),
        (False, False, True),
        # Python says True == 1 and False == 0; the policy language does not.
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (0, False, False),
        (1.0, True, False),
        ([True], [1], False),
        # No coercion between strings and numbers.
        ("1", 1, False),
        (1, "1", False),
        ("true", True, False),
        (None, "null", False),
        (2, 1, False),
    ],
)
def test_equals_is_strict_about_types(
    compile_rule: Compile, ctx: EvalContext, actual: Any, expected: Any, result: bool
) -> None:
    assert holds(compile_rule, ctx, leaf("equals", expected), {"x": actual}) is result
    assert holds(compile_rule, ctx, leaf("not_equals", expected), {"x": actual}) is not result


def test_equals_on_a_missing_path_compares_null(compile_rule: Compile, ctx: EvalContext) -> None:
    assert holds(compile_rule, ctx, leaf("equals", None), {})
    assert not holds(compile_rule, ctx, leaf("equals", "a"), {})
    assert holds(compile_rule, ctx, leaf("not_equals", "a"), {})


def test_path_is_jmespath(compile_rule: Compile, ctx: EvalContext) -> None:
    spec = leaf("equals", "on", path='metadata."dashed-key"[0]')
    assert holds(compile_rule, ctx, spec, {"metadata": {"dashed-key": ["on", "off"]}})


# --------------------------------------------------------------------------- in / not_in


def test_in_and_not_in(compile_rule: Compile, ctx: EvalContext) -> None:
    allowed = ["MIT", "Apache-2.0"]
    assert holds(compile_rule, ctx, leaf("in", allowed), {"x": "MIT"})
    assert not holds(compile_rule, ctx, leaf("in", allowed), {"x": "GPL-3.0"})
    assert not holds(compile_rule, ctx, leaf("in", allowed), {})
    assert holds(compile_rule, ctx, leaf("not_in", allowed), {"x": "GPL-3.0"})
    assert not holds(compile_rule, ctx, leaf("not_in", allowed), {"x": "MIT"})


def test_in_uses_strict_equality(compile_rule: Compile, ctx: EvalContext) -> None:
    assert not holds(compile_rule, ctx, leaf("in", [1, 2]), {"x": True})
    assert not holds(compile_rule, ctx, leaf("in", ["1"]), {"x": 1})
    assert holds(compile_rule, ctx, leaf("in", [1, 2]), {"x": 2.0})


# --------------------------------------------------------------------------- contains


@pytest.mark.parametrize(
    ("actual", "value", "result"),
    [
        ("ubuntu:latest", "latest", True),
        ("ubuntu:22.04", "latest", False),
        (["a", "b"], "b", True),
        (["a", "b"], "c", False),
        ([1, 2], 2, True),
        ([1, 2], True, False),
        ([{"k": 1}], {"k": 1}, True),
        ({"key": 1, "other": 2}, "key", True),
        ({"key": 1}, "value", False),
        ({"1": "a"}, 1, False),
        ("text", 1, False),
        (None, "x", False),
        (42, "4", False),
    ],
)
def test_contains_on_strings_lists_and_dicts(
    compile_rule: Compile, ctx: EvalContext, actual: Any, value: Any, result: bool
) -> None:
    data = {"x": actual}
    assert holds(compile_rule, ctx, leaf("contains", value), data) is result
    assert holds(compile_rule, ctx, leaf("not_contains", value), data) is not result


# --------------------------------------------------------------------------- exists / absent


@pytest.mark.parametrize(
    ("data", "exists"),
    [
        ({"x": 1}, True),
        ({"x": 0}, True),
        ({"x": False}, True),
        ({"x": ""}, True),
        ({"x": []}, True),
        ({"x": {}}, True),
        ({"x": None}, False),
        ({}, False),
        ("not a mapping", False),
        (None, False),
    ],
)
def test_exists_and_absent(
    compile_rule: Compile, ctx: EvalContext, data: Any, exists: bool
) -> None:
    assert holds(compile_rule, ctx, leaf("exists"), data) is exists
    assert holds(compile_rule, ctx, leaf("absent"), data) is not exists


# --------------------------------------------------------------------------- matches


def test_matches_searches_with_a_regex(compile_rule: Compile, ctx: EvalContext) -> None:
    spec = leaf("matches", r"@sha256:[0-9a-f]{64}$")
    digest = "a" * 64
    assert holds(compile_rule, ctx, spec, {"x": f"nginx@sha256:{digest}"})
    assert not holds(compile_rule, ctx, spec, {"x": "nginx:latest"})
    # search, not fullmatch
    assert holds(compile_rule, ctx, leaf("matches", "lat"), {"x": "nginx:latest"})
    # anchors are honoured
    assert not holds(compile_rule, ctx, leaf("matches", "^lat"), {"x": "nginx:latest"})


@pytest.mark.parametrize("actual", [None, 123, ["abc"], {"abc": 1}, True])
def test_matches_is_false_for_non_strings(
    compile_rule: Compile, ctx: EvalContext, actual: Any
) -> None:
    assert not holds(compile_rule, ctx, leaf("matches", "."), {"x": actual})


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("op", "actual", "result"),
    [
        ("gt", 11, True),
        ("gt", 10, False),
        ("gte", 10, True),
        ("gte", 9.99, False),
        ("lt", 9, True),
        ("lt", 10, False),
        ("lte", 10, True),
        ("lte", 10.01, False),
        ("gt", "11", True),
        ("gt", "10.5", True),
        ("lte", "9.5", True),
        ("lt", "10", False),
        ("gte", " 10 ", True),
    ],
)
def test_numeric_comparisons(
    compile_rule: Compile, ctx: EvalContext, op: str, actual: Any, result: bool
) -> None:
    assert holds(compile_rule, ctx, leaf(op, 10), {"x": actual}) is result


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_numeric_comparison_with_missing_value_is_false(
    compile_rule: Compile, ctx: EvalContext, op: str
) -> None:
    assert not holds(compile_rule, ctx, leaf(op, 0), {})
    assert not holds(compile_rule, ctx, leaf(op, 0), {"x": None})


@pytest.mark.parametrize("actual", ["abc", "", True, False, [1], {"a": 1}, "1,5"])
def test_numeric_comparison_with_a_non_number_raises(
    compile_rule: Compile, ctx: EvalContext, actual: Any
) -> None:
    condition = compile_rule(leaf("gt", 1, path="coverage.rate"))
    with pytest.raises(EvaluationError) as info:
        condition.holds({"coverage": {"rate": actual}}, ctx)
    assert "coverage.rate" in str(info.value)
    assert "not a number" in str(info.value)


def test_numeric_threshold_accepts_floats(compile_rule: Compile, ctx: EvalContext) -> None:
    assert holds(compile_rule, ctx, leaf("gte", 0.8), {"x": 0.8})
    assert not holds(compile_rule, ctx, leaf("gte", 0.8), {"x": 0.79})


# --------------------------------------------------------------------------- dates


def test_older_than_and_newer_than_use_the_injected_clock(compile_rule: Compile) -> None:
    now = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
    ctx = EvalContext(now=now)
    older = compile_rule(leaf("older_than", "30d"))
    newer = compile_rule(leaf("newer_than", "30d"))
    forty_days = (now - dt.timedelta(days=40)).isoformat()
    ten_days = (now - dt.timedelta(days=10)).isoformat()
    assert older.holds({"x": forty_days}, ctx)
    assert not newer.holds({"x": forty_days}, ctx)
    assert not older.holds({"x": ten_days}, ctx)
    assert newer.holds({"x": ten_days}, ctx)
    # The same document, judged at another time, gives the other answer.
    later = EvalContext(now=now + dt.timedelta(days=25))
    assert older.holds({"x": ten_days}, later)
    assert not newer.holds({"x": ten_days}, later)


@pytest.mark.parametrize(
    ("value", "older"),
    [
        ("2026-05-01", True),  # a bare date is its midnight UTC
        ("2026-06-10", False),
        ("2026-05-16T11:59:00Z", True),
        ("2026-05-16T12:01:00Z", False),
        ("2026-05-16T13:59:00+02:00", True),  # 11:59Z
        ("2026-05-16T12:01:00", False),  # naive: UTC
    ],
)
def test_older_than_parses_iso_dates_and_datetimes(
    compile_rule: Compile, ctx: EvalContext, value: str, older: bool
) -> None:
    # ctx.now is 2026-06-15T12:00Z; 30 days earlier is 2026-05-16T12:00Z.
    assert holds(compile_rule, ctx, leaf("older_than", "30d"), {"x": value}) is older


def test_exactly_the_duration_is_neither_older_nor_newer(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    exactly = {"x": (ctx.now - dt.timedelta(days=30)).isoformat()}
    assert not holds(compile_rule, ctx, leaf("older_than", "30d"), exactly)
    assert not holds(compile_rule, ctx, leaf("newer_than", "30d"), exactly)


def test_older_than_with_hours(compile_rule: Compile, ctx: EvalContext) -> None:
    two_hours = (ctx.now - dt.timedelta(hours=2)).isoformat()
    assert holds(compile_rule, ctx, leaf("older_than", "1h"), {"x": two_hours})
    assert not holds(compile_rule, ctx, leaf("older_than", "12h"), {"x": two_hours})


@pytest.mark.parametrize("op", ["older_than", "newer_than"])
def test_missing_date_is_false(compile_rule: Compile, ctx: EvalContext, op: str) -> None:
    assert not holds(compile_rule, ctx, leaf(op, "1d"), {})
    assert not holds(compile_rule, ctx, leaf(op, "1d"), {"x": None})


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-45", "", [2026], {"d": 1}, True])
@pytest.mark.parametrize("op", ["older_than", "newer_than"])
def test_bad_date_raises(compile_rule: Compile, ctx: EvalContext, op: str, bad: Any) -> None:
    condition = compile_rule(leaf(op, "1d", path="collected_at"))
    with pytest.raises(EvaluationError) as info:
        condition.holds({"collected_at": bad}, ctx)
    assert "collected_at" in str(info.value)
    assert "ISO 8601" in str(info.value)


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("actual", "threshold", "gte"),
    [
        ("1.2.3", "1.2.3", True),
        ("1.2.10", "1.2.9", True),  # numeric, not lexicographic
        ("1.10", "1.9", True),
        ("1.2", "1.2.0", True),  # PEP 440: equal
        ("2.0.0rc1", "2.0.0", False),  # a pre-release is before its release
        ("2.0.0a1", "2.0.0b1", False),
        ("2.0.0", "2.0.0rc1", True),
        ("2.0.0.post1", "2.0.0", True),
        ("2.0.0.dev1", "2.0.0a1", False),
        ("v1.2.3", "1.2.3", True),
        ("1!0.1", "2.0", True),  # PEP 440 epoch
        ("0.9", "1.0", False),
        # Not PEP 440: the numeric-aware fallback.
        ("1.2.3-r4", "1.2.3-r10", False),
        ("1.2.3-r10", "1.2.3-r4", True),
        ("1.2.3-alpine.10", "1.2.3-alpine.9", True),
        ("2:1.0-1", "1:9.9-9", True),  # Debian epoch
        ("1:1.0-1", "2:0.1-1", False),
        ("1.0-1ubuntu2", "1.0-1ubuntu10", False),
        ("0.0.0-20240101120000-abcdef012345", "0.0.0-20230101120000-abcdef012345", True),
    ],
)
def test_version_gte_and_version_lt(
    compile_rule: Compile, ctx: EvalContext, actual: str, threshold: str, gte: bool
) -> None:
    data = {"x": actual}
    assert holds(compile_rule, ctx, leaf("version_gte", threshold), data) is gte
    assert holds(compile_rule, ctx, leaf("version_lt", threshold), data) is not gte


def test_compare_versions_is_antisymmetric_on_the_fallback() -> None:
    assert compare_versions("2:1.0-1", "1:9.0") == 1
    assert compare_versions("1:9.0", "2:1.0-1") == -1
    assert compare_versions("1.2.3-r4", "1.2.3-r4") == 0
    # Letters and digits in the same position never raise (str vs int).
    assert compare_versions("1.a", "1.2") in (-1, 1)
    assert compare_versions("1.2", "1.a") == -compare_versions("1.a", "1.2")


def test_version_accepts_numbers_on_both_sides(compile_rule: Compile, ctx: EvalContext) -> None:
    assert holds(compile_rule, ctx, leaf("version_gte", 3), {"x": 3})
    assert holds(compile_rule, ctx, leaf("version_lt", "3.1"), {"x": 3})


@pytest.mark.parametrize("op", ["version_gte", "version_lt"])
def test_version_of_missing_is_false(compile_rule: Compile, ctx: EvalContext, op: str) -> None:
    assert not holds(compile_rule, ctx, leaf(op, "1.0"), {})


@pytest.mark.parametrize("bad", [[1, 2], {"v": 1}, True])
def test_version_of_a_non_version_raises(compile_rule: Compile, ctx: EvalContext, bad: Any) -> None:
    condition = compile_rule(leaf("version_gte", "1.0", path="pkg.version"))
    with pytest.raises(EvaluationError, match=r"pkg\.version"):
        condition.holds({"pkg": {"version": bad}}, ctx)


# --------------------------------------------------------------------------- composites


def test_all_any_not(compile_rule: Compile, ctx: EvalContext) -> None:
    a = leaf("equals", 1, path="a")
    b = leaf("equals", 2, path="b")
    both = {"a": 1, "b": 2}
    one = {"a": 1, "b": 0}
    none: dict[str, int] = {}
    assert holds(compile_rule, ctx, {"all": [a, b]}, both)
    assert not holds(compile_rule, ctx, {"all": [a, b]}, one)
    assert holds(compile_rule, ctx, {"any": [a, b]}, one)
    assert not holds(compile_rule, ctx, {"any": [a, b]}, none)
    assert holds(compile_rule, ctx, {"not": a}, none)
    assert not holds(compile_rule, ctx, {"not": a}, one)
    assert holds(compile_rule, ctx, {"not": {"not": a}}, one)


def test_all_reports_the_failures_of_each_part(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule(
        {
            "all": [
                leaf("equals", 1, path="a"),
                leaf("equals", 2, path="b"),
                leaf("exists", path="c"),
            ]
        }
    )
    failures = rule.failures({"a": 0, "b": 0, "c": 1}, ctx)
    assert [f.detail for f in failures] == ["a equals 1", "b equals 2"]
    assert rule.failures({"a": 1, "b": 2, "c": 1}, ctx) == []


def test_leaf_failure_is_one_for_the_whole_document(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    data = {"x": 5}
    (failure,) = compile_rule(leaf("lt", 3)).failures(data, ctx)
    assert failure.item is data
    assert failure.detail == "x lt 3"


def test_any_fails_as_a_single_failure(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule({"any": [leaf("exists", path="a"), leaf("exists", path="b")]})
    failures = rule.failures({}, ctx)
    assert len(failures) == 1
    assert "any of" in failures[0].detail


# --------------------------------------------------------------------------- for_each


CONTAINERS = {
    "spec": {
        "containers": [
            {"name": "app", "image": "app:1.0", "privileged": False},
            {"name": "sidecar", "image": "proxy:latest", "privileged": True},
            {"name": "debug", "image": "busybox:latest"},
        ]
    }
}


def test_for_each_gives_one_failure_per_failing_item(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    rule = compile_rule(
        {
            "for_each": "spec.containers",
            "assert": {"path": "image", "op": "not_contains", "value": ":latest"},
        }
    )
    failures = rule.failures(CONTAINERS, ctx)
    assert [f.item["name"] for f in failures] == ["sidecar", "debug"]
    containers = CONTAINERS["spec"]["containers"]
    assert [f.item for f in failures] == [containers[1], containers[2]]
    assert failures[0].item is containers[1]  # the item itself, for messages and waivers
    assert not rule.holds(CONTAINERS, ctx)


def test_for_each_where_filters_items(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule(
        {
            "for_each": "spec.containers",
            "where": {"path": "privileged", "op": "exists"},
            "assert": {"path": "image", "op": "not_contains", "value": ":latest"},
        }
    )
    assert [f.item["name"] for f in rule.failures(CONTAINERS, ctx)] == ["sidecar"]


def test_for_each_passes_when_every_item_passes(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule({"for_each": "spec.containers", "assert": {"path": "name", "op": "exists"}})
    assert rule.holds(CONTAINERS, ctx)
    assert rule.failures(CONTAINERS, ctx) == []


@pytest.mark.parametrize("data", [{}, {"spec": {}}, {"spec": {"containers": []}}, None])
def test_for_each_over_nothing_passes(compile_rule: Compile, ctx: EvalContext, data: Any) -> None:
    rule = compile_rule({"for_each": "spec.containers", "assert": {"path": "x", "op": "exists"}})
    assert rule.holds(data, ctx)
    assert rule.failures(data, ctx) == []


def test_for_each_over_a_scalar_checks_it_as_one_item(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    rule = compile_rule(
        {"for_each": "image", "assert": {"path": "@", "op": "matches", "value": "@"}}
    )
    (failure,) = rule.failures({"image": "nginx:latest"}, ctx)
    assert failure.item == "nginx:latest"


def test_nested_for_each(compile_rule: Compile, ctx: EvalContext) -> None:
    data = {
        "jobs": [
            {"name": "build", "steps": [{"uses": "actions/checkout@" + "a" * 40}]},
            {"name": "deploy", "steps": [{"uses": "actions/checkout@v4"}, {"run": "make"}]},
            {"name": "lint", "steps": [{"uses": "some/action@main"}]},
        ]
    }
    rule = compile_rule(
        {
            "for_each": "jobs",
            "assert": {
                "for_each": "steps",
                "where": {"path": "uses", "op": "exists"},
                "assert": {"path": "uses", "op": "matches", "value": "@[0-9a-f]{40}$"},
            },
        }
    )
    # The outer for_each reports the jobs whose steps fail the inner one.
    assert [f.item["name"] for f in rule.failures(data, ctx)] == ["deploy", "lint"]


def test_for_each_with_flattening_projection(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule(
        {
            "for_each": "jobs[].steps[]",
            "where": {"path": "uses", "op": "exists"},
            "assert": {"path": "uses", "op": "not_contains", "value": "@main"},
        }
    )
    data = {"jobs": [{"steps": [{"uses": "a@main"}]}, {"steps": [{"uses": "b@main"}, {}]}]}
    assert [f.item["uses"] for f in rule.failures(data, ctx)] == ["a@main", "b@main"]


def test_for_each_error_in_assert_fails_its_own_item(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    # The item that cannot be evaluated is an error naming its index; the items before and
    # after it are still evaluated (and the failing one reported).
    rule = compile_rule({"for_each": "items", "assert": {"path": "n", "op": "gt", "value": 1}})
    failures = rule.failures({"items": [{"n": 5}, {"n": "many"}, {"n": 0}]}, ctx)
    assert [(f.item, f.error) for f in failures] == [({"n": "many"}, True), ({"n": 0}, False)]
    assert failures[0].detail.startswith('items[1]: n is "many", not a number')
    # Used as a sub-condition (holds), the error still propagates: there is no item to blame.
    with pytest.raises(EvaluationError):
        rule.holds({"items": [{"n": 5}, {"n": "many"}]}, ctx)


# --------------------------------------------------------------------------- count


def test_count_without_where(compile_rule: Compile, ctx: EvalContext) -> None:
    data = {"items": [1, 2, 3]}
    assert holds(compile_rule, ctx, {"count": "items", "op": "equals", "value": 3}, data)
    assert not holds(compile_rule, ctx, {"count": "items", "op": "equals", "value": 2}, data)
    assert holds(compile_rule, ctx, {"count": "items", "op": "gte", "value": 1}, data)
    assert holds(compile_rule, ctx, {"count": "missing", "op": "equals", "value": 0}, data)
    assert holds(compile_rule, ctx, {"count": "items", "op": "not_equals", "value": 0}, data)
    assert holds(compile_rule, ctx, {"count": "items", "op": "lt", "value": 4}, data)
    assert not holds(compile_rule, ctx, {"count": "items", "op": "lte", "value": 2}, data)
    assert not holds(compile_rule, ctx, {"count": "items", "op": "gt", "value": 3}, data)


def test_count_with_where(compile_rule: Compile, ctx: EvalContext) -> None:
    data = {"cases": [{"status": "passed"}, {"status": "failed"}, {"status": "failed"}]}
    spec = {
        "count": "cases",
        "where": {"path": "status", "op": "equals", "value": "failed"},
        "op": "equals",
        "value": 0,
    }
    rule = compile_rule(spec)
    assert not rule.holds(data, ctx)
    (failure,) = rule.failures(data, ctx)
    assert failure.item is data
    assert "is 2" in failure.detail
    assert rule.holds({"cases": [{"status": "passed"}]}, ctx)


# --------------------------------------------------------------------------- schema


SCHEMA = {
    "type": "object",
    "required": ["name", "replicas"],
    "properties": {"name": {"type": "string"}, "replicas": {"type": "integer", "minimum": 2}},
}


def test_inline_schema_gives_one_failure_per_error(compile_rule: Compile, ctx: EvalContext) -> None:
    rule = compile_rule({"schema": SCHEMA})
    assert rule.holds({"name": "web", "replicas": 3}, ctx)
    assert rule.failures({"name": "web", "replicas": 3}, ctx) == []
    failures = rule.failures({"name": 7, "replicas": 1}, ctx)
    assert len(failures) == 2
    details = sorted(f.detail for f in failures)
    assert details[0].startswith("/name:")
    assert details[1].startswith("/replicas:")
    # Two failures of one document are told apart (fingerprints use the subkey).
    assert len({f.subkey for f in failures}) == 2
    (missing,) = rule.failures({"name": "web"}, ctx)
    assert "replicas" in missing.detail


def test_schema_ref_is_relative_to_the_policy_directory(tmp_path: Path, ctx: EvalContext) -> None:
    policy_dir = tmp_path / "policies"
    (policy_dir / "schemas").mkdir(parents=True)
    (policy_dir / "schemas" / "deploy.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    rule = compile_condition(
        {"schema": {"$ref": "schemas/deploy.json"}}, CompileContext(policy_dir)
    )
    assert rule.holds({"name": "web", "replicas": 2}, ctx)
    assert len(rule.failures({"replicas": 0}, ctx)) == 2
    assert "schemas/deploy.json" in rule.describe()


def test_schema_ref_can_be_yaml(tmp_path: Path, ctx: EvalContext) -> None:
    (tmp_path / "s.yaml").write_text("type: object\nrequired: [a]\n", encoding="utf-8")
    rule = compile_condition({"schema": {"$ref": "s.yaml"}}, CompileContext(tmp_path))
    assert not rule.holds({}, ctx)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"$ref": "missing.json"}, "missing.json"),
        ({"$ref": "https://example.com/s.json"}, "local file"),
        ({"$ref": "#/$defs/x"}, "local file"),
        ({"type": "no-such-type"}, "invalid JSON Schema"),
        ("a string", "JSON Schema object"),
    ],
)
def test_bad_schema_is_a_compile_error(compile_rule: Compile, spec: Any, fragment: str) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        compile_rule({"schema": spec})
    assert fragment in info.value.message
    assert info.value.where == ("rule", "schema")


def test_schema_ref_to_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"type": ', encoding="utf-8")
    with pytest.raises(ConditionSyntaxError, match=r"bad\.json"):
        compile_condition({"schema": {"$ref": "bad.json"}}, CompileContext(tmp_path))


@pytest.mark.parametrize("ref", ["other.json", "#/$defs/missing"])
def test_schema_with_an_unresolvable_inner_ref_is_an_evaluation_error(
    compile_rule: Compile, ctx: EvalContext, ref: str
) -> None:
    rule = compile_rule({"schema": {"properties": {"a": {"$ref": ref}}}})
    assert rule.holds({"b": 1}, ctx)  # only found when validation reaches it
    with pytest.raises(EvaluationError, match="cannot resolve"):
        rule.failures({"a": 1}, ctx)
    with pytest.raises(EvaluationError, match="cannot resolve"):
        rule.holds({"a": 1}, ctx)


# --------------------------------------------------------------------------- compile errors


@pytest.mark.parametrize(
    ("spec", "where", "fragment"),
    [
        ({"path": "x", "op": "equals", "value": 1, "extra": 2}, ("rule", "extra"), "unknown key"),
        ({"path": "x", "op": "bigger", "value": 1}, ("rule", "op"), "unknown op"),
        ({"path": "x", "op": "equals"}, ("rule",), "needs a value"),
        ({"path": "x", "op": "exists", "value": True}, ("rule", "value"), "takes no value"),
        ({"path": "x", "op": "absent", "value": None}, ("rule", "value"), "takes no value"),
        ({"path": "a[", "op": "exists"}, ("rule", "path"), "bad JMESPath"),
        ({"path": "", "op": "exists"}, ("rule", "path"), "non-empty"),
        ({"path": "x", "op": "matches", "value": "(unclosed"}, ("rule", "value"), "bad regex"),
        ({"path": "x", "op": "matches", "value": 5}, ("rule", "value"), "regex"),
        ({"path": "x", "op": "older_than", "value": "30 days"}, ("rule", "value"), "duration"),
        ({"path": "x", "op": "older_than", "value": "1.5d"}, ("rule", "value"), "duration"),
        ({"path": "x", "op": "newer_than", "value": 30}, ("rule", "value"), "duration"),
        ({"path": "x", "op": "gt", "value": "10"}, ("rule", "value"), "number"),
        ({"path": "x", "op": "gt", "value": True}, ("rule", "value"), "number"),
        ({"path": "x", "op": "in", "value": "abc"}, ("rule", "value"), "list"),
        ({"path": "x", "op": "version_gte", "value": [1]}, ("rule", "value"), "version"),
        ({"all": []}, ("rule", "all"), "non-empty list"),
        ({"any": {"path": "x", "op": "exists"}}, ("rule", "any"), "non-empty list"),
        ({"all": [{"path": "x", "op": "exists"}], "any": []}, ("rule", "any"), "unknown key"),
        (
            {"all": [{"path": "x", "op": "exists"}, {"path": "y", "op": "nope"}]},
            ("rule", "all", 1, "op"),
            "unknown op",
        ),
        ({"not": {"path": "x", "op": "equals"}}, ("rule", "not"), "needs a value"),
        ({"for_each": "items"}, ("rule",), "lacks 'assert'"),
        (
            {"for_each": "items[", "assert": {"path": "x", "op": "exists"}},
            ("rule", "for_each"),
            "bad JMESPath",
        ),
        (
            {
                "for_each": "items",
                "where": {"path": "x", "op": "gt", "value": "a"},
                "assert": {"path": "x", "op": "exists"},
            },
            ("rule", "where", "value"),
            "number",
        ),
        (
            {
                "for_each": "items",
                "assert": {"for_each": "sub", "assert": {"path": "(", "op": "exists"}},
            },
            ("rule", "assert", "assert", "path"),
            "bad JMESPath",
        ),
        (
            {"for_each": "items", "assert": {"path": "x", "op": "exists"}, "unless": {}},
            ("rule", "unless"),
            "unknown key",
        ),
        ({"count": "items", "op": "matches", "value": 1}, ("rule", "op"), "count op"),
        ({"count": "items", "op": "equals", "value": "1"}, ("rule", "value"), "number"),
        ({"count": "items", "op": "equals"}, ("rule",), "lacks 'value'"),
        ({"schema": {}, "path": "x"}, ("rule", "path"), "unknown key"),
        ({"paths": "x", "opp": "exists"}, ("rule",), "unknown condition"),
        ({}, ("rule",), "non-empty mapping"),
        ("x exists", ("rule",), "non-empty mapping"),
    ],
)
def test_compile_errors_name_where(
    compile_rule: Compile, spec: Any, where: tuple[Any, ...], fragment: str
) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        compile_rule(spec)
    assert fragment in info.value.message
    assert info.value.where == where


def test_compile_error_hint_lists_ops(compile_rule: Compile) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        compile_rule({"path": "x", "op": "equal", "value": 1})
    assert info.value.hint is not None
    assert "equals" in info.value.hint


def test_runtime_jmespath_error_is_a_compliancegate_error(
    compile_rule: Compile, ctx: EvalContext
) -> None:
    # length() of a number is a JMESPath type error at run time: never a silent pass.
    rule = compile_rule({"path": "length(x)", "op": "gt", "value": 0})
    with pytest.raises(CompliancegateError, match="JMESPath"):
        rule.holds({"x": 5}, ctx)
