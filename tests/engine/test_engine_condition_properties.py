"""Property tests of the condition engine and the safe templates."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compliancegate.engine.conditions import (
    CompileContext,
    Condition,
    EvalContext,
    compile_condition,
    values_equal,
)
from compliancegate.engine.templates import MAX_VALUE_CHARS, MISSING, compile_template

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CTX = EvalContext(now=dt.datetime(2026, 6, 15, tzinfo=dt.UTC))


def compile_(spec: Any) -> Condition:
    return compile_condition(spec, CompileContext(Path(".")))


# JSON-shaped values, as every parsed artifact is.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
    ),
    max_leaves=12,
)
keys = st.sampled_from(["a", "b", "c"])
documents = st.dictionaries(keys, json_values, max_size=3)

# Leaves that never raise on JSON-shaped data (no numeric or date coercion).
safe_leaves = st.one_of(
    st.builds(lambda k, v: {"path": k, "op": "equals", "value": v}, keys, scalars),
    st.builds(lambda k, v: {"path": k, "op": "not_equals", "value": v}, keys, scalars),
    st.builds(lambda k: {"path": k, "op": "exists"}, keys),
    st.builds(lambda k: {"path": k, "op": "absent"}, keys),
    st.builds(
        lambda k, v: {"path": k, "op": "in", "value": v}, keys, st.lists(scalars, max_size=3)
    ),
    st.builds(lambda k, v: {"path": k, "op": "contains", "value": v}, keys, scalars),
    st.builds(
        lambda k, v: {"path": k, "op": "matches", "value": v},
        keys,
        st.sampled_from(["^a", "b$", "[0-9]", "."]),
    ),
)
conditions = st.recursive(
    safe_leaves,
    lambda children: st.one_of(
        st.builds(lambda parts: {"all": parts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda parts: {"any": parts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda part: {"not": part}, children),
    ),
    max_leaves=6,
)


@SETTINGS
@given(conditions, documents)
def test_not_flips_holds(spec: dict[str, Any], data: dict[str, Any]) -> None:
    assert compile_({"not": spec}).holds(data, CTX) is (not compile_(spec).holds(data, CTX))


@SETTINGS
@given(st.lists(conditions, min_size=1, max_size=4), documents)
def test_all_holds_iff_every_part_holds(parts: list[Any], data: dict[str, Any]) -> None:
    expected = all(compile_(p).holds(data, CTX) for p in parts)
    rule = compile_({"all": parts})
    assert rule.holds(data, CTX) is expected
    # As a rule, ``all`` fails exactly when it does not hold.
    assert (rule.failures(data, CTX) == []) is expected


@SETTINGS
@given(st.lists(conditions, min_size=1, max_size=4), documents)
def test_any_holds_iff_some_part_holds(parts: list[Any], data: dict[str, Any]) -> None:
    expected = any(compile_(p).holds(data, CTX) for p in parts)
    rule = compile_({"any": parts})
    assert rule.holds(data, CTX) is expected
    assert (rule.failures(data, CTX) == []) is expected


@SETTINGS
@given(conditions, st.sampled_from(["missing", "null", "empty"]))
def test_for_each_over_an_empty_or_missing_list_passes(check: dict[str, Any], how: str) -> None:
    rule = compile_({"for_each": "items", "where": check, "assert": {"not": check}})
    data: dict[str, Any] = {"missing": {}, "null": {"items": None}, "empty": {"items": []}}[how]
    assert rule.holds(data, CTX)
    assert rule.failures(data, CTX) == []


@SETTINGS
@given(st.lists(st.dictionaries(keys, scalars, max_size=3), max_size=12), safe_leaves)
def test_count_agrees_with_a_python_count(items: list[dict[str, Any]], where: Any) -> None:
    where_rule = compile_(where)
    expected = sum(1 for item in items if where_rule.holds(item, CTX))
    for op, python in (
        ("equals", expected.__eq__),
        ("gte", expected.__ge__),
        ("lt", expected.__lt__),
    ):
        for value in (0, 1, 3, len(items)):
            rule = compile_({"count": "items", "where": where, "op": op, "value": value})
            assert rule.holds({"items": items}, CTX) is python(value)
    plain = compile_({"count": "items", "op": "equals", "value": len(items)})
    assert plain.holds({"items": items}, CTX)


@SETTINGS
@given(st.lists(st.dictionaries(keys, scalars, max_size=3), max_size=12), safe_leaves)
def test_for_each_failures_are_the_items_failing_assert(
    items: list[dict[str, Any]], check: Any
) -> None:
    check_rule = compile_(check)
    rule = compile_({"for_each": "items", "assert": check})
    failing = [item for item in items if not check_rule.holds(item, CTX)]
    assert [f.item for f in rule.failures({"items": items}, CTX)] == failing
    assert rule.holds({"items": items}, CTX) is (not failing)


@SETTINGS
@given(json_values)
def test_equals_is_reflexive_for_json_values(value: Any) -> None:
    assert values_equal(value, value)
    copy = json.loads(json.dumps(value))
    assert values_equal(copy, value)
    assert compile_({"path": "x", "op": "equals", "value": copy}).holds({"x": value}, CTX)
    assert not compile_({"path": "x", "op": "not_equals", "value": copy}).holds({"x": value}, CTX)


def canonical(value: Any) -> Any:
    """An independent oracle: booleans, numbers and strings never compare equal to each
    other, at any depth; 1 and 1.0 are the same number."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    if isinstance(value, dict):
        return ("dict", sorted((k, canonical(v)) for k, v in value.items()))
    return ("null",)


