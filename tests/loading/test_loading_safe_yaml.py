"""The safe YAML reader: YAML 1.2 booleans, dates as strings, line marks, hostile input."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.errors import CompliancegateError
from compliancegate.loading.safe_yaml import MAX_DEPTH, load_documents


def load_one(text: str) -> object:
    (document,) = load_documents(text, "doc.yaml")
    return document.data


def test_yaml_1_2_booleans() -> None:
    data = load_one(
        """\
on:
  push: {branches: [main]}
a: yes
b: no
c: on
d: off
e: y
f: n
g: Yes
h: NO
t1: true
t2: True
t3: TRUE
f1: false
f2: False
f3: FALSE
"""
    )
    assert data == {
        "on": {"push": {"branches": ["main"]}},
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": "y",
        "f": "n",
        "g": "Yes",
        "h": "NO",
        "t1": True,
        "t2": True,
        "t3": True,
        "f1": False,
        "f2": False,
        "f3": False,
    }
    assert True not in data  # type: ignore[operator]


def test_dates_and_timestamps_stay_strings() -> None:
    data = load_one(
        "d: 2026-10-01\nt: 2026-10-01T10:00:00Z\ns: 2026-10-01 10:00:00\nq: '2026-10-01'\n"
    )
    assert data == {
        "d": "2026-10-01",
        "t": "2026-10-01T10:00:00Z",
        "s": "2026-10-01 10:00:00",
        "q": "2026-10-01",
    }


def test_other_scalars() -> None:
    data = load_one("i: 42\nf: 1.5\nn: null\nt: ~\ne:\ns: '42'\nneg: -3\n")
    assert data == {"i": 42, "f": 1.5, "n": None, "t": None, "e": None, "s": "42", "neg": -3}
    assert isinstance(data["i"], int)  # type: ignore[index]


def test_json_is_yaml() -> None:
    assert load_one('{"a": [1, true, null, "x"]}') == {"a": [1, True, None, "x"]}


def test_multi_document_stream() -> None:
    documents = load_documents(
        "a: 1\n---\nb: 2\n---\n# only a comment\n---\n- x\n- y\n", "stream.yaml"
    )
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}, None, ["x", "y"]]
    assert documents[0].start_line == 1
    assert documents[1].start_line == 3
    assert documents[3].start_line == 7


def test_empty_stream() -> None:
    assert load_documents("", "empty.yaml") == []
    assert load_documents("# nothing\n", "empty.yaml") == []


def test_line_at_nested_paths() -> None:
    (document,) = load_documents(
        """\
apiVersion: v1
metadata:
  name: web
  labels:
    app: shop
spec:
  containers:
    - name: app
      image: app:1.0
    - name: sidecar

      image: proxy:latest
