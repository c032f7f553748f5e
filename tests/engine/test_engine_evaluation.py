"""Evaluating loaded policies against real files: missing evidence, environments, errors,
fingerprints, messages and locations."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.engine.conditions import EvalContext
from compliancegate.engine.evaluation import evaluate_policy, fingerprint
from compliancegate.model import Policy, PolicyResult, Status

MakePolicy = Callable[..., Policy]
Write = Callable[[str, str], Path]
Store = Callable[[], ArtifactStore]

ITEMS_RULE = """\
input: {glob: "*.json"}
rule:
  for_each: items
  assert: {path: ok, op: equals, value: true}
message: "{item.name} is not ok ({artifact.path}, {policy.id})"
remediation: "Fix {item.name}"
"""


def artifact(write: Write, name: str, document: Any) -> Path:
    return write(f"artifacts/{name}", json.dumps(document))


def run(
    policy: Policy, store: Store, ctx: EvalContext, environment: str | None = None
) -> tuple[PolicyResult, dict[str, Any]]:
    return evaluate_policy(policy, store(), ctx, environment)


# --------------------------------------------------------------------------- outcomes


def test_pass_and_fail(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    artifact(write, "good.json", {"items": [{"name": "a", "ok": True}]})
    result, items = run(policy, store, ctx)
    assert result.status is Status.PASS
    assert result.violations == ()
    assert items == {}
    assert len(result.artifacts) == 1
    assert result.artifacts[0].endswith("good.json")

    artifact(write, "bad.json", {"items": [{"name": "b", "ok": False}, {"name": "c"}]})
    result, items = run(policy, store, ctx)
    assert result.status is Status.FAIL
    assert [v.message.split(" is")[0] for v in result.violations] == ["b", "c"]
    violation = result.violations[0]
    assert violation.message.startswith("b is not ok (")
    assert "bad.json, p)" in violation.message
    assert violation.remediation == "Fix b"
    assert violation.policy == "p"
    assert violation.controls == ("std:C-1",)
    assert str(violation.severity) == "high"
    assert violation.kind == "raw"
    assert violation.location.file is not None
    assert violation.location.file.endswith("bad.json")
    # The failing item is handed back for waiver matching.
    assert items[violation.fingerprint] == {"name": "b", "ok": False}


def test_missing_required_evidence_is_a_failure_not_a_skip(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    result, items = run(policy, store, ctx)
    assert result.status is Status.FAIL
    (violation,) = result.violations
    assert "missing evidence" in violation.message
    assert "*.json" in violation.message
    assert violation.location.file is None
    assert items == {}
    # Missing evidence has a stable identity of its own.
    again, _ = run(policy, store, ctx)
    assert again.violations[0].fingerprint == violation.fingerprint


def test_missing_evidence_names_the_roots(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    result, _ = evaluate_policy(policy, store(), ctx, None, roots=("build/reports",))
    assert "under build/reports" in result.violations[0].message


def test_missing_optional_evidence_is_not_applicable(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE + "required: false\n")
    result, _ = run(policy, store, ctx)
    assert result.status is Status.NOT_APPLICABLE
    assert result.violations == ()


def test_required_input_by_kind(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: yaml
        rule: {path: kind, op: exists}
        """
    )
    write("artifacts/data.json", "{}")  # JSON is not what `input: yaml` reads
    result, _ = run(policy, store, ctx)
    assert result.status is Status.FAIL
    assert "missing evidence" in result.violations[0].message
    write("artifacts/deploy.yaml", "kind: Deployment\n")
    assert run(policy, store, ctx)[0].status is Status.PASS