@SETTINGS
@given(json_values, json_values)
def test_equals_is_symmetric_and_strict_at_every_depth(a: Any, b: Any) -> None:
    assert values_equal(a, b) is values_equal(b, a)
    assert values_equal(a, b) is (canonical(a) == canonical(b))


@SETTINGS
@given(json_values)
def test_a_boolean_never_equals_its_number_at_any_depth(value: Any) -> None:
    as_numbers = json.loads(json.dumps(value).replace("true", "1").replace("false", "0"))
    assume(canonical(as_numbers) != canonical(value))
    assert not values_equal(as_numbers, value)


# --------------------------------------------------------------------------- templates


class Tripwire:
    """An object whose attributes must never be read by a template."""

    touched = False

    def __getattr__(self, name: str) -> Any:
        Tripwire.touched = True
        raise AttributeError(name)

    @property
    def secret(self) -> str:
        Tripwire.touched = True
        return "leaked"


field_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="{}"), min_size=0, max_size=20
)


def expected_text(value: Any) -> str:
    """How a template shows a value, cut at ``MAX_VALUE_CHARS`` as the renderer does."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


valid_names = st.lists(
    st.from_regex(r"[A-Za-z0-9_\-@#$]{1,8}", fullmatch=True), min_size=1, max_size=3
).map(".".join)


@SETTINGS
@given(valid_names, json_values)
def test_dotted_fields_render_the_value_or_missing(name: str, value: Any) -> None:
    template = compile_template("<{item." + name + "}>")
    item: Any = value
    for segment in reversed(name.split(".")):
        item = {segment: item}
    assert template.render({"item": item}) == f"<{expected_text(value)}>"
    assert template.render({"item": {}}) == f"<{MISSING}>"
    # The item one level up: the path runs out, or lands on something else, never raises.
    assert isinstance(template.render({"item": value}), str)


@SETTINGS
@given(st.one_of(valid_names, field_names), json_values)
def test_templates_never_raise_for_arbitrary_fields_and_values(name: str, value: Any) -> None:
    # Valid names half the time, so the render assertions run as often as the rejections.
    source = "<{item." + name + "}>"
    try:
        template = compile_template(source)
    except ValueError:
        return  # rejected when the policy is loaded, with a message; never at render time
    segments = ("item." + name).strip().split(".")[1:]
    item: Any = value
    for segment in reversed(segments):
        item = {segment: item}
    # Present: the value itself; absent anywhere along the path: <missing>.
    assert template.render({"item": item}) == f"<{expected_text(value)}>"
    assert template.render({"item": {}}) == f"<{MISSING}>"
    assert template.render({}) == f"<{MISSING}>"


@SETTINGS
@given(json_values, st.text(alphabet="abc._0123", max_size=12))
def test_template_lookup_never_raises_on_any_item(value: Any, name: str) -> None:
    try:
        template = compile_template("{item." + name + "}" if name else "{item}")
    except ValueError:
        return
    assert isinstance(template.render({"item": value}), str)


@SETTINGS
@given(st.sampled_from(["secret", "__class__", "__dict__", "__init__", "missing"]))
def test_templates_never_read_attributes(name: str) -> None:
    Tripwire.touched = False
    rendered = compile_template(f"{{item.{name}}}").render({"item": Tripwire()})
    assert rendered == MISSING
    assert not Tripwire.touched


@SETTINGS
@given(st.text(max_size=40))
def test_compile_template_raises_only_value_error(source: str) -> None:
    try:
        template = compile_template(source)
    except ValueError:
        return
    rendered = template.render({"item": {}, "artifact": {}, "policy": {}, "error": "e"})
    assert isinstance(rendered, str)
    if "{" not in source and "}" not in source:
        assert rendered == source
