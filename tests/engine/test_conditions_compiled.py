"""Compiled conditions against a reference interpreter.

``compile_condition`` turns each condition into a closure specialised to its path and
operator (one-key string comparisons and regexes fused into one function, ``all``/``not``
composed directly, ``for_each`` as one loop). The reference below is the condition language
of SPEC section 4 written the plain way: a JMESPath search per leaf, then ``values_equal`` and
friends. On generated conditions and documents (NaN, Infinity, booleans against numbers,
lists and objects where a string is expected) both must give the same answer, or raise the
same kind of error, and ``failures`` the same violations.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import jmespath
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.engine.conditions import (
    INDEX_MIN_ITEMS,
    ORDERS,
    CompileContext,
    EvalContext,
    compare_numbers,
    compile_condition,
    is_non_finite,
    values_equal,
)
from compliancegate.errors import CompliancegateError

CTX = EvalContext(now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
KEYS = ["a", "b", "sev"]
PATHS = st.sampled_from(["a", "b", "sev", "a.b", "b.sev", "a[0]", "[a, b]", "@"])
TEXTS = st.sampled_from(["", "x", "HIGH", "high", "lib", "libssl", "1"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=True, allow_infinity=True, width=16)
    | TEXTS
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=3)
    ),
    max_leaves=12,
)
FINITE = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.5, 1.0, -2.0]) | TEXTS
VALUES = FINITE | st.lists(FINITE, max_size=2)


def _leaf(path: str, op: str, value: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"path": path, "op": op}
    if op not in ("exists", "absent"):
        spec["value"] = value
    return spec


LEAVES = st.one_of(
    st.builds(_leaf, PATHS, st.sampled_from(["equals", "not_equals"]), VALUES),
    st.builds(_leaf, PATHS, st.sampled_from(["in", "not_in"]), st.lists(FINITE, max_size=3)),
    st.builds(_leaf, PATHS, st.sampled_from(["in", "not_in"]), st.lists(TEXTS, max_size=3)),
    st.builds(_leaf, PATHS, st.sampled_from(["contains", "not_contains"]), VALUES),
    st.builds(_leaf, PATHS, st.sampled_from(["exists", "absent"])),
    st.builds(_leaf, PATHS, st.just("matches"), st.sampled_from(["^lib", "H", "^$", "s{2}"])),
    st.builds(_leaf, PATHS, st.sampled_from(["gt", "gte", "lt", "lte"]), st.integers(-2, 2)),
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"all": parts})
        | st.lists(inner, min_size=1, max_size=3).map(lambda parts: {"any": parts})
        | inner.map(lambda part: {"not": part})
    ),
    max_leaves=5,
)
RULES = CONDITIONS | st.builds(
    lambda path, where, check: (
        {"for_each": path, "assert": check} | ({"where": where} if where is not None else {})
    ),
    st.sampled_from(["@", "a", "b"]),
    st.none() | CONDITIONS,
    CONDITIONS,
)


class Refused(Exception):
    """The reference's evaluation error (the engine raises ``EvaluationError``)."""


def _items(selected: Any) -> list[Any]:
    if selected is None:
        return []
    return selected if isinstance(selected, list) else [selected]


def _number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[ \t]*[+-]?[0-9]+(\.[0-9]*)?[ \t]*", value):
        return float(value)  # the texts generated here are small integers: exact as floats
    raise Refused


def reference(spec: dict[str, Any], data: Any) -> bool:
    """SPEC section 4, the plain way."""
    if "all" in spec:
        return all(reference(part, data) for part in spec["all"])
    if "any" in spec:
        return any(reference(part, data) for part in spec["any"])
    if "not" in spec:
        return not reference(spec["not"], data)
    if "for_each" in spec:
        for item in _items(jmespath.search(spec["for_each"], data)):
            if ("where" not in spec or reference(spec["where"], item)) and not reference(
                spec["assert"], item
            ):
                return False
        return True
    op, value = spec["op"], spec.get("value")
    actual = jmespath.search(spec["path"], data)
    if op == "exists":
        return actual is not None
    if op == "absent":
        return actual is None
    if is_non_finite(actual):
        raise Refused

    def equal(a: Any, b: Any) -> bool:
        try:
            return values_equal(a, b, strict=True)
        except CompliancegateError:
            raise Refused from None

    if op in ("equals", "not_equals"):
        return equal(actual, value) is (op == "equals")
    if op in ("in", "not_in"):
        return any(equal(actual, option) for option in value) is (op == "in")
    if op in ("contains", "not_contains"):
        if isinstance(actual, str | dict):
            found = isinstance(value, str) and value in actual
        elif isinstance(actual, list):
            found = any(equal(element, value) for element in actual)
        else:
            found = False
        return found is (op == "contains")
    if op == "matches":
        return isinstance(actual, str) and re.search(value, actual) is not None
    if actual is None:
        return False
    return compare_numbers(_number(actual), value) in ORDERS[op]


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("holds", function(*args))
    except (CompliancegateError, Refused):
        return ("error", None)


def compile_(spec: dict[str, Any]) -> Any:
    return compile_condition(spec, CompileContext(Path(".")))


@settings(max_examples=800, deadline=None)
@given(RULES, DOCUMENTS)
def test_compiled_conditions_answer_as_the_reference(spec: dict[str, Any], data: Any) -> None:
    compiled = compile_(spec)
    assert outcome(compiled.holds, data, CTX) == outcome(reference, spec, data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["@", "a"]), st.none() | CONDITIONS, CONDITIONS, DOCUMENTS)
