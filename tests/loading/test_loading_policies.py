"""Policies: validation against the package schema, compilation, and errors that name the
file, the line and the policy id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from compliancegate.errors import LoadError
from compliancegate.loading.policies import load_policies
from compliancegate.loading.register import load_register
from compliancegate.model import Enforcement, InputSpec, Register, Severity

Write = Callable[[str, str], Path]

POLICY = """\
apiVersion: compliancegate/v1
kind: Policy
id: no-latest
title: No latest tags
description: Images are pinned.
controls: [std:C-1, std:C-2]
severity: high
input: yaml
rule:
  for_each: spec.containers
  assert: {path: image, op: not_contains, value: ":latest"}
message: "{item.name} uses latest"
"""

REGISTER = """\
apiVersion: compliancegate/v1
kind: Register
metadata: {name: r}
standards:
  - id: std
    title: Standard
    controls:
      - {id: C-1, title: One, severity: high, clause: break-fix}
      - {id: C-2, title: Two, severity: low, clause: break-fix}
"""


def load_error(path: Path, register: Register | None = None) -> str:
    with pytest.raises(LoadError) as info:
        load_policies([path], register)
    return str(info.value)


def test_valid_policy(write: Write) -> None:
    path = write("policies/p.yaml", POLICY)
    policy_set = load_policies([path])
    (policy,) = policy_set.policies
    assert policy_set.tests == ()
    assert policy.id == "no-latest"
    assert policy.title == "No latest tags"
    assert policy.description == "Images are pinned."
    assert policy.controls == ("std:C-1", "std:C-2")
    assert policy.severity is Severity.HIGH
    assert policy.enforcement is Enforcement.BLOCK  # the default
    assert policy.environments is None
    assert policy.input == InputSpec(kind="yaml")
    assert policy.required is True  # the default
    assert policy.message is not None
    assert policy.remediation is None
    assert policy.key is None
    assert policy.file.endswith("p.yaml")
    assert policy.line == 1
    assert policy_set.by_id() == {"no-latest": policy}


def test_optional_fields(write: Write) -> None:
    text = POLICY + (
        "enforcement: warn\nenvironments: [production]\nrequired: false\nkey: name\n"
        "remediation: Pin {item.name}\n"
    )
    text = text.replace("input: yaml", 'input: {glob: "deploy/**/*.yml", format: yaml}')
    (policy,) = load_policies([write("p.yaml", text)]).policies
    assert policy.enforcement is Enforcement.WARN
    assert policy.environments == ("production",)
    assert policy.required is False
    assert policy.key is not None
    assert policy.key.expression == "name"
    assert policy.remediation is not None
    assert policy.input == InputSpec(glob="deploy/**/*.yml", format="yaml")
    assert policy.applies_to("production")
    assert not policy.applies_to("staging")
    assert not policy.applies_to(None)


def test_several_documents_and_files(write: Write, tmp_path: Path) -> None:
    second = POLICY.replace("id: no-latest", "id: second")
    write("policies/a.yaml", POLICY + "---\n" + second)
    write("policies/sub/b.yml", POLICY.replace("id: no-latest", "id: third"))
    write("policies/empty.yaml", "# nothing yet\n")
    policies = load_policies([tmp_path / "policies"]).policies
    assert [p.id for p in policies] == ["no-latest", "second", "third"]
    assert policies[1].line == 14  # where its document starts


def test_policy_tests_are_collected_not_compiled(write: Write) -> None:
    write("policies/p.yaml", POLICY)
    path = write(
        "policies/p.test.yaml",
        "apiVersion: compliancegate/v1\nkind: PolicyTest\npolicy: no-latest\ncases: []\n",
    )
    policy_set = load_policies([path.parent])
    assert [p.id for p in policy_set.policies] == ["no-latest"]
    (test,) = policy_set.tests
    assert test.file == path
    assert test.document.data["policy"] == "no-latest"


def test_files_under_fixtures_and_testdata_are_skipped(write: Write, tmp_path: Path) -> None:
    write("policies/p.yaml", POLICY)
    # Test inputs (Kubernetes manifests...) are not policies, and are not errors either.
    write("policies/fixtures/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\n")
    write("policies/tests/fixtures/bad.yaml", "kind: [unclosed\n")
    write("policies/testdata/x.yaml", "kind: Policy\nid: broken\n")
    policies = load_policies([tmp_path / "policies"]).policies
    assert [p.id for p in policies] == ["no-latest"]


def test_a_non_policy_document_is_rejected(write: Write) -> None:
    path = write("policies/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\n")
    message = load_error(path)
    assert message.startswith(f"{path}:2: expected kind Policy or PolicyTest, found 'Deployment'")
    assert "fixtures/" in message


def test_unknown_kind_names_the_policy(write: Write) -> None:
    path = write("p.yaml", POLICY.replace("kind: Policy", "kind: Polcy"))
    assert load_error(path).startswith(f"{path}:2: no-latest: expected kind Policy")


def test_a_document_that_is_not_a_mapping(write: Write) -> None:
    path = write("p.yaml", "- just\n- a list\n")
    assert "expected kind Policy" in load_error(path)


@pytest.mark.parametrize(
    ("old", "new", "line", "fragments"),
    [
        # An unknown top-level key, with its line and the policy id.
        ("severity: high\n", "severity: high\nseverty: low\n", 8, ["unknown key 'severty'"]),
        ("input: yaml\n", "input: {glob: '*.yaml', fromat: yaml}\n", 8, ["unknown key 'fromat'"]),
        ("severity: high\n", "severity: urgent\n", 7, ["'urgent' is not one of"]),
        ("controls: [std:C-1, std:C-2]\n", "controls: [C-1]\n", 6, ["C-1"]),
        ("id: no-latest\n", "id: no-latest\nenforcement: deny\n", 4, ["deny"]),
        ("title: No latest tags\n", "title: ''\n", 4, ["title"]),
        ("kind: Policy\n", "kind: Policy\nrequired: 'yes'\n", 3, ["'yes' is not of type"]),
        ("apiVersion: compliancegate/v1\n", "apiVersion: compliancegate/v2\n", 1, ["apiVersion"]),
    ],
)
def test_schema_errors_name_file_line_and_policy(
    write: Write, old: str, new: str, line: int, fragments: list[str]
) -> None:
    assert old in POLICY
    path = write("p.yaml", POLICY.replace(old, new))
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: no-latest: ")
    for fragment in fragments:
        assert fragment in message


def test_missing_required_key(write: Write) -> None:
    path = write("p.yaml", POLICY.replace("severity: high\n", ""))
    message = load_error(path)
    assert message.startswith(f"{path}:1: no-latest: ")
    assert "'severity' is a required property" in message


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("op: not_contains", "op: lacks", 11, "rule.assert.op: unknown op 'lacks'"),
        ("assert: {path", "assert: {pth: x, path", 11, "rule.assert.pth: unknown key 'pth'"),
        (
            "for_each: spec.containers",
            "for_each: 'spec.containers['",
            10,
            "rule.for_each: bad JMESPath 'spec.containers['",
        ),
        (
            '{path: image, op: not_contains, value: ":latest"}',
            '{path: image, op: matches, value: "(["}',
            11,
            "rule.assert.value: bad regex '(['",
        ),
        (
            '{path: image, op: not_contains, value: ":latest"}',
            '{path: built, op: older_than, value: "3 months"}',
            11,
            "rule.assert.value: bad duration '3 months'",
        ),
        (
            '{path: image, op: not_contains, value: ":latest"}',
            "{path: image, op: equals}",
            11,
            "rule.assert: op equals needs a value",
        ),
        (
            '{path: image, op: not_contains, value: ":latest"}',
            "{path: image, op: exists, value: true}",
            11,
            "rule.assert.value: op exists takes no",
        ),
        ("{item.name} uses latest", "{item.name!r} uses latest", 12, "bad template field"),
        ("{item.name} uses latest", "{items.name} uses latest", 12, "unknown template field"),
        ("{item.name} uses latest", "{item.name uses latest", 12, "unbalanced brace"),
        ("input: yaml", "input: vulnerabilitiez", 8, "unknown input 'vulnerabilitiez'"),
        ("input: yaml", "input: {glob: '*.x', format: csv}", 8, "unknown format 'csv'"),
        ("input: yaml", "input: {glob: '/etc/*.yaml'}", 8, "bad glob"),
    ],
)
def test_compile_errors_name_file_line_and_policy(
    write: Write, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in POLICY
    path = write("p.yaml", POLICY.replace(old, new))
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: no-latest: ")
    assert fragment in message


def test_bad_key_expression(write: Write) -> None:
    path = write("p.yaml", POLICY + "key: 'a['\n")
    message = load_error(path)
    assert message.startswith(f"{path}:13: no-latest: key: bad JMESPath")


def test_bad_schema_ref(write: Write) -> None:
    text = POLICY.replace(
        "rule:\n  for_each: spec.containers\n"
        '  assert: {path: image, op: not_contains, value: ":latest"}\n',
        "rule:\n  schema: {$ref: schemas/missing.json}\n",
    )
    path = write("p.yaml", text)
    message = load_error(path)
    assert message.startswith(f"{path}:10: no-latest: rule.schema: cannot load schema")
    assert "missing.json" in message


def test_schema_ref_resolves_beside_the_policy(write: Write) -> None:
    write("policies/schemas/s.json", '{"type": "object", "required": ["kind"]}')
    text = POLICY.replace(
        "rule:\n  for_each: spec.containers\n"
        '  assert: {path: image, op: not_contains, value: ":latest"}\n',
        "rule:\n  schema: {$ref: schemas/s.json}\n",
    )
    (policy,) = load_policies([write("policies/p.yaml", text)]).policies
    assert "schemas/s.json" in policy.rule.describe()


def test_duplicate_policy_id_across_files(write: Write, tmp_path: Path) -> None:
    first = write("policies/a.yaml", POLICY)
    second = write("policies/b.yaml", "# a copy\n" + POLICY)
    message = load_error(tmp_path / "policies")
    assert message.startswith(f"{second}:4: no-latest: duplicate policy id")
    assert f"first defined at {first}:3" in message


def test_duplicate_policy_id_in_one_file(write: Write) -> None:
    path = write("p.yaml", POLICY + "---\n" + POLICY)
    assert load_error(path).startswith(f"{path}:16: no-latest: duplicate policy id")


def test_controls_are_checked_against_the_register(write: Write) -> None:
    register = load_register([write("register.yaml", REGISTER)])
    (policy,) = load_policies([write("ok.yaml", POLICY)], register).policies
    assert policy.controls == ("std:C-1", "std:C-2")
    bad = write("bad.yaml", POLICY.replace("std:C-2", "std:C-9"))
    message = load_error(bad, register)
    assert message.startswith(f"{bad}:6: no-latest: control 'std:C-9' is not in the register")
    # Without a register, controls are not checked.
    assert load_policies([bad]).policies[0].controls == ("std:C-1", "std:C-9")


def test_controls_in_block_style_point_at_the_entry(write: Write) -> None:
    register = load_register([write("register.yaml", REGISTER)])
    text = POLICY.replace(
        "controls: [std:C-1, std:C-2]\n", "controls:\n  - std:C-1\n  - other:C-2\n"
    )
    bad = write("bad.yaml", text)
    # The control's own line, not the policy's.
    assert load_error(bad, register).startswith(f"{bad}:8: no-latest: control 'other:C-2'")


def test_missing_policy_path(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such policy file or directory"):
        load_policies([tmp_path / "nope"])


def test_malformed_policy_yaml(write: Write) -> None:
    path = write("p.yaml", POLICY.replace("controls: [std:C-1, std:C-2]", "controls: [std:C-1"))
    message = load_error(path)
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message


def test_a_checkout_under_a_folder_named_fixtures_keeps_its_policies(
    write: Write, tmp_path: Path
) -> None:
    # Only fixture folders *inside* the named policy directory are skipped.
    path = write("fixtures/repo/policies/p.yaml", POLICY)
    write("fixtures/repo/policies/fixtures/input.yaml", "kind: Deployment\n")
    assert [p.id for p in load_policies([tmp_path / "fixtures/repo/policies"]).policies] == [
        "no-latest"
    ]
    assert [p.id for p in load_policies([path]).policies] == ["no-latest"]
    nested = write("testdata/p2.yaml", POLICY.replace("id: no-latest", "id: named"))
    assert [p.id for p in load_policies([nested]).policies] == ["named"]
