"""Values that compare as false or blow up a comparison: NaN and Infinity, numbers written as
strings, huge numbers, over-long versions, lone surrogates and deep nesting.

Each class is tested at the condition level (every op and its ``not``) and through
``evaluate_policy``: one hostile value fails its own item, never the run, never a pass.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.engine.conditions import (
    LEAF_OPS,
    MAX_NUMBER_CHARS,
    MAX_VERSION_CHARS,
    CompileContext,
    Condition,
    ConditionSyntaxError,
    EvalContext,
    compile_condition,
    values_equal,
)
from compliancegate.engine.evaluation import evaluate_policy, fingerprint
from compliancegate.errors import EvaluationError
from compliancegate.model import Artifact, InputSpec, Policy, PolicyResult, Status

Compile = Callable[[Any], Condition]
MakePolicy = Callable[..., Policy]

CTX = EvalContext(now=dt.datetime(2026, 6, 15, tzinfo=dt.UTC))
NON_FINITE = [math.nan, math.inf, -math.inf]
NON_FINITE_TEXT = ["NaN", "nan", "-nan", "Infinity", "-Infinity", "inf", "+inf", "INF"]
ORDERED = ["gt", "gte", "lt", "lte"]

# A valid value for every op that takes one, chosen so that each op could hold on some data.
OP_VALUES: dict[str, Any] = {
    "equals": 7,
    "not_equals": 7,
    "in": [1, 7, "x"],
    "not_in": [1, 7, "x"],
    "contains": 7,
    "not_contains": 7,
    "matches": ".",
    "gt": 7,
    "gte": 7,
    "lt": 7,
    "lte": 7,
    "older_than": "30d",
    "newer_than": "30d",
    "version_gte": "1.2",
    "version_lt": "1.2",
}
COMPARING_OPS = [op for op in LEAF_OPS if op not in ("exists", "absent")]


def leaf(op: str, value: Any = None, path: str = "x") -> dict[str, Any]:
    spec: dict[str, Any] = {"path": path, "op": op}
    if op not in ("exists", "absent"):
        spec["value"] = OP_VALUES[op] if value is None else value
    return spec


def passes(rule: Condition, data: Any, ctx: EvalContext) -> bool:
    """Whether ``rule`` at the top of a policy passes: no failures and no error."""
    try:
        failures = rule.failures(data, ctx)
    except EvaluationError:
        return False
    return not failures


def test_every_comparing_op_has_a_sample_value() -> None:
    assert set(OP_VALUES) == set(COMPARING_OPS)


# --------------------------------------------------------------------------- NaN, Infinity


@pytest.mark.parametrize("op", COMPARING_OPS)
@pytest.mark.parametrize("bad", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("negate", [False, True], ids=["op", "not"])
def test_non_finite_operand_is_an_error_for_every_op(
    compile_rule: Compile, ctx: EvalContext, op: str, bad: float, negate: bool
) -> None:
    spec = leaf(op)
    rule = compile_rule({"not": spec} if negate else spec)
    with pytest.raises(EvaluationError, match=r"^x is (NaN|Infinity|-Infinity), which cannot"):
        rule.holds({"x": bad}, ctx)


@pytest.mark.parametrize("op", ["exists", "absent"])
@pytest.mark.parametrize("bad", NON_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_value_still_exists(
    compile_rule: Compile, ctx: EvalContext, op: str, bad: float
) -> None:
    assert compile_rule(leaf(op)).holds({"x": bad}, ctx) is (op == "exists")


@pytest.mark.parametrize("op", ORDERED)
@pytest.mark.parametrize("text", NON_FINITE_TEXT)
@pytest.mark.parametrize("negate", [False, True], ids=["op", "not"])
def test_non_finite_text_is_not_a_number(
    compile_rule: Compile, ctx: EvalContext, op: str, text: str, negate: bool
) -> None:
    # float() reads all of these; the engine must not.
    spec = leaf(op)
    rule = compile_rule({"not": spec} if negate else spec)
    with pytest.raises(EvaluationError, match="not a number"):
        rule.holds({"x": text}, ctx)


@pytest.mark.parametrize("op", ["equals", "not_equals", "in", "not_in", "contains", "not_contains"])
@pytest.mark.parametrize("negate", [False, True], ids=["op", "not"])
def test_non_finite_nested_in_a_compared_list_is_an_error(
    compile_rule: Compile, ctx: EvalContext, op: str, negate: bool
) -> None:
    value = 7 if "contains" in op else [1, 2] if "equals" in op else [[1, 2]]
    spec = leaf(op, value)
    rule = compile_rule({"not": spec} if negate else spec)
    with pytest.raises(EvaluationError, match="cannot be compared"):
        rule.holds({"x": [math.nan, 2]}, ctx)


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("negate", [False, True], ids=["op", "not"])
def test_count_where_meeting_nan_is_an_error(
    compile_rule: Compile, ctx: EvalContext, op: str, negate: bool
) -> None:
    spec = {"count": "items", "where": leaf("gte", 7, "score"), "op": op, "value": 1}
    rule = compile_rule({"not": spec} if negate else spec)
    data = {"items": [{"score": 9}, {"score": math.nan}]}
    assert not passes(rule, data, ctx)
    with pytest.raises(EvaluationError, match="score is NaN"):
        rule.holds(data, ctx)


@pytest.mark.parametrize(
    "spec",
    [
        leaf("gt", math.nan),
        leaf("lte", math.inf),
        leaf("equals", math.nan),
        leaf("not_equals", -math.inf),
        leaf("in", [1, math.nan]),
        leaf("not_in", [[math.inf]]),
        leaf("contains", math.nan),
        leaf("equals", {"a": [math.nan]}),
        {"count": "items", "op": "lt", "value": math.nan},
        {"count": "items", "op": "gte", "value": math.inf},
    ],
    ids=str,
)
def test_non_finite_policy_value_is_refused_when_compiled(compile_rule: Compile, spec: Any) -> None:
    with pytest.raises(ConditionSyntaxError, match=r"NaN or Infinity|finite"):
        compile_rule(spec)


def test_waiver_match_on_nan_matches_nothing() -> None:
    # Waivers use the lenient form: NaN equals nothing, so a waiver never widens.
    assert not values_equal(math.nan, math.nan)
    assert not values_equal([math.nan], [math.nan])
    with pytest.raises(EvaluationError):
        values_equal(math.nan, math.nan, strict=True)


# The property the issue asks for: whatever the op, the value and the surroundings, a
# NaN or an infinity where the rule compares never lets the rule pass.
_bad_numbers = st.sampled_from(NON_FINITE)
_ops = st.sampled_from(COMPARING_OPS)


@st.composite
def _rules_reading_x(draw: st.DrawFn) -> dict[str, Any]:
    spec = leaf(draw(_ops))
    for _ in range(draw(st.integers(0, 3))):
        spec = {"not": spec} if draw(st.booleans()) else {"all": [spec]}
    return spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules_reading_x(), _bad_numbers, st.booleans())
def test_property_non_finite_never_passes(
    spec: dict[str, Any], bad: float, in_for_each: bool
) -> None:
    if in_for_each:
        rule = compile_condition({"for_each": "items", "assert": spec}, CompileContext(Path(".")))
        data: Any = {"items": [{"x": bad}]}
    else:
        rule = compile_condition(spec, CompileContext(Path(".")))
        data = {"x": bad}
    assert not passes(rule, data, CTX)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ORDERED), st.sampled_from(NON_FINITE_TEXT), st.integers(0, 2))
def test_property_non_finite_text_never_passes_ordered_ops(op: str, text: str, depth: int) -> None:
    spec: dict[str, Any] = leaf(op)
    for _ in range(depth):
        spec = {"not": spec}
    for rule_spec in (spec, {"not": spec}):
        rule = compile_condition(rule_spec, CompileContext(Path(".")))
        assert not passes(rule, {"x": text}, CTX)


# --------------------------------------------------------------------------- numbers as text


@pytest.mark.parametrize(
    ("actual", "op", "threshold", "expected"),
    [
        ("7", "gte", 7, True),
        ("007", "gte", 7, True),
        ("+7.0", "lte", 7, True),
        (" 7.5\t", "gt", 7, True),
        ("7.", "gte", 7, True),
        (".5", "lt", 1, True),
        ("-3e2", "lt", -299, True),
        ("1E3", "gte", 1000, True),
        # Compared exactly, as decimals: the string "0.1" is one tenth, and so is 0.1 in the
        # policy (a float means what it was written as).
        ("0.1", "gte", 0.1, True),
        ("0.1", "lte", 0.1, True),
        ("0.30000000000000004", "gt", 0.3, True),
        # Larger than any float, not Infinity.
        ("1e400", "gt", 10**300, True),
        ("-1e400", "lt", -(10**300), True),
        ("1" * MAX_NUMBER_CHARS, "gt", 10**300, True),
        ("1e-400", "gt", 0, True),
    ],
)
def test_numbers_written_as_text_compare_exactly(
    compile_rule: Compile, ctx: EvalContext, actual: str, op: str, threshold: Any, expected: bool
) -> None:
    assert compile_rule(leaf(op, threshold)).holds({"x": actual}, ctx) is expected
    assert compile_rule({"not": leaf(op, threshold)}).holds({"x": actual}, ctx) is not expected


@pytest.mark.parametrize(
    "text",
    [
        "1_000",  # float() reads it
        "١٢",  # Arabic-Indic digits: float() reads them
        "１２",  # full-width digits
        "0x10",
        "1e",
        "e5",
        ".",
        "",
        " ",
        "7 5",
        "1" * (MAX_NUMBER_CHARS + 1),
        "1e99999999999999999999",  # beyond Decimal's exponent range
        "12\n",
    ],
)
def test_text_that_is_not_a_plain_decimal_is_an_error(
    compile_rule: Compile, ctx: EvalContext, text: str
) -> None:
    for spec in (leaf("gte", 7), {"not": leaf("gte", 7)}):
        with pytest.raises(EvaluationError, match=r"not a number|out of range"):
            compile_rule(spec).holds({"x": text}, ctx)


# --------------------------------------------------------------------------- huge numbers


@pytest.mark.parametrize("digits", [17, 309, 400, 4300])
def test_huge_integers_compare_exactly(
    compile_rule: Compile, ctx: EvalContext, digits: int
) -> None:
    big = 10 ** (digits - 1)
    assert compile_rule(leaf("gt", 7)).holds({"x": big}, ctx)
    assert compile_rule(leaf("gt", 1.7e308)).holds({"x": big}, ctx) is (digits > 309)
    assert compile_rule(leaf("lt", -7)).holds({"x": -big}, ctx)
    assert not compile_rule({"not": leaf("gte", 7)}).holds({"x": big}, ctx)
    # The policy's threshold may be huge too.
    assert compile_rule(leaf("lt", big)).holds({"x": 7.5}, ctx)
    assert compile_rule(leaf("equals", big)).holds({"x": big}, ctx)
    assert not compile_rule(leaf("equals", big)).holds({"x": big + 1}, ctx)
    rule = compile_rule({"count": "items", "op": "lt", "value": big})
    assert rule.holds({"items": [1, 2]}, ctx)


def test_integer_past_the_str_limit_is_shown_not_crashed(make_policy: MakePolicy) -> None:
    # Parsers refuse such numbers, but JMESPath sum() can build one; str() of it raises.
    policy = make_policy(SCORE_RULE)
    result = evaluate(policy, {"items": [{"name": "sum", "score": 10**5000}]})
    assert [v.message for v in result.violations] == ["sum scores <a number of about 5,001 digits>"]
    rule = compile_condition(leaf("version_gte", "1"), CompileContext(Path(".")))
    with pytest.raises(EvaluationError, match="about 5,001 digits"):
        rule.holds({"x": 10**5000}, CTX)


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize("length", [MAX_VERSION_CHARS - 1, MAX_VERSION_CHARS])
def test_versions_up_to_the_limit_are_compared(
    compile_rule: Compile, ctx: EvalContext, length: int
) -> None:
    version = "1." + "9" * (length - 2)
    assert len(version) == length
    assert compile_rule(leaf("version_gte", "1.2")).holds({"x": version}, ctx)
    assert not compile_rule(leaf("version_lt", "1.2")).holds({"x": version}, ctx)
    loose = "2.0-" + "9" * (length - 10) + "ubuntu"  # not PEP 440: the loose order
    assert len(loose) == length
    assert compile_rule(leaf("version_gte", "1.2")).holds({"x": loose}, ctx)


@pytest.mark.parametrize("length", [MAX_VERSION_CHARS + 1, 400, 5000, 100_000])
@pytest.mark.parametrize("op", ["version_gte", "version_lt"])
@pytest.mark.parametrize("negate", [False, True], ids=["op", "not"])
def test_over_long_versions_are_an_error_naming_the_path(
    compile_rule: Compile, ctx: EvalContext, length: int, op: str, negate: bool
) -> None:
    spec = leaf(op, "1.2", path="pkg.version")
    rule = compile_rule({"not": spec} if negate else spec)
    for version in ("1." + "1" * (length - 2), "1" * length, "a" * length):
        started = time.monotonic()
        with pytest.raises(EvaluationError, match=r"^pkg\.version is a version longer than 256"):
            rule.holds({"pkg": {"version": version}}, ctx)
        assert time.monotonic() - started < 0.5


def test_over_long_integer_version_is_an_error(compile_rule: Compile, ctx: EvalContext) -> None:
    for value in (10**300, 10**5000, -(10**400)):
        with pytest.raises(EvaluationError, match="longer than 256"):
            compile_rule(leaf("version_gte", "1.2")).holds({"x": value}, ctx)


def test_over_long_version_threshold_is_refused_when_compiled(compile_rule: Compile) -> None:
    with pytest.raises(ConditionSyntaxError, match="longer than 256"):
        compile_rule(leaf("version_gte", "1." * 200))
    compile_rule(leaf("version_gte", "1" * MAX_VERSION_CHARS))


# --------------------------------------------------------------------------- evaluate_policy


@dataclass
class FakeSelection:
    artifacts: tuple[Artifact, ...]
    errors: tuple[Any, ...] = ()
    files: tuple[str, ...] = ()
    missing: str | None = None


@dataclass
class FakeSource:
    """Artifacts built in memory, so that any Python value can reach the engine."""

    documents: Sequence[Any]
    names: Sequence[str] = field(default_factory=list)

    def select(self, spec: InputSpec) -> FakeSelection:
        names = list(self.names) or [f"doc{i}.json" for i in range(len(self.documents))]
        artifacts = tuple(
            Artifact(name, "json", RAW_KIND, "json", document)
            for name, document in zip(names, self.documents, strict=True)
        )
        return FakeSelection(artifacts, files=tuple(names))


SCORE_RULE = """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {not: {path: score, op: gte, value: 7}}
message: "{item.name} scores {item.score}"
"""


def evaluate(policy: Policy, *documents: Any, names: Sequence[str] = ()) -> PolicyResult:
    result, _ = evaluate_policy(policy, FakeSource(documents, names), CTX, None)
    return result


@pytest.mark.parametrize(
    "hostile",
    [math.nan, math.inf, -math.inf, "NaN", "Infinity", "-inf", [math.nan]],
    ids=repr,
)
def test_one_hostile_item_errors_and_the_others_are_still_evaluated(
    make_policy: MakePolicy, hostile: Any
) -> None:
    policy = make_policy(SCORE_RULE)
    document = {
        "items": [
            {"name": "high", "score": 9},
            {"name": "hostile", "score": hostile},
            {"name": "also-high", "score": 8},
            {"name": "low", "score": 1},
        ]
    }
    result = evaluate(policy, document, {"items": [{"name": "other-file", "score": 10}]})
    assert result.status is Status.ERROR
    assert [v.message for v in result.violations] == [
        "high scores 9",
        "also-high scores 8",
        "other-file scores 10",
    ]
    assert result.error is not None
    assert result.error.startswith("doc0.json: items[1]: score is ")


def test_hostile_item_inside_all_keeps_the_other_parts(make_policy: MakePolicy) -> None:
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule:
  all:
    - {path: score, op: lt, value: 7}
    - {path: name, op: equals, value: ok}
"""
    )
    result = evaluate(policy, {"score": math.nan, "name": "bad"})
    assert result.status is Status.ERROR
    assert result.error == "doc0.json: all[0]: score is NaN, which cannot be compared"
    assert [v.message for v in result.violations] == ['Test policy: name equals "ok"']


