"""Fixtures for the command-line tests: a tiny project (register, policies, release evidence)
in ``tmp_path``, and two ways to run the CLI on it: in-process through click's ``CliRunner``
(``compliancegate.cli.run``, which returns the exit code) and as a real subprocess
(``python -m compliancegate``)."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cli_runs
import compliancegate.check as check_module
from cli_runs import CliCall, Outcome, run_in_process
from snippets import TINY_REGISTER

NOW = "2026-11-21T12:00:00Z"
"""The pinned clock of every CLI test (``COMPLIANCEGATE_NOW`` in subprocesses)."""
PINNED = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
"""``NOW`` as the system clock of in-process runs."""

REGISTER_YAML = TINY_REGISTER
"""A register with two controls: ``tiny-std:VULN-1`` and ``tiny-std:CFG-1``."""

POLICIES_YAML = """\
apiVersion: compliancegate/v1
kind: Policy
id: no-critical-vulns
title: No critical vulnerability ships
controls: [tiny-std:VULN-1]
severity: critical
enforcement: block
input: {glob: "**/scan.json"}
rule:
  all:
    - {path: vulnerabilities, op: exists}
    - for_each: "vulnerabilities[]"
      where: {path: severity, op: equals, value: critical}
      assert: {path: id, op: absent}
key: id
message: "{item.id} ({item.severity}) in {item.package}"
remediation: "Upgrade {item.package}"
---
apiVersion: compliancegate/v1
kind: Policy
id: images-pinned
title: Container images are pinned
controls: [tiny-std:CFG-1]
severity: moderate
enforcement: block
input: yaml
required: false
rule:
  for_each: "spec.containers[]"
  assert: {not: {path: image, op: matches, value: ":latest$"}}
key: name
message: "container {item.name} uses {item.image}"
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
controls: [tiny-std:VULN-1]
severity: high
enforcement: audit
input: {glob: "**/scan.json"}
rule: {path: audited, op: equals, value: true}
---
apiVersion: compliancegate/v1
kind: Policy
id: prod-scan-signed
title: Production scans are signed
controls: [tiny-std:VULN-1]
severity: high
enforcement: block
environments: [production]
input: {glob: "**/scan.json"}
rule: {path: signed, op: equals, value: true}
"""
"""Five policies: block (critical, JSON), block (moderate, YAML, optional), warn, audit, and a
production-only block policy."""

CLEAN_SCAN: dict[str, Any] = {
    "tool": "trivy",
    "audited": True,
    "signed": True,
    "vulnerabilities": [
        {"id": "CVE-2026-0002", "severity": "low", "package": "zlib"},
    ],
}
"""A scan every policy passes."""

CRITICAL_VULN: dict[str, Any] = {
    "id": "CVE-2026-0001",
    "severity": "critical",
    "package": "openssl",
}

DEPLOY_PINNED = """\
apiVersion: apps/v1
kind: Deployment
spec:
  containers:
    - name: web
      image: nginx@sha256:0123456789abcdef
"""

DEPLOY_LATEST = """\
apiVersion: apps/v1
kind: Deployment
spec:
  containers:
    - name: web
      image: nginx:latest
"""


def waivers_yaml(expires: str, package: str = "openssl") -> str:
    """A waivers file waiving ``no-critical-vulns`` for one package until ``expires``."""
    return textwrap.dedent(
        f"""\
        apiVersion: compliancegate/v1
        kind: Waivers
        waivers:
          - id: w-openssl
            policy: no-critical-vulns
            match: {{package: {package}}}
            reason: Vendor patch pending; the code path is not reachable
            approved_by: ciso@example.com
            expires: "{expires}"
        """
    )


@dataclass
class GateProject:
    """A project in ``tmp_path``: ``registers/``, ``policies/`` and ``release/``."""

    root: Path

    def write(self, relative: str, text: str | bytes) -> Path:
        """Write a file under the project (parents created)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def write_scan(self, **changes: Any) -> Path:
        """``release/scan.json``: the clean scan with ``changes`` applied (None removes)."""
        data = dict(CLEAN_SCAN)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return self.write("release/scan.json", json.dumps(data))


@pytest.fixture
def gate_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GateProject:
    """A compliant project in ``tmp_path``, which is also the working directory; the clock
    is pinned and colour is off."""
    monkeypatch.chdir(tmp_path)
    # In-process runs get the system clock pinned (production refuses COMPLIANCEGATE_NOW);
    # subprocess runs get COMPLIANCEGATE_NOW (see run_subprocess).
    monkeypatch.delenv("COMPLIANCEGATE_NOW", raising=False)
    monkeypatch.setattr(check_module, "wall_clock", lambda: PINNED)
    monkeypatch.setenv("NO_COLOR", "1")
    project = GateProject(tmp_path)
    project.write("registers/tiny.yaml", REGISTER_YAML)
    project.write("policies/gate.yaml", POLICIES_YAML)
    project.write_scan()
    project.write("release/deploy.yaml", DEPLOY_PINNED)
    return project


def run_subprocess(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Outcome:
    """Run ``python -m compliancegate`` in ``cwd`` with the pinned clock and NO_COLOR."""
    return cli_runs.run_subprocess(args, cwd, {"COMPLIANCEGATE_NOW": NOW, **(env or {})}, timeout)


@pytest.fixture(params=["clirunner", "subprocess"])
def cg(request: pytest.FixtureRequest, tmp_path: Path) -> CliCall:
    """Run compliancegate with ``args``: once in-process (CliRunner), once as a subprocess
    (cwd ``tmp_path``). Use with ``gate_project`` so both see the same working directory."""

    def call(*args: str, env: dict[str, str] | None = None) -> Outcome:
        if request.param == "clirunner":
            return run_in_process(args, env)
        return run_subprocess(args, tmp_path, env)

    return call


@pytest.fixture
def cg_inprocess() -> CliCall:
    """Run compliancegate in-process only (for tests that monkeypatch the package)."""

    def call(*args: str, env: dict[str, str] | None = None) -> Outcome:
        return run_in_process(args, env)

    return call


@pytest.fixture
def cg_subprocess() -> Callable[..., Outcome]:
    """``run_subprocess(args, cwd, env=None)``: a real ``python -m compliancegate`` run."""
    return run_subprocess


@pytest.fixture
def gate_snippets() -> Any:
    """The YAML/JSON snippets the CLI tests build projects from."""
    from types import SimpleNamespace

    return SimpleNamespace(
        now=NOW,
        register=REGISTER_YAML,
        policies=POLICIES_YAML,
        clean_scan=CLEAN_SCAN,
        critical_vuln=CRITICAL_VULN,
        deploy_pinned=DEPLOY_PINNED,
        deploy_latest=DEPLOY_LATEST,
        waivers=waivers_yaml,
    )