""",
        "pod.yaml",
    )
    assert document.line_at([]) == 1
    assert document.line_at(["apiVersion"]) == 1
    assert document.line_at(["metadata"]) == 2
    assert document.line_at(["metadata", "labels", "app"]) == 5
    assert document.line_at(["spec", "containers"]) == 7
    assert document.line_at(["spec", "containers", 0]) == 8
    assert document.line_at(["spec", "containers", 1]) == 10
    assert document.line_at(["spec", "containers", 1, "image"]) == 12
    # Best effort: a path that goes nowhere gives the deepest line found.
    assert document.line_at(["spec", "containers", 1, "nope"]) == 10
    assert document.line_at(["spec", "containers", 7]) == 7
    assert document.line_at(["nope", "deeper"]) == 1


def test_line_at_in_a_later_document() -> None:
    documents = load_documents("a: 1\n---\nx:\n  y:\n    z: 1\n", "two.yaml")
    assert documents[1].line_at(["x", "y", "z"]) == 5
    assert documents[1].line_at([]) == 3


def test_malformed_yaml_names_file_and_line() -> None:
    text = "a: 1\nb:\n  - ok\n  c: [unclosed\nd: 2\n"
    with pytest.raises(CompliancegateError) as info:
        load_documents(text, "broken.yaml")
    error = info.value
    assert error.file == "broken.yaml"
    assert error.line == 4
    assert str(error).startswith("broken.yaml:4: invalid YAML")


def test_malformed_yaml_bad_indentation() -> None:
    with pytest.raises(CompliancegateError) as info:
        load_documents("a:\n  b: 1\n c: 2\n", "indent.yaml")
    assert info.value.line == 3
    assert "indent.yaml:3" in str(info.value)


def test_python_and_unknown_tags_are_rejected() -> None:
    with pytest.raises(CompliancegateError, match="invalid YAML"):
        load_documents("a: !!python/object:os.system 'echo hi'\n", "evil.yaml")
    with pytest.raises(CompliancegateError, match="invalid YAML"):
        load_documents("a: !custom 1\n", "tag.yaml")


def test_unhashable_key_is_rejected() -> None:
    with pytest.raises(CompliancegateError, match="invalid YAML"):
        load_documents("? [a, b]\n: 1\n", "key.yaml")


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(CompliancegateError) as info:
        load_documents(billion_laughs(), "bomb.yaml")
    assert time.monotonic() - started < 2.0
    assert "alias" in str(info.value)
    assert info.value.file == "bomb.yaml"
    assert info.value.line is not None


def test_modest_aliases_are_fine() -> None:
    data = load_one("base: &b {image: app, replicas: 2}\none: *b\ntwo: *b\n")
    assert data == {
        "base": {"image": "app", "replicas": 2},
        "one": {"image": "app", "replicas": 2},
        "two": {"image": "app", "replicas": 2},
    }
    # A small tree of aliases expands fine: 4**4 leaves.
    assert load_documents(billion_laughs(levels=4, width=4), "small.yaml")


def test_merge_keys() -> None:
    data = load_one("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n")
    assert data["derived"] == {"a": 1, "b": 3}  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 5_000 + "1" + "}" * 5_000,
        "".join("  " * i + "- \n" for i in range(MAX_DEPTH + 5)),
    ],
    ids=["flow-lists", "flow-maps", "block-lists"],
)
def test_deep_nesting_is_rejected_cleanly(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(CompliancegateError) as info:
        load_documents(text, "deep.yaml")
    assert time.monotonic() - started < 10.0
    assert "nesting" in str(info.value)
    assert info.value.file == "deep.yaml"


def test_nesting_at_the_limit_is_accepted() -> None:
    data = load_one("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(data, list)
        data = data[0]
    assert data == []
    with pytest.raises(CompliancegateError, match="nesting"):
        load_one("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


def test_deep_nesting_through_aliases_is_rejected() -> None:
    # Each anchor is shallow on its own and first reached from a shallow place; chained
    # through aliases they nest 20 * 150 = 3,000 levels deep.
    levels, depth = 20, 150
    lines = ["defs:"]
    for i in range(1, levels + 1):
        inner = f"*x{i - 1}" if i > 1 else "1"
        lines.append(f"  - &x{i} " + "[" * depth + inner + "]" * depth)
    lines.append("shallow: [" + ", ".join(f"*x{i}" for i in range(levels, 0, -1)) + "]")
    with pytest.raises(CompliancegateError, match="nesting deeper"):
        load_documents("\n".join(lines) + "\n", "chain.yaml")


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_recursive_aliases_are_rejected(text: str) -> None:
    with pytest.raises(CompliancegateError, match="nesting"):
        load_documents(text, "loop.yaml")


def test_line_at_scalar_entries_of_a_block_list() -> None:
    (document,) = load_documents(
        "controls:\n  - std:A-1\n\n  - std:A-2\nflow: [a, b]\n", "list.yaml"
    )
    assert document.line_at(["controls"]) == 1
    assert document.line_at(["controls", 0]) == 2
    assert document.line_at(["controls", 1]) == 4
    assert document.line_at(["flow", 1]) == 5


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: 1\nrule: x\nrule: y\n", 3, "rule"),
        ("spec:\n  containers: []\n  image: a\n  containers: [x]\n", 4, "containers"),
        ("{a: 1, b: 2, a: 3}\n", 1, "a"),
        ("- {name: x}\n- name: y\n  name: z\n", 3, "name"),
    ],
)
def test_duplicate_keys_are_rejected(text: str, line: int, key: str) -> None:
    with pytest.raises(CompliancegateError) as info:
        load_documents(text, "dup.yaml")
    assert str(info.value).startswith(f"dup.yaml:{line}: duplicate key {key!r}")


def test_merge_keys_and_same_text_with_other_types_are_not_duplicates() -> None:
    data = load_one("base: &b {x: 1}\nd:\n  <<: *b\n  x: 2\n'1': str\n1: int\n")
    assert data == {"base": {"x": 1}, "d": {"x": 2}, "1": "str", 1: "int"}


def test_numbers_follow_yaml_1_2_core_schema() -> None:
    from compliancegate.loading.safe_yaml import load_documents

    text = "a: 012\nb: 1:20\nc: 0o12\nd: 0x1F\ne: 1_000\nf: 1.5\ng: 22:00\nh: -3\ni: 1e3\n"
    data = load_documents(text, "n.yaml")[0].data
    # YAML 1.1 would give 10 (octal), 80 (base 60), "0o12", 31, 1000, 1.5, 1320, -3, "1e3".
    assert data == {
        "a": 12,
        "b": "1:20",
        "c": 10,
        "d": 31,
        "e": "1_000",
        "f": 1.5,
        "g": "22:00",
        "h": -3,
        "i": 1000.0,
    }


def test_an_explicit_int_tag_on_a_non_number_is_a_clear_error() -> None:
    import pytest

    from compliancegate.errors import CompliancegateError
    from compliancegate.loading.safe_yaml import load_documents

    with pytest.raises(CompliancegateError, match=r"n\.yaml:2: .*not an integer"):
        load_documents("a: 1\nb: !!int 0b10x\n", "n.yaml")


@pytest.mark.parametrize(
    "text", ["a: !!set {x, y}", "a: !!binary aGk=", "a: !!timestamp 2026-01-01", "a: !!omap [x: 1]"]
)
def test_tags_that_are_not_json_shaped_are_refused(text: str) -> None:
    from compliancegate.errors import CompliancegateError
    from compliancegate.loading.safe_yaml import load_documents

    with pytest.raises(CompliancegateError, match="not allowed"):
        load_documents(text, "t.yaml")


@st.composite
def _yaml_text(draw: Any) -> str:
    """YAML with nested block and flow collections, keys repeated anywhere, merge keys and
    sometimes an anchor and alias."""

    def node(depth: int) -> str:
        kind = draw(st.sampled_from(["scalar", "map", "seq", "flow"] if depth < 4 else ["scalar"]))
        indent = "  " * depth
        if kind == "scalar":
            return " " + draw(st.sampled_from(["1", "a", "'x'", "true", "null", "2026-01-01"]))
        if kind == "flow":
            keys = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3))
            return " {" + ", ".join(f"{k}: 1" for k in keys) + "}"
        if kind == "seq":
            items = draw(st.integers(min_value=1, max_value=3))
            return "".join(f"\n{indent}-{node(depth + 1)}" for _ in range(items))
        keys = draw(st.lists(st.sampled_from(["a", "b", "c", "'a'", "<<"]), min_size=1, max_size=4))
        lines = []
        for key in keys:
            value = " {z: 1}" if key == "<<" else node(depth + 1)
            lines.append(f"\n{indent}{key}:{value}")
        return "".join(lines)

    text = node(0).lstrip("\n")
    if draw(st.booleans()):
        text = "top: &x {q: 1}\nagain: *x\nrest:" + "".join(
            "\n  " + line for line in text.splitlines()
        )
    return text


@settings(max_examples=300, deadline=None)
@given(text=_yaml_text())
def test_the_plain_document_check_finds_what_the_full_one_finds(text: str) -> None:
    """Without aliases, ``_check_keys`` replaces ``_check_size``: the same documents, the same
    refusals, the same line."""
    from compliancegate.loading import safe_yaml

    def outcome() -> Any:
        try:
            return [d.data for d in load_documents(text, "f.yaml")]
        except CompliancegateError as exc:
            return (exc.message, exc.line)

    fast = outcome()
    real = safe_yaml._check_keys
    safe_yaml._check_keys = safe_yaml._check_size  # type: ignore[assignment]
    try:
        assert outcome() == fast
    finally:
        safe_yaml._check_keys = real  # type: ignore[assignment]
