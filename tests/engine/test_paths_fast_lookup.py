"""Field-only paths (``severity``, ``fix.available``, ``"pkg-name".version``), and the
multi-selects policies write as ``key`` (``[id, package]``, ``{id: id, pkg: package}``), are
evaluated as plain ``.get`` calls instead of through JMESPath's interpreter. Differential
tests prove the result is exactly reference JMESPath's on generated documents and paths,
whatever the shape of the data (lists, strings, numbers and nulls where an object is
expected), and that expressions the fast path does not cover keep the interpreter."""

from __future__ import annotations

import json
import re
from typing import Any

import jmespath
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.engine.paths import compile_path
from compliancegate.errors import CompliancegateError

KEYS = st.sampled_from(["a", "b", "severity", "fix", "pkg-name", "with space", "ü", "0", "_x"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expression(keys: list[str]) -> str:
    """The JMESPath of ``keys``: bare identifiers where allowed, quoted otherwise."""
    return ".".join(k if _IDENTIFIER.fullmatch(k) else json.dumps(k) for k in keys)


@settings(max_examples=400)
@given(DOCUMENTS, st.lists(KEYS, min_size=1, max_size=4))
def test_field_paths_match_reference_jmespath(document: Any, keys: list[str]) -> None:
    text = expression(keys)
    path = compile_path(text)
    assert path.keys == tuple(keys)  # the fast lookup is the one exercised
    assert path.search(document) == jmespath.search(text, document)


FIELDS = st.lists(KEYS, min_size=1, max_size=3).map(expression)
# Expressions the fast path compiles, and some it must leave to the interpreter (indexes,
# projections, functions, filters, literals, pipes), nested inside each other.
EXPRESSIONS = st.recursive(
    FIELDS | st.just("@"),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
        | st.lists(st.tuples(st.sampled_from(["a", "k", "id"]), inner), min_size=1, max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{name}: {x}" for name, x in pairs) + "}"
        )
        | st.tuples(FIELDS, inner).map(".".join)
        | inner.map(lambda x: f"{x}[0]")
        | inner.map(lambda x: f"length({x})")
        | inner.map(lambda x: f"{x} | a")
        | st.just("`[1, 2]`")
        | st.just("a[*].b")
    ),
    max_leaves=6,
)


def _outcome(search: Any, document: Any) -> Any:
    try:
        return ("value", search(document))
    except (jmespath.exceptions.JMESPathError, CompliancegateError) as exc:
        return ("error", type(exc).__name__ != "")


@settings(max_examples=600)
@given(DOCUMENTS, EXPRESSIONS)
def test_compiled_expressions_match_reference_jmespath(document: Any, text: str) -> None:
    try:
        reference = jmespath.compile(text)
    except jmespath.exceptions.ParseError:
        return
    path = compile_path(text)
    expected = _outcome(reference.search, document)
    assert _outcome(path.search, document) == expected


@given(DOCUMENTS)
def test_multi_selects_are_compiled(document: Any) -> None:
    for text in ("[id, package, version]", '{id: id, pkg: "pkg-name".name}', "a.[b, c]", "@"):
        path = compile_path(text)
        assert path.search.__name__ != "_interpret"
        assert path.search(document) == jmespath.search(text, document)


@given(DOCUMENTS)
def test_other_expressions_keep_the_interpreter(document: Any) -> None:
    for text in ("a[0]", "a.*.b", "a[?b]", "length(a)", "a || b", "`[1]`"):
        path = compile_path(text)
        assert path.keys is None
        assert path.search.__name__ == "_interpret"
        try:
            expected = jmespath.search(text, document)
        except jmespath.exceptions.JMESPathError:
            continue
        if text != "a.*.b":  # the project's parser fixes jmespath.py#182 for this one
            assert path.search(document) == expected


def test_lookups_on_values_without_keys_are_null() -> None:
    path = compile_path('fix."pkg-name".available')
    for document in (None, 3, "text", [{"fix": 1}], {"fix": [1]}, {"fix": {"pkg-name": "x"}}):
        assert path.search(document) is None
    assert path.search({"fix": {"pkg-name": {"available": False}}}) is False
