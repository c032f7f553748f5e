"""``policy validate``, ``policy test``, ``register validate`` (and ``check``) never say "ok"
about nothing: an empty or mistyped folder is exit 2 with the reason; YAML files are found
whatever the case of their suffix; hidden files are reported, never skipped in silence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliancegate.errors import LoadError
from compliancegate.loading.files import find_yaml_files
from compliancegate.loading.policies import load_policies
from compliancegate.loading.register import load_register

COMMANDS = {
    "policy validate": ("policy", "validate"),
    "policy test": ("policy", "test"),
    "register validate": ("register", "validate"),
}

POLICY_TEST = """\
apiVersion: compliancegate/v1
kind: PolicyTest
policy: images-pinned
cases:
  - name: pinned passes
    input: {spec: {containers: [{name: web, image: "nginx@sha256:0123"}]}}
    expect: pass
"""


def _folder(root: Path, contents: str) -> Path:
    """A folder holding nothing a command could use, in one of several ways."""
    folder = root / "candidate"
    folder.mkdir()
    if contents == "non-yaml files":
        (folder / "policy.json").write_text("{}")
        (folder / "README.md").write_text("# policies\n")
        (folder / "gate.yaml.txt").write_text("kind: Policy\n")
    elif contents == "empty documents":
        (folder / "a.yaml").write_text("---\n# nothing\n---\n")
        (folder / "b.yml").write_text("")
    elif contents == "only hidden files":
        (root / "policies" / "gate.yaml").rename(folder / ".gate.yaml")
    elif contents == "nested empty folders":
        (folder / "a" / "b").mkdir(parents=True)
    return folder


FOLDERS = [
    "empty",
    "non-yaml files",
    "empty documents",
    "only hidden files",
    "nested empty folders",
]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("contents", FOLDERS)
def test_a_folder_with_nothing_to_read_exits_2(
    gate_project: Any, cg: Any, command: str, contents: str
) -> None:
    folder = _folder(gate_project.root, contents)
    outcome = cg(*COMMANDS[command], str(folder.relative_to(gate_project.root)))
    assert outcome.code == 2, outcome.output
    assert "ok" not in outcome.stdout
    assert "candidate" in outcome.stderr
    assert "Traceback" not in outcome.output
    if contents == "only hidden files":
        assert "hidden" in outcome.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_mistyped_folder_exits_2(gate_project: Any, cg: Any, command: str) -> None:
    outcome = cg(*COMMANDS[command], "polcies")
    assert outcome.code == 2
    assert "polcies" in outcome.stderr


def test_policy_test_with_policies_but_no_cases_exits_2(gate_project: Any, cg: Any) -> None:
    outcome = cg("policy", "test", "policies")
    assert outcome.code == 2, outcome.output
    assert "no policy test cases" in outcome.stderr
    assert "0 failed" not in outcome.stdout


def test_check_with_an_empty_register_folder_exits_2(gate_project: Any, cg: Any) -> None:
    (gate_project.root / "empty").mkdir()
    outcome = cg("check", "release", "--no-ledger", "--register", "empty")
    assert outcome.code == 2, outcome.output
    assert "no registers found under empty" in outcome.stderr


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML", ".YML", ".Yml", ".yAmL"])
def test_yaml_files_are_read_whatever_the_case_of_their_suffix(
    gate_project: Any, cg: Any, suffix: str
) -> None:
    root: Path = gate_project.root
    (root / "policies" / "gate.yaml").rename(root / "policies" / f"gate{suffix}")
    (root / "registers" / "tiny.yaml").rename(root / "registers" / f"tiny{suffix}")
    (root / "policies" / "tests").mkdir()
    (root / "policies" / "tests" / f"gate.test{suffix}").write_text(POLICY_TEST)
    for command in COMMANDS.values():
        outcome = cg(*command, "registers" if command[0] == "register" else "policies")
        assert outcome.code == 0, outcome.output
    outcome = cg("check", "release", "--no-ledger", "--format", "json")
    assert outcome.code == 0, outcome.output
    assert len(outcome.json()["results"]) >= 2


@pytest.mark.parametrize(
    "hidden", [".gate-old.yaml", ".archive/gate-old.yaml", "team/.drafts/deep/gate-old.yml"]
)
def test_hidden_policy_files_are_reported_everywhere(
    gate_project: Any, cg: Any, hidden: str
) -> None:
    root: Path = gate_project.root
    text = (root / "policies" / "gate.yaml").read_text()
    gate_project.write(f"policies/{hidden}", text.replace("id: ", "id: old-"))
    gate_project.write(f"registers/{hidden}", "not: a register\n")
    gate_project.write("policies/tests/gate.test.yaml", POLICY_TEST)
    for command in COMMANDS.values():
        outcome = cg(*command, "registers" if command[0] == "register" else "policies")
        assert outcome.code == 0, outcome.output
        assert f"{hidden} was not read" in outcome.stderr
    outcome = cg("check", "release", "--no-ledger", "--format", "json")
    assert outcome.code == 0, outcome.output
    notices = [n for n in outcome.json()["notices"] if n["code"] == "hidden-file-skipped"]
    assert sorted(n["file"] for n in notices) == [f"policies/{hidden}", f"registers/{hidden}"]
    assert not any(r["policy"]["id"].startswith("old-") for r in outcome.json()["results"])


def test_a_hidden_file_named_directly_is_read(gate_project: Any, cg: Any) -> None:
    root: Path = gate_project.root
    (root / "policies" / "gate.yaml").rename(root / "policies" / ".gate.yaml")
    outcome = cg("policy", "validate", "policies/.gate.yaml")
    assert outcome.code == 0, outcome.output
    assert "was not read" not in outcome.output


def test_the_loaders_say_what_they_skipped(tmp_path: Path) -> None:
    (tmp_path / "p" / ".git").mkdir(parents=True)
    (tmp_path / "p" / ".git" / "x.yaml").write_text("a: 1\n")
    (tmp_path / "p" / "A.YML").write_text("# nothing yet\n")
    found = find_yaml_files([tmp_path / "p"], what="policy")
    assert [p.name for p in found.files] == ["A.YML"]
    assert [p.name for p in found.hidden] == ["x.yaml"]
    with pytest.raises(LoadError, match="no policies found"):
        load_policies([tmp_path / "p"])
    with pytest.raises(LoadError, match="no registers found"):
        load_register([tmp_path / "p"])


def test_json_report_notice_shape(gate_project: Any, cg: Any) -> None:
    gate_project.write("policies/.x.yaml", "kind: Policy\n")
    document = cg("check", "release", "--no-ledger", "--format", "json").json()
    (notice,) = [n for n in document["notices"] if n["code"] == "hidden-file-skipped"]
    assert notice["file"] == "policies/.x.yaml"
    json.dumps(notice)


def test_hidden_test_inputs_under_fixtures_are_not_reported(gate_project: Any, cg: Any) -> None:
    gate_project.write("policies/tests/fixtures/.github/workflows/ci.yml", "on: push\n")
    outcome = cg("policy", "validate", "policies")
    assert outcome.code == 0, outcome.output
    assert "was not read" not in outcome.output