@pytest.mark.parametrize("digits", [20, 309, 400, 4300])
def test_huge_number_is_evaluated_and_reported(make_policy: MakePolicy, digits: int) -> None:
    policy = make_policy(SCORE_RULE)
    huge = int("9" * digits)
    result = evaluate(policy, {"items": [{"name": "huge", "score": huge}]})
    assert result.status is Status.FAIL
    (violation,) = result.violations
    assert violation.message.startswith("huge scores 999")
    assert len(violation.message) < 400  # templates cut long values


def test_over_long_version_fails_its_item_naming_the_value(make_policy: MakePolicy) -> None:
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule:
  for_each: packages
  assert: {path: version, op: version_gte, value: "2.0"}
message: "{item.name} {item.version} is too old"
"""
    )
    document = {
        "packages": [
            {"name": "old", "version": "1.0"},
            {"name": "bomb", "version": "1." + "0" * 5000},
            {"name": "new", "version": "3.0"},
        ]
    }
    started = time.monotonic()
    result = evaluate(policy, document)
    assert time.monotonic() - started < 1
    assert result.status is Status.ERROR
    assert [v.message for v in result.violations] == ["old 1.0 is too old"]
    assert result.error is not None
    assert result.error.startswith("doc0.json: packages[1]: version is a version longer than 256")


def _nested(depth: int, leaf_value: Any) -> Any:
    value = leaf_value
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [sys.getrecursionlimit() * 2, sys.getrecursionlimit() * 10])
def test_recursion_in_one_item_errors_that_item_only(make_policy: MakePolicy, depth: int) -> None:
    # JMESPath's to_string() serializes the value recursively; a value nested past the stack
    # must fail its own item, not the run, and never be swallowed into a pass.
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {not: {path: "to_string(value)", op: matches, value: "secret"}}
message: "{item.name}"
"""
    )
    document = {
        "items": [
            {"name": "first", "value": {"a": "secret"}},
            {"name": "deep", "value": _nested(depth, 1)},
            {"name": "last", "value": {"a": "secret"}},
        ]
    }
    result = evaluate(policy, document)
    assert result.status is Status.ERROR
    assert [v.message for v in result.violations] == ["first", "last"]
    assert result.error == "doc0.json: items[1]: too deeply nested to evaluate"