@pytest.mark.parametrize(
    ("environment", "status"),
    [
        ("production", Status.FAIL),
        ("staging", Status.FAIL),
        ("dev", Status.NOT_APPLICABLE),
        (None, Status.NOT_APPLICABLE),
    ],
)
def test_environments(
    make_policy: MakePolicy,
    store: Store,
    ctx: EvalContext,
    environment: str | None,
    status: Status,
) -> None:
    policy = make_policy(ITEMS_RULE + "environments: [production, staging]\n")
    # No artifact at all: where the policy applies, that is missing evidence.
    result, _ = run(policy, store, ctx, environment)
    assert result.status is status


def test_a_policy_without_environments_applies_everywhere(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    assert run(policy, store, ctx, "dev")[0].status is Status.FAIL
    assert run(policy, store, ctx, None)[0].status is Status.FAIL


def test_a_file_that_cannot_be_parsed_is_an_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    write("artifacts/broken.json", '{"items": [')
    result, _ = run(policy, store, ctx)
    assert result.status is Status.ERROR
    assert result.error is not None
    assert "broken.json" in result.error


def test_an_error_keeps_the_violations_found_elsewhere(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    write("artifacts/broken.json", "not json at all {")
    artifact(write, "bad.json", {"items": [{"name": "b", "ok": False}]})
    result, _ = run(policy, store, ctx)
    assert result.status is Status.ERROR
    assert len(result.violations) == 1
    assert "broken.json" in (result.error or "")


def test_a_rule_that_cannot_be_evaluated_is_an_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: json
        rule: {path: coverage, op: gte, value: 0.8}
        """
    )
    artifact(write, "cov.json", {"coverage": "high"})
    result, _ = run(policy, store, ctx)
    assert result.status is Status.ERROR
    assert "cov.json" in (result.error or "")
    assert "not a number" in (result.error or "")


def test_runtime_jmespath_error_is_an_error_not_a_pass(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: json
        rule: {path: "length(items)", op: gt, value: 0}
        """
    )
    artifact(write, "x.json", {"items": 5})
    assert run(policy, store, ctx)[0].status is Status.ERROR


def test_a_schema_that_cannot_be_resolved_is_an_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: json
        rule:
          schema:
            properties:
              image: {$ref: "image.schema.json"}
        """
    )
    artifact(write, "x.json", {"image": "web:1"})
    result, _ = run(policy, store, ctx)
    assert result.status is Status.ERROR
    assert "image.schema.json" in (result.error or "")


def test_an_unknown_format_matched_by_a_glob_is_an_error(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: {glob: "*.txt"}
        rule: {path: x, op: exists}
        """
    )
    write("artifacts/notes.txt", "hello")
    result, _ = run(policy, store, ctx)
    assert result.status is Status.ERROR
    assert "notes.txt" in (result.error or "")


def test_a_forced_format_reads_the_file(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: {glob: "*.txt", format: json}
        rule: {path: x, op: equals, value: 1}
        """
    )
    write("artifacts/notes.txt", '{"x": 2}')
    assert run(policy, store, ctx)[0].status is Status.FAIL


def test_every_document_of_a_yaml_stream_is_evaluated(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: yaml
        rule: {path: spec.replicas, op: gte, value: 2}
        message: "{item.metadata.name} has too few replicas"
        """
    )
    write(
        "artifacts/deploy.yaml",
        """\
        metadata: {name: one}
        spec: {replicas: 1}
        ---
        metadata: {name: two}
        spec: {replicas: 3}
        ---
        metadata: {name: three}
        spec: {replicas: 0}
        """,
    )
    result, _ = run(policy, store, ctx)
    assert [v.message for v in result.violations] == [
        "one has too few replicas",
        "three has too few replicas",
    ]
    assert [v.location.line for v in result.violations] == [1, 7]
    assert len({v.fingerprint for v in result.violations}) == 2


