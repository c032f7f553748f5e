"""The object-wildcard projection fix over jmespath.py (jmespath/jmespath.py#182)."""

from __future__ import annotations

import jmespath
import pytest

from compliancegate.engine.paths import compile_path
from compliancegate.errors import CompliancegateError

DOC = {"a": {"x": {"b": {"c": 1}}, "y": {"b": {"c": 2}}}}


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("a.*.b.c", DOC, [1, 2]),
        ("a.*.b", DOC, [{"c": 1}, {"c": 2}]),
        ("a.* | [].b.c", DOC, [1, 2]),
        ("a.*.b.c | [0]", DOC, 1),
        ("a.*.b.missing", DOC, []),
        ("foo.*.bar.*", {"foo": {"a": {"bar": {"baz": 123}}}}, [[123]]),
        (
            "jobs.*.steps[].uses",
            {"jobs": {"b": {"steps": [{"uses": "x"}]}, "t": {"steps": [{"uses": "y"}]}}},
            ["x", "y"],
        ),
        ("a.*.b.c", {"a": None}, None),
    ],
)
def test_object_wildcard_projects_the_rest_of_the_path(
    expression: str, data: object, expected: object
) -> None:
    assert compile_path(expression).search(data) == expected


def test_upstream_parser_still_has_the_bug_we_work_around() -> None:
    # If this starts failing, jmespath.py fixed #182 and our parser subclass can go.
    assert jmespath.search("a.*.b.c", DOC) is None


def test_our_cache_is_not_shared_with_upstream() -> None:
    jmespath.compile("a.*.b.c")  # fills jmespath's own cache with the buggy tree
    assert compile_path("a.*.b.c").search(DOC) == [1, 2]


@pytest.mark.parametrize(
    ("expression", "data", "error"),
    [
        ("avg(@)", [10**400, 1], "OverflowError"),
        ("ceil(@)", float("inf"), "OverflowError"),
        ("floor(@)", float("nan"), "ValueError"),
        ("to_string(@)", 10**5000, "ValueError"),
    ],
    ids=["avg", "ceil", "floor", "to_string"],
)
def test_functions_failing_on_hostile_values_are_errors(
    expression: str, data: object, error: str
) -> None:
    with pytest.raises(CompliancegateError, match=f"failed on this value: {error}"):
        compile_path(expression).search(data)