def test_for_each_failures_are_the_reference_items(
    path: str, where: dict[str, Any] | None, check: dict[str, Any], data: Any
) -> None:
    spec: dict[str, Any] = {"for_each": path, "assert": check}
    if where is not None:
        spec["where"] = where
    failures = compile_(spec).failures(data, CTX)
    expected: list[tuple[Any, bool]] = []
    for item in _items(jmespath.search(path, data)):
        selected = outcome(lambda i: where is None or reference(where, i), item)
        passes = outcome(reference, check, item) if selected == ("holds", True) else None
        if selected[0] == "error" or (passes is not None and passes[0] == "error"):
            expected.append((item, True))
        elif passes == ("holds", False):
            expected.append((item, False))
    assert [f.error for f in failures] == [error for _item, error in expected]
    assert all(f.item is item for f, (item, _e) in zip(failures, expected, strict=True))


@given(st.sampled_from(["equals", "in", "not_equals", "not_in", "matches"]), DOCUMENTS)
def test_the_fused_one_key_leaves_refuse_non_finite_values(op: str, data: Any) -> None:
    value: Any = {"equals": "x", "not_equals": "x", "matches": "x"}.get(op, ["x", "y"])
    rule = compile_({"path": "sev", "op": op, "value": value})
    for bad in (float("nan"), float("inf"), float("-inf")):
        assert outcome(rule.holds, {"sev": bad}, CTX) == ("error", None)
    assert outcome(rule.holds, data, CTX) == outcome(
        reference, {"path": "sev", "op": op, "value": value}, data
    )


FINDING = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "sev": SCALARS | st.sampled_from([float("nan"), float("inf"), "HIGH", "high"]),
            "b": st.sampled_from(["HIGH", "x", "lib"]) | SCALARS,
            "a": st.integers(0, 3),
        },
    ),
    SCALARS,
    st.lists(SCALARS, max_size=1),
)
TEXT_WHERES = st.one_of(
    st.builds(_leaf, st.sampled_from(["sev", "b"]), st.just("equals"), TEXTS),
    st.builds(_leaf, st.sampled_from(["sev", "b"]), st.just("in"), st.lists(TEXTS, max_size=3)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(FINDING, min_size=1, max_size=12),
    st.integers(0, 40),
    st.lists(TEXT_WHERES, min_size=1, max_size=3),
    CONDITIONS,
)
def test_an_indexed_where_selects_what_the_reference_selects(
    shapes: list[Any], extra: int, wheres: list[dict[str, Any]], check: dict[str, Any]
) -> None:
    # Long lists take the index (INDEX_MIN_ITEMS); several policies share one context, so
    # the second and third use the index the first built.
    findings = [shapes[i % len(shapes)] for i in range(INDEX_MIN_ITEMS + extra)]
    ctx = EvalContext(now=CTX.now)
    data = {"a": findings}
    for where in wheres:
        spec = {"for_each": "a", "where": where, "assert": check}
        failures = compile_(spec).failures(data, ctx)
        expected: list[tuple[int, bool]] = []
        for index, item in enumerate(findings):
            selected = outcome(reference, where, item)
            passes = outcome(reference, check, item) if selected == ("holds", True) else None
            if selected[0] == "error" or (passes is not None and passes[0] == "error"):
                expected.append((index, True))
            elif passes == ("holds", False):
                expected.append((index, False))
        got = [(f.error, f.detail if f.error else "") for f in failures]
        assert [error for error, _d in got] == [error for _i, error in expected]
        for failure, (index, error) in zip(failures, expected, strict=True):
            assert failure.item is findings[index]
            if error:  # an item in error is named by its index in the whole list
                assert failure.detail.startswith(f"a[{index}]: ")


def test_the_index_is_built_once_per_list_and_field() -> None:
    findings = [{"target": f"t{i % 4}", "severity": "high"} for i in range(200)]
    ctx = EvalContext(now=CTX.now)
    for target in ("t0", "t1", "t2"):
        rule = compile_(
            {
                "for_each": "@",
                "where": {"path": "target", "op": "equals", "value": target},
                "assert": {"path": "severity", "op": "equals", "value": "low"},
            }
        )
        failures = rule.failures(findings, ctx)
        assert [f.item["target"] for f in failures] == [target] * 50
    assert len(ctx.indexes) == 1


def test_an_indexed_where_still_meets_nan_and_infinity() -> None:
    # The index leaves out every item whose field is not a string, except a non-finite
    # number: comparing it is an item error, which must still be reported, in order.
    findings: list[Any] = [{"sev": "HIGH"}, {"sev": float("nan")}, {"sev": 3}, "text", None]
    findings = findings * 20 + [{"sev": float("-inf")}]
    rule = compile_(
        {
            "for_each": "@",
            "where": {"path": "sev", "op": "in", "value": ["HIGH", "LOW"]},
            "assert": {"path": "fixed", "op": "exists"},
        }
    )
    failures = rule.failures(findings, EvalContext(now=CTX.now))
    errors = [f.detail.split(":")[0] for f in failures if f.error]
    assert errors == [f"@[{5 * i + 1}]" for i in range(20)] + ["@[100]"]
    assert [f.item for f in failures if not f.error] == [{"sev": "HIGH"}] * 20


def test_only_a_list_the_document_holds_is_indexed() -> None:
    # A projection makes a new list on every search: indexing it would keep one list and
    # index per policy alive for the run, for nothing. The answers are the same either way.
    findings = [{"target": f"t{i % 4}", "severity": "high"} for i in range(200)]
    ctx = EvalContext(now=CTX.now)
    for path in ("a[*]", "a"):
        rule = compile_(
            {
                "for_each": path,
                "where": {"path": "target", "op": "equals", "value": "t1"},
                "assert": {"path": "severity", "op": "equals", "value": "low"},
            }
        )
        assert len(rule.failures({"a": findings}, ctx)) == 50
        assert len(ctx.indexes) == (0 if path == "a[*]" else 1)