def test_violation_location_is_the_line_of_the_item(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: yaml
        rule:
          for_each: spec.containers
          assert: {path: image, op: not_contains, value: ":latest"}
        """
    )
    write(
        "artifacts/pod.yaml",
        """\
        kind: Pod
        spec:
          containers:
            - name: app
              image: app:1.0
            - name: sidecar
              image: proxy:latest
        """,
    )
    (violation,) = run(policy, store, ctx)[0].violations
    assert violation.location.line == 6


def test_message_can_name_the_document_of_the_item(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: yaml
        rule:
          for_each: spec.template.spec.containers
          assert: {path: image, op: not_contains, value: ":latest"}
        message: "{document.kind} {document.metadata.name}: {item.name}"
        """
    )
    write(
        "artifacts/deploy.yaml",
        """\
        kind: Deployment
        metadata: {name: shop}
        spec:
          template:
            spec:
              containers: [{name: web, image: "web:latest"}]
        """,
    )
    (violation,) = run(policy, store, ctx)[0].violations
    assert violation.message == "Deployment shop: web"


def test_missing_evidence_message_renders_no_template(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    (violation,) = run(policy, store, ctx)[0].violations
    # The item template is not rendered against a missing item.
    assert "<missing>" not in violation.message
    assert violation.message.startswith("missing evidence")


def test_default_message_names_the_title_and_the_detail(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: json
        rule: {path: signed, op: equals, value: true}
        """
    )
    artifact(write, "x.json", {"signed": False})
    (violation,) = run(policy, store, ctx)[0].violations
    assert violation.message == "Test policy: signed equals true"
    assert violation.remediation is None


# --------------------------------------------------------------------------- fingerprints


def fingerprints(result: PolicyResult) -> dict[str, str]:
    return {v.message: v.fingerprint for v in result.violations}


def test_fingerprints_are_stable_across_evaluations(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    artifact(write, "x.json", {"items": [{"name": "b", "ok": False}, {"name": "c", "ok": 0}]})
    first = fingerprints(run(policy, store, ctx)[0])
    second = fingerprints(run(policy, store, ctx)[0])
    assert first == second
    assert len(set(first.values())) == 2  # different items, different fingerprints
    assert all(len(f) == 64 for f in first.values())


def test_fingerprints_do_not_depend_on_the_order_of_items(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    items = [{"name": n, "ok": False} for n in "bcd"] + [{"name": "a", "ok": True}]
    artifact(write, "x.json", {"items": items})
    before = fingerprints(run(policy, store, ctx)[0])
    artifact(write, "x.json", {"items": list(reversed(items))})
    after = fingerprints(run(policy, store, ctx)[0])
    assert before == after
    assert len(before) == 3


def test_fingerprints_differ_between_policies_and_kinds() -> None:
    assert fingerprint("p", "raw", "k") == fingerprint("p", "raw", "k")
    assert fingerprint("p", "raw", "k") != fingerprint("q", "raw", "k")
    assert fingerprint("p", "raw", "k") != fingerprint("p", "sbom", "k")
    assert fingerprint("p", "raw", "k") != fingerprint("p", "raw", "k2")
    # Parts are delimited: moving characters between parts changes the fingerprint.
    assert fingerprint("ab", "c", "d") != fingerprint("a", "bc", "d")


def test_fingerprint_values_never_change() -> None:
    # The ledger's findings are keyed by these values: a faster hash that changed them would
    # reopen every finding of every ledger. Computed by the first implementation (SHA-256
    # updated part by part, each followed by NUL).
    key = '["CVE-2024-1","libssl","1.0"]\x1f'
    assert fingerprint("vuln-critical", "vulnerabilities", key) == (
        "1e550953adf9ca65274083f1d954da26a1e5d0920e1299fbbcc89712d8e94038"
    )
    assert fingerprint("p", "raw", "x\ud800\u00e9") == (
        "9e2f02cdf6d8e8a6f705c8e2c71f37530ad538e4ef9358ded627e57eb407f584"
    )


@given(st.text(), st.text(), st.text())
def test_fingerprint_is_the_part_by_part_digest(policy: str, kind: str, key: str) -> None:
    digest = hashlib.sha256()
    for part in (policy, kind, key):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    assert fingerprint(policy, kind, key) == digest.hexdigest()


def test_policy_key_narrows_the_item_identity(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE + "key: name\n")
    artifact(write, "x.json", {"items": [{"name": "b", "ok": False, "build": 1}]})
    before = run(policy, store, ctx)[0].violations[0].fingerprint
    # Another field of the item changes between runs: the same finding.
    artifact(write, "x.json", {"items": [{"name": "b", "ok": False, "build": 2}]})
    assert run(policy, store, ctx)[0].violations[0].fingerprint == before
    # Without a key, content is the identity.
    plain = make_policy(ITEMS_RULE, id="q")
    one = run(plain, store, ctx)[0].violations[0].fingerprint
    artifact(write, "x.json", {"items": [{"name": "b", "ok": False, "build": 3}]})
    assert run(plain, store, ctx)[0].violations[0].fingerprint != one


def test_the_same_item_in_two_files_has_two_fingerprints(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    document = {"items": [{"name": "b", "ok": False}]}
    artifact(write, "one.json", document)
    artifact(write, "two.json", document)
    result = run(policy, store, ctx)[0]
    assert len({v.fingerprint for v in result.violations}) == 2


def test_schema_errors_of_one_document_have_distinct_fingerprints(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    write(
        "policies/schemas/cfg.json",
        json.dumps({"type": "object", "required": ["a", "b"], "additionalProperties": False}),
    )
    policy = make_policy(
        """\
        input: {glob: "cfg.json"}
        rule: {schema: {$ref: schemas/cfg.json}}
        message: "{error}"
        """
    )
    artifact(write, "cfg.json", {"c": 1})
    result = run(policy, store, ctx)[0]
    assert result.status is Status.FAIL
    assert len(result.violations) == 3
    assert len({v.fingerprint for v in result.violations}) == 3
    assert any("'a' is a required property" in v.message for v in result.violations)


def test_missing_evidence_remediation_says_what_to_supply(
    make_policy: MakePolicy, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(ITEMS_RULE)
    (violation,) = run(policy, store, ctx)[0].violations
    assert violation.remediation is not None
    assert "<missing>" not in violation.remediation
    assert violation.remediation.startswith("Supply the evidence this policy reads")


def test_a_whole_document_failure_keeps_its_fingerprint_when_the_document_changes(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    # A coverage threshold missed in two runs is one open break, not a new one per run.
    policy = make_policy(
        """\
        input: json
        rule: {path: line_rate, op: gte, value: 0.8}
        """
    )
    artifact(write, "coverage.json", {"line_rate": 0.61, "lines": 1200})
    (first,) = run(policy, store, ctx)[0].violations
    artifact(write, "coverage.json", {"line_rate": 0.64, "lines": 1250})
    (second,) = run(policy, store, ctx)[0].violations
    assert first.fingerprint == second.fingerprint


def test_missing_evidence_names_a_matched_file_that_held_no_document(
    make_policy: MakePolicy, write: Write, store: Store, ctx: EvalContext
) -> None:
    policy = make_policy(
        """\
        input: {glob: "*.yaml", format: yaml}
        rule: {path: ok, op: equals, value: true}
        """
    )
    write("artifacts/empty.yaml", "# nothing here\n")
    (violation,) = run(policy, store, ctx)[0].violations
    assert "empty.yaml matched glob" in violation.message
    assert "held no document" in violation.message


KEY_CONTENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.text() | st.lists(st.text(), max_size=5) | KEY_CONTENTS)
def test_item_identity_text_is_canonical_json(content: Any) -> None:
    # Fingerprints hash this text: the fast paths for strings and lists of strings must
    # write exactly what the JSON encoder writes (lone surrogates, U+2028, quotes, controls).
    from compliancegate.engine.evaluation import _canonical

    expected = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    assert _canonical(content) == expected
