"""The README's CI examples: the GitHub workflow is valid and uses the action as it is; the
GitLab job and the shell step use flags ``check`` really has."""

from __future__ import annotations

import re
import shlex
from typing import Any

import schema_store
import yaml
from action_fixtures import REPO

from compliancegate.cli.check import check as check_command

README = REPO / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_OUTPUT_REF = re.compile(r"steps\.gate\.outputs\.([A-Za-z0-9_-]+)")


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## GitHub Actions\n")
    end = text.index("\n## ", start + 1)
    assert start < text.index("\n## Configuration\n"), "the section comes before Configuration"
    return text[start:end]


def blocks(language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(section()) if lang == language]


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(blocks("yaml")[0])
    return loaded


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    return loaded


def check_options() -> set[str]:
    return {opt for param in check_command.params for opt in getattr(param, "opts", [])}


def flags(command_line: str) -> list[str]:
    return [t.partition("=")[0] for t in shlex.split(command_line) if t.startswith("--")]


def gate_step(document: dict[str, Any]) -> dict[str, Any]:
    steps = document["jobs"]["compliance-gate"]["steps"]
    return next(s for s in steps if "compliancegate@" in s.get("uses", ""))


def test_workflow_validates_against_the_github_workflow_schema() -> None:
    # PyYAML reads the bare key `on` as YAML 1.1's boolean True; GitHub reads it as "on".
    document = workflow()
    document["on"] = document.pop(True)
    assert schema_store.errors("github-workflow.json", document) == []


def test_workflow_schema_validation_can_fail() -> None:
    document = workflow()
    document["on"] = document.pop(True)
    document["jobs"]["compliance-gate"]["runs-on"] = 42
    assert schema_store.errors("github-workflow.json", document)


def test_workflow_gates_keeps_the_ledger_on_a_branch_and_uploads_sarif() -> None:
    document = workflow()
    job = document["jobs"]["compliance-gate"]
    assert job["permissions"] == {"contents": "write", "security-events": "write"}
    gate = gate_step(document)
    assert gate["id"] == "gate"
    assert gate["with"]["ledger"] == "git:.#compliance-ledger"
    # Every input given is one the action declares.
    assert set(gate["with"]) <= set(action()["inputs"])
    upload = next(s for s in job["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ steps.gate.outputs.report-sarif }}"
    assert "!cancelled()" in upload["if"], "a blocked release must still upload its alerts"
    # The deployment waits for the gate.
    assert document["jobs"]["deploy"]["needs"] == "compliance-gate"


def test_workflow_uses_only_outputs_the_action_declares() -> None:
    used = set(_OUTPUT_REF.findall(blocks("yaml")[0]))
    assert used
    assert used <= set(action()["outputs"])


def test_gitlab_job_reports_junit_with_flags_check_has() -> None:
    job = yaml.safe_load(blocks("yaml")[1])["compliance-gate"]
    script = " ".join(job["script"])
    assert set(flags(script)) <= check_options()
    junit = re.search(r"--report junit=(\S+)", script)
    assert junit is not None
    assert job["artifacts"]["reports"]["junit"] == junit.group(1)
    assert job["artifacts"]["when"] == "always"
    assert "--ledger" in flags(script)


def test_shell_step_uses_flags_check_has() -> None:
    [shell] = blocks("sh")
    command = shell.replace("\\\n", " ").splitlines()[-1]
    assert re.search(r'compliancegate"? check', command)
    assert set(flags(command)) <= check_options()
