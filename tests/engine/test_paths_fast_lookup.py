"""Field-only paths (``severity``, ``fix.available``, ``"pkg-name".version``) are evaluated as
plain ``.get`` calls instead of through JMESPath's interpreter. Differential tests prove the
result is exactly reference JMESPath's on generated documents and paths, whatever the shape
of the data (lists, strings, numbers and nulls where an object is expected)."""

from __future__ import annotations

import json
import re
from typing import Any

import jmespath
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.engine.paths import compile_path

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


@given(DOCUMENTS)
def test_other_expressions_keep_the_interpreter(document: Any) -> None:
    for text in ("a[0]", "a.*.b", "a[?b]", "length(a)", "a || b", "[a, b]", "@"):
        path = compile_path(text)
        assert path.keys is None
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
