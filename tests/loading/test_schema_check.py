"""``schema_check`` says valid exactly when jsonschema does, on the package's schemas: the
real documents of this repository (which must all be recognized without jsonschema, or
every check pays its import) and generated mutations of them (a key removed, added or
given any value, anywhere)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.loading import documents, schema_check
from compliancegate.loading.safe_yaml import load_documents

ROOT = Path(__file__).resolve().parents[2]


def _documents(schema: str) -> list[Any]:
    patterns = {
        "policy": ["policies/*.yaml"],
        "register": ["registers/*.yaml"],
        "config": ["examples/compliancegate.yaml"],
        "waivers": ["examples/waivers.yaml"],
        "policytest": ["policies/tests/*.yaml"],
        "evidence": ["examples/release/**/*.evidence.yaml", "tests/fixtures/**/*.evidence.yaml"],
    }[schema]
    found = []
    for pattern in patterns:
        for path in sorted(ROOT.glob(pattern)):
            for document in load_documents(path.read_text(encoding="utf-8"), str(path)):
                if document.data is not None:
                    found.append(document.data)
    assert found, schema
    return found


SCHEMAS = ["policy", "register", "config", "waivers", "policytest", "evidence"]
SAMPLES = {name: _documents(name) for name in SCHEMAS}


def reference(schema: str, instance: Any) -> bool:
    return bool(jsonschema.Draft202012Validator(documents._schema(schema)).is_valid(instance))


def fast(schema: str, instance: Any) -> bool | None:
    """The fast check's own answer; None where it cannot say."""
    root = documents._schema(schema)
    try:
        return schema_check._valid(root, instance, root)
    except schema_check._Unsure:
        return None


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_repositorys_documents_are_valid_without_jsonschema(schema: str) -> None:
    for instance in SAMPLES[schema]:
        assert reference(schema, instance)
        assert fast(schema, instance) is True
        assert schema_check.is_valid(documents._schema(schema), instance)


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0, 1, 1.0, 1.5, -1, 10**30, 0.0, float("nan")]),
    st.text(max_size=6),
    st.sampled_from(
        [
            "",
            "compliancegate/v1",
            "Policy",
            "Register",
            "critical",
            "high",
            "moderate",
            "block",
            "nist-800-53-r5:ac-2",
            "a:b",
            "a: b",
            "vulnerabilities",
            "UPPER",
            "2026-01-31",
            "2026-13-45",
            "x" * 301,
        ]
    ),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["glob", "format", "id", "x", "name"]), children, max_size=3
        )
    ),
    max_leaves=5,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutated(instance: Any, data: Any) -> Any:
    mutated = copy.deepcopy(instance)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(mutated)
        path = data.draw(st.sampled_from(paths))
        if not path:
            continue
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        last = path[-1]
        if action == "replace":
            parent[last] = data.draw(_VALUES)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["extra", "glob", "format", "id", "input"]))] = (
                data.draw(_VALUES)
            )
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return mutated


@settings(max_examples=500, deadline=None)
@given(schema=st.sampled_from(SCHEMAS), data=st.data())
def test_the_fast_check_agrees_with_jsonschema(schema: str, data: Any) -> None:
    instance = data.draw(st.sampled_from(SAMPLES[schema]))
    mutated = _mutated(instance, data)
    answer = fast(schema, mutated)
    if answer is not None:
        assert answer == reference(schema, mutated)
    # What validate relies on: valid only when jsonschema says so.
    if schema_check.is_valid(documents._schema(schema), mutated):
        assert reference(schema, mutated)


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ("policy", {"apiVersion": "compliancegate/v1", "kind": True}),
        ("register", {"apiVersion": "compliancegate/v1", "kind": "Register", "version": 1.0}),
        ("config", {"apiVersion": "compliancegate/v1", "kind": "Config", "fail_on": 1}),
    ],
)
def test_edges_agree(schema: str, instance: Any) -> None:
    answer = fast(schema, instance)
    assert answer is None or answer == reference(schema, instance)


def test_a_check_does_not_import_jsonschema(tmp_path: Path) -> None:
    """The example release's check validates every document without importing jsonschema
    (about a tenth of a second of every run)."""
    code = (
        "import sys\n"
        "from compliancegate.cli import run\n"
        "try:\n"
        f"    run(['check', '--config', {str(ROOT / 'examples/compliancegate.yaml')!r},"
        f" '--no-ledger', '--format', 'json', '--output', {str(tmp_path / 'r.json')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
