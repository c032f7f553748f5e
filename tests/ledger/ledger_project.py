"""A tiny gated project for the ledger tests, and ways to run compliancegate on it.

Two block policies: ``no-critical-vulns`` (control ``tiny:VULN-1``, whose clause and severity
a test can choose) reads ``release/scan.json``; ``images-pinned`` (control ``tiny:CFG-1``,
break-fix) reads ``release/deploy.yaml``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli_runs import Outcome, run_in_process, run_subprocess

DAY0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
"""Day 0 of every timeline."""


def day(n: float) -> dt.datetime:
    """Day ``n`` of the timeline."""
    return DAY0 + dt.timedelta(days=n)


def iso(moment: dt.datetime) -> str:
    """``COMPLIANCEGATE_NOW`` for ``moment``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def register_yaml(
    clause: str = "security-incident",
    severity: str = "high",
    sunset: str | None = None,
    successor_effective: str | None = None,
    extra_controls: str = "",
) -> str:
    """A register whose ``tiny:VULN-1`` has ``clause`` and ``severity``."""
    successor = ""
    superseded = "null"
    if successor_effective is not None:
        superseded = "tiny-2"
        successor = f"""
  - id: tiny-2
    title: Tiny Standard 2
    effective: {successor_effective}
    controls:
      - {{id: VULN-1, title: Vulnerabilities v2, severity: high, clause: security-incident}}
"""
    return f"""\
apiVersion: compliancegate/v1
kind: Register
metadata:
  {{name: tiny, owner: compliance@example.com, reviewed: 2026-01-01, review_every_days: 3650}}
standards:
  - id: tiny
    title: Tiny Standard
    effective: 2020-01-01
    sunset: {sunset or "null"}
    superseded_by: {superseded}
    controls:
      - {{id: VULN-1, title: Vulnerabilities are fixed, severity: {severity}, clause: {clause}}}
      - {{id: CFG-1, title: Configuration is hardened, severity: moderate, clause: break-fix}}
{extra_controls}{successor}"""


def policies_yaml(
    vuln_controls: str = "[tiny:VULN-1]",
    vuln_enforcement: str = "block",
    pin_enforcement: str = "warn",
) -> str:
    """The two policies: ``no-critical-vulns`` and ``images-pinned`` (break-fix control)."""
    return f"""\
apiVersion: compliancegate/v1
kind: Policy
id: no-critical-vulns
title: No critical vulnerability ships
controls: {vuln_controls}
severity: critical
enforcement: {vuln_enforcement}
input: {{glob: "**/scan.json"}}
rule:
  for_each: "vulnerabilities[]"
  where: {{path: severity, op: equals, value: critical}}
  assert: {{path: id, op: absent}}
key: id
message: "{{item.id}} in {{item.package}}"
remediation: "Upgrade {{item.package}}"
---
apiVersion: compliancegate/v1
kind: Policy
id: images-pinned
title: Container images are pinned
controls: [tiny:CFG-1]
severity: moderate
enforcement: {pin_enforcement}
input: {{glob: "**/deploy.yaml", format: yaml}}
required: false
rule:
  for_each: "spec.containers[]"
  assert: {{not: {{path: image, op: matches, value: ":latest$"}}}}
key: name
message: "container {{item.name}} uses {{item.image}}"
"""


CONFIG_YAML = """\
apiVersion: compliancegate/v1
kind: Config
environments:
  production: {production: true}
  staging: {}
"""
"""The project's config: it declares the two environments the tests run in."""


@dataclass
class Project:
    """A gated project in a folder."""

    root: Path

    def write(self, relative: str, text: str) -> Path:
        """Write a file under the project."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def setup(self, register: str | None = None, policies: str | None = None) -> Project:
        """Write the register, the policies and a clean release."""
        self.write("registers/tiny.yaml", register or register_yaml())
        self.write("policies/gate.yaml", policies or policies_yaml())
        self.write("compliancegate.yaml", CONFIG_YAML)
        self.scan()
        self.deploy(pinned=True)
        return self

    def scan(self, *critical: str) -> None:
        """``release/scan.json`` with one critical vulnerability per CVE id given."""
        vulns = [{"id": c, "severity": "critical", "package": f"pkg-{c}"} for c in critical]
        vulns.append({"id": "CVE-LOW", "severity": "low", "package": "zlib"})
        self.write("release/scan.json", json.dumps({"vulnerabilities": vulns}))

    def deploy(self, *, pinned: bool) -> None:
        """``release/deploy.yaml`` with an image pinned by digest, or ``:latest``."""
        image = "nginx@sha256:0123456789abcdef" if pinned else "nginx:latest"
        self.write(
            "release/deploy.yaml",
            f"kind: Deployment\nspec:\n  containers:\n    - name: web\n      image: {image}\n",
        )


def cli(args: Sequence[str], *, now: dt.datetime | None = None, **env: str) -> Outcome:
    """Run compliancegate in this process (the working directory is the project) with the
    system clock pinned to ``now`` (not ``COMPLIANCEGATE_NOW``, which production refuses)."""
    return run_in_process(
        args, {"NO_COLOR": "1", "COMPLIANCEGATE_NOW": None, **env}, clock=now or DAY0
    )


def cli_subprocess(
    args: Sequence[str], cwd: Path, *, now: dt.datetime | None = None, **env: str
) -> Outcome:
    """Run ``python -m compliancegate`` in ``cwd``."""
    return run_subprocess(args, cwd, {"COMPLIANCEGATE_NOW": iso(now or DAY0), **env})


def records(folder: Path) -> list[dict[str, Any]]:
    """The records of the file ledger in ``folder``, parsed."""
    lines = (folder / "records.jsonl").read_bytes().splitlines()
    return [json.loads(line) for line in lines]


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a pinned identity; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        HOME=str(cwd or Path.cwd()),
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode()


def queued(state: Path) -> list[Path]:
    """The batch files in every pending queue under the state directory ``state``."""
    return sorted(state.glob("ledgers/*/pending/*.json"))


def refused(state: Path) -> list[Path]:
    """The batch files every queue under ``state`` refused and set aside."""
    return sorted(state.glob("ledgers/*/refused/*.json"))
