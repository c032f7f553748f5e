"""Reports are written by orjson: the same text the standard library writes with
``indent=2, ensure_ascii=False`` (differential, on generated documents), and what orjson
refuses (integers past 64 bits, lone surrogates) still written, by the standard library."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.reporters.json_report import indented

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)


def reference(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)


@settings(max_examples=300)
@given(DOCUMENTS)
def test_the_same_document_as_the_standard_library(document: Any) -> None:
    text = indented(document)
    if text != reference(document):
        # Only a float's exponent may be spelled differently (1e-05 / 1e-5): same JSON.
        assert "e" in reference(document).lower()
        assert json.loads(text) == json.loads(reference(document))


def test_what_orjson_refuses_is_written_all_the_same() -> None:
    for document in ({"n": 2**70}, {"s": "\ud800"}, [10**400]):
        assert indented(document) == reference(document)


def test_strings_and_structure_exactly() -> None:
    document = {"a": [1, {"b": None, "é": '\u2028\x1b"\\'}], "c": [], "d": {}}
    assert indented(document) == reference(document)
