"""Fuzzing the engine with hostile values: through ``evaluate_policy`` and through
``compliancegate check`` in a subprocess.

Values: arbitrary JSON-like data with lone surrogates, huge integers, NaN and infinities,
numbers and non-numbers written as text, over-long versions and nesting deeper than the
stack. Whatever the data: never an exception or a traceback, every report written, a
non-finite value where a rule compares never passes, and never exit 0 when a blocking
policy could not be evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.engine.conditions import EvalContext, is_non_finite
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.loading.policies import load_policies
from compliancegate.model import Artifact, InputSpec, Policy, Status
from compliancegate.reporters import REPORTERS

CTX = EvalContext(now=dt.datetime(2026, 6, 15, tzinfo=dt.UTC))

HEADER = "apiVersion: compliancegate/v1\nkind: Policy\ncontrols: []\nseverity: high\n"
INPUT = 'input: {glob: "**/*.json"}\n'
MESSAGE = 'message: "{item.name} / {item.score} / {item.version} / {item.tags}"\n'

# One policy per op family, each reading the same fields of every item.
RULES = {
    "ordered": "for_each: items\n  assert: {not: {path: score, op: gte, value: 7}}",
    "ordered-lt": "for_each: items\n  assert: {path: score, op: lt, value: 7}",
    "equality": "for_each: items\n  assert: {path: score, op: not_equals, value: 3}",
    "membership": "for_each: items\n  assert: {path: score, op: not_in, value: [1, 2, 3]}",
    "contains": "for_each: items\n  assert: {path: tags, op: not_contains, value: 5}",
    "matches": 'for_each: items\n  assert: {not: {path: name, op: matches, value: "^x"}}',
    "version": 'for_each: items\n  assert: {path: version, op: version_gte, value: "1.0"}',
    "age": "for_each: items\n  assert: {not: {path: date, op: older_than, value: 30d}}",
    "count": "count: items\n  where: {path: score, op: gte, value: 7}\n  op: lte\n  value: 0",
    "where": (
        "for_each: items\n  where: {path: score, op: gt, value: 0}\n"
        "  assert: {path: name, op: exists}"
    ),
    "deep": 'for_each: items\n  assert: {not: {path: "to_string(@)", op: matches, value: zz}}',
    "schema": (
        "schema: {type: object, properties: {items: {type: array, items: {type: object,"
        " properties: {score: {type: number}}}}}}"
    ),
}
# The field each policy compares (None: the whole item or document).
COMPARED = {
    "ordered": "score",
    "ordered-lt": "score",
    "equality": "score",
    "membership": "score",
    "where": "score",
    "count": "score",
    "version": "version",
}


def write_policies(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rule in RULES.items():
        text = HEADER + f"id: {name}\ntitle: {name}\n" + INPUT + "rule:\n  " + rule + "\n"
        if name not in ("count", "schema"):
            text += MESSAGE
        (folder / f"{name}.yaml").write_text(text)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> list[Policy]:
    folder = tmp_path_factory.mktemp("fuzz") / "policies"
    write_policies(folder)
    return list(load_policies([folder]).policies)


# --------------------------------------------------------------------------- values


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_TEXT = st.sampled_from(
    ["NaN", "-Infinity", "inf", "1e999", "1_000", "١٢", " 7 ", "7", "\ud800", "a\udcffb", ""]
)
text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
    HOSTILE_TEXT,
    st.integers(258, 6000).map(lambda n: "1." + "0" * n),
)
numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(1, 4300).map(lambda digits: 10 ** (digits - 1)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(text, children, max_size=3),
    ),
    max_leaves=8,
)
# Occasionally deeper than Python's stack.
deep_values = st.one_of(values, st.builds(_nest, values, st.sampled_from([1, 200, 5000])))
items = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(text, deep_values),
        "score": deep_values,
        "version": st.one_of(text, numbers),
        "tags": deep_values,
        "date": st.one_of(text, numbers),
    },
)
documents = st.one_of(
    st.fixed_dictionaries({"items": st.lists(items, max_size=4)}),
    deep_values,
)


class Source:
    def __init__(self, document: Any) -> None:
        self.artifacts = (Artifact("fuzz.json", "json", RAW_KIND, "json", document),)
        self.errors: tuple[Any, ...] = ()
        self.files = ("fuzz.json",)
        self.missing = None

    def select(self, spec: InputSpec) -> Source:
        return self


def _compared_values(document: Any, field: str) -> list[Any]:
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return []
    return [item[field] for item in document["items"] if field in item]


FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(documents)
def test_evaluate_policy_never_raises_and_non_finite_never_passes(
    policies: list[Policy], document: Any
) -> None:
    for policy in policies:
        result, found = evaluate_policy(policy, Source(document), CTX, None)
        assert result.status in (Status.PASS, Status.FAIL, Status.ERROR)
        assert set(found) == {v.fingerprint for v in result.violations}
        if result.status is Status.ERROR:
            assert result.error and result.error.startswith("fuzz.json: ")
        field = COMPARED.get(policy.id)
        if field and any(is_non_finite(v) for v in _compared_values(document, field)):
            assert result.status is not Status.PASS, policy.id
        for violation in result.violations:
            assert isinstance(violation.message, str)
            int(violation.fingerprint, 16)


# --------------------------------------------------------------------------- the CLI


def _as_json(document: Any) -> str | None:
    try:
        # Python's json writes NaN and Infinity (as many producers do) and escapes surrogates.
        return json.dumps(document)
    except (RecursionError, ValueError):
        return None


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(documents, min_size=1, max_size=3))
def test_check_in_a_subprocess_never_crashes_and_never_passes_an_error(
    tmp_path_factory: pytest.TempPathFactory, docs: list[Any]
) -> None:
    root = tmp_path_factory.mktemp("cli")
    write_policies(root / "policies")
    release = root / "release"
    release.mkdir()
    for index, document in enumerate(docs):
        text = _as_json(document)
        if text is None:  # deeper than json.dumps can go: write it by hand
            text = "[" * 5000 + "1" + "]" * 5000
        (release / f"doc{index}.json").write_text(text)
    reports = root / "reports"
    args = [sys.executable, "-m", "compliancegate", "check", str(release), "--no-ledger"]
    args += ["--policies", str(root / "policies")]
    for name, reporter in sorted(REPORTERS.items()):
        args += ["--report", f"{name}={reports / ('gate-' + name + reporter.suffix)}"]
    done = subprocess.run(args, capture_output=True, cwd=root, timeout=300, check=False)
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert done.returncode in (0, 1, 2), stderr
    report = json.loads((reports / "gate-json.json").read_text(encoding="utf-8"))
    for name, reporter in REPORTERS.items():
        (reports / f"gate-{name}{reporter.suffix}").read_text(encoding="utf-8")
    errored = [r for r in report["results"] if r["status"] == "error" and r["blocking"]]
    if errored:
        assert done.returncode == 2 and report["decision"] == "error"
    assert done.returncode == {"compliant": 0, "blocked": 1, "error": 2}[report["decision"]]
    if done.returncode == 0:
        assert all(r["status"] in ("pass", "not_applicable") for r in report["results"])