def test_recursion_in_a_whole_document_rule_is_an_error_never_a_pass(
    make_policy: MakePolicy,
) -> None:
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule: {not: {path: "to_string(value)", op: matches, value: "secret"}}
"""
    )
    deep = {"value": _nested(sys.getrecursionlimit() * 2, 1)}
    result = evaluate(policy, deep, {"value": {"a": 2}}, names=["deep.json", "fine.json"])
    assert result.status is Status.ERROR
    assert result.error == "deep.json: document too deeply nested to evaluate"
    assert result.artifacts == ("deep.json", "fine.json")


def test_recursion_while_reporting_a_failing_item_is_an_error(make_policy: MakePolicy) -> None:
    # The item fails without recursing (its name), but its identity (canonical JSON) and its
    # message recurse into the deep value.
    policy = make_policy(
        """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {path: ok, op: equals, value: true}
message: "{item.name} {item.value}"
"""
    )
    document = {
        "items": [
            {"name": "deep", "ok": False, "value": _nested(sys.getrecursionlimit() * 2, 1)},
            {"name": "plain", "ok": False, "value": 1},
        ]
    }
    result = evaluate(policy, document)
    assert result.status is Status.ERROR
    assert [v.message for v in result.violations] == ["plain 1"]
    assert result.error == "doc0.json: a failing item too deeply nested to report"


@pytest.mark.parametrize("where", ["message", "file"])
def test_lone_surrogates_are_fingerprinted_and_reported(
    make_policy: MakePolicy, where: str
) -> None:
    policy = make_policy(SCORE_RULE)
    name = "a\ud800b" if where == "message" else "x"
    file = "\udcff\udcfe.json" if where == "file" else "doc.json"
    result = evaluate(policy, {"items": [{"name": name, "score": 9}]}, names=[file])
    assert result.status is Status.FAIL
    (violation,) = result.violations
    assert violation.message == f"{name} scores 9"
    assert violation.location.file == file
    # Distinct from the same text with the surrogate replaced, and stable.
    other = evaluate(
        policy, {"items": [{"name": name.replace("\ud800", "\ufffd"), "score": 9}]}, names=[file]
    )
    assert (other.violations[0].fingerprint != violation.fingerprint) is (where == "message")
    assert fingerprint("p", "raw", "\ud800") == fingerprint("p", "raw", "\ud800")


def test_fingerprints_of_valid_text_did_not_change() -> None:
    # surrogatepass only differs from UTF-8 on lone surrogates: existing ledgers keep matching.
    import hashlib

    expected = hashlib.sha256(b"p\x00raw\x00caf\xc3\xa9\x00").hexdigest()
    assert fingerprint("p", "raw", "café") == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("scores.json", '{"items": [{"name": "n", "score": NaN}]}'),
        ("scores.json", '{"items": [{"name": "n", "score": -Infinity}]}'),
        ("scores.yaml", "items: [{name: n, score: .nan}]\n"),
        ("scores.yaml", "items: [{name: n, score: -.inf}]\n"),
        ("scores.yaml", "items: [{name: n, score: .NaN}]\n"),
        ("scores.toml", '[[items]]\nname = "n"\nscore = nan\n'),
        ("scores.toml", '[[items]]\nname = "n"\nscore = -inf\n'),
    ],
)
def test_non_finite_values_from_every_syntax_are_errors(
    make_policy: MakePolicy, tmp_path: Path, name: str, text: str
) -> None:
    # Whatever the parser does with NaN (refuse the file, or read the value), the policy
    # that reads it never passes, and the error names the file.
    from compliancegate.artifacts.selection import ArtifactStore

    policy = make_policy(SCORE_RULE.replace("*.json", "scores.*"))
    root = tmp_path / "release"
    root.mkdir()
    (root / name).write_text(text)
    result, _ = evaluate_policy(policy, ArtifactStore([root]), CTX, None)
    assert result.status is Status.ERROR
    assert result.error is not None and name in result.error
