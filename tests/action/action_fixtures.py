"""Shared pieces of the GitHub Action tests: the projects they gate, the runner set-up and
git helpers. A module with its own name rather than ``conftest``, which tests must not import
(another folder's ``conftest`` may be the one Python finds first)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gha_runner import ActionRun, Runner, clean_env

from snippets import TINY_REGISTER

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-21T12:00:00Z"


TINY_POLICIES = """\
apiVersion: compliancegate/v1
kind: Policy
id: no-critical-vulns
title: No critical vulnerability ships
controls: [tiny-std:VULN-1]
severity: critical
enforcement: block
input: {glob: "**/scan.json"}
rule:
  for_each: "vulnerabilities[]"
  where: {path: severity, op: equals, value: critical}
  assert: {path: id, op: absent}
key: id
message: "{item.id} ({item.severity}) in {item.package}"
remediation: "Upgrade {item.package}"
---
apiVersion: compliancegate/v1
kind: Policy
id: scan-names-tool
title: The scan names its tool
controls: [tiny-std:VULN-1]
severity: low
enforcement: warn
input: {glob: "**/scan.json"}
rule: {path: tool, op: exists}
---
apiVersion: compliancegate/v1
kind: Policy
id: scan-audited
title: The scan was audited
controls: [tiny-std:CFG-1]
severity: high
enforcement: audit
input: {glob: "**/scan.json"}
rule: {path: audited, op: equals, value: true}
"""
"""A block policy (critical vulnerabilities), a warn policy and an audit policy."""


def ignore_build_files(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith(".egg-info") or n == "build"}


@dataclass
class ActionEnv:
    """The action's checkout, the job's runner temp folder and the first (installing) run."""

    checkout: Path
    runner_temp: Path
    first_run: ActionRun

    def runner(self, workspace: Path) -> Runner:
        """A runner for ``workspace`` sharing this job's runner temp folder."""
        return make_runner(self.checkout, workspace, self.runner_temp)


def make_runner(checkout: Path, workspace: Path, runner_temp: Path) -> Runner:
    """A runner with the pinned clock and GitHub context values of a push run."""
    env = clean_env()
    # PYTHONPATH or an active virtual environment would let the action's venv see packages
    # that its own install did not put there.
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    env.update({"COMPLIANCEGATE_NOW": NOW, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    # The ledger's queue and cache, as docs/ledger.md suggests for hosted runners.
    env["COMPLIANCEGATE_STATE_DIR"] = str(runner_temp / "compliancegate")
    return Runner(
        action_path=checkout,
        workspace=workspace,
        runner_temp=runner_temp,
        github={"run_id": "4242", "run_attempt": "1", "workspace": str(workspace)},
        base_env=env,
    )


def write_tiny_project(root: Path, scan: dict[str, Any]) -> None:
    """``registers/``, ``policies/`` and ``release/scan.json`` under ``root``."""
    (root / "registers").mkdir(parents=True, exist_ok=True)
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "release").mkdir(parents=True, exist_ok=True)
    (root / "registers" / "tiny.yaml").write_text(TINY_REGISTER, encoding="utf-8")
    (root / "policies" / "gate.yaml").write_text(TINY_POLICIES, encoding="utf-8")
    (root / "release" / "scan.json").write_text(json.dumps(scan, indent=2), encoding="utf-8")


PASSING_SCAN: dict[str, Any] = {
    "audited": False,
    "vulnerabilities": [{"id": "CVE-2026-0002", "severity": "low", "package": "zlib"}],
}
"""No critical vulnerability (compliant), no ``tool`` (a warning), not audited (a notice)."""

BLOCKED_SCAN: dict[str, Any] = {
    "tool": "trivy",
    "audited": True,
    "vulnerabilities": [{"id": "CVE-2026-0001", "severity": "critical", "package": "openssl"}],
}


def git_env(home: Path) -> dict[str, str]:
    """An environment for git: inherited ``GIT_*`` variables dropped, author and dates
    pinned, no system or user configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_AUTHOR_NAME": "Release Bot",
            "GIT_AUTHOR_EMAIL": "release@example.com",
            "GIT_COMMITTER_NAME": "Release Bot",
            "GIT_COMMITTER_EMAIL": "release@example.com",
            "GIT_AUTHOR_DATE": "2026-11-20T10:00:00Z",
            "GIT_COMMITTER_DATE": "2026-11-20T10:00:00Z",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(home),
        }
    )
    return env


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with :func:`git_env`; its standard output."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(cwd.parent), capture_output=True, check=True
    )
    return done.stdout.decode("utf-8", "replace")


def dedent(text: str) -> str:
    """``textwrap.dedent`` for YAML snippets in tests."""
    return textwrap.dedent(text)
