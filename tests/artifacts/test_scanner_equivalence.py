"""One policy, every scanner: a policy written against ``vulnerabilities`` gives the same
verdict, the same violations and the same fingerprints on the Trivy, Grype and CycloneDX
descriptions (and the Trivy-style SARIF one) of the same findings.

The reports are built here from one list of findings, each in its producer's own
vocabulary (Trivy ``MEDIUM``, Grype ``Medium``, CycloneDX ratings ``medium`` with a CVSS
score, ``FixedVersion: ""`` versus ``fix.state: not-fixed`` versus no recommendation), then
read through the real detection and parsers and evaluated by the real engine.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.check import CheckOptions, run_check
from compliancegate.engine.conditions import EvalContext
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.loading.policies import load_policies
from compliancegate.model import Decision, InputSpec, Policy, Status

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)

POLICIES = """\
apiVersion: compliancegate/v1
kind: Policy
id: eq-no-critical
title: No critical vulnerability
controls: [eq:VULN-1]
severity: critical
input: vulnerabilities
key: "[id, package, version]"
rule:
  for_each: vulnerabilities
  assert: {path: severity, op: not_equals, value: critical}
message: "{item.id} in {item.package}@{item.version} is critical"
---
apiVersion: compliancegate/v1
kind: Policy
id: eq-high-with-fix
title: No high vulnerability with a fix available
controls: [eq:VULN-1]
severity: high
input: vulnerabilities
key: "[id, package, version]"
rule:
  for_each: vulnerabilities
  where: {path: severity, op: equals, value: high}
  assert: {path: fixed_version, op: absent}
message: "{item.id} in {item.package}@{item.version}: fixed in {item.fixed_version}"
"""


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one installed package, as every scanner would report it."""

    id: str
    package: str
    version: str
    severity: str
    """critical, high, moderate, low or unknown."""
    fixed: str | None = None


_SCORES = {"critical": 9.8, "high": 7.5, "moderate": 5.3, "low": 3.1}
_TRIVY_WORDS = {"critical": "CRITICAL", "high": "HIGH", "moderate": "MEDIUM", "low": "LOW"}
_GRYPE_WORDS = {"critical": "Critical", "high": "High", "moderate": "Medium", "low": "Low"}
_CDX_WORDS = {"critical": "critical", "high": "high", "moderate": "medium", "low": "low"}


def trivy(findings: list[Finding]) -> dict[str, Any]:
    """A Trivy JSON report (SchemaVersion 2) of ``findings``."""
    return {
        "SchemaVersion": 2,
        "ArtifactName": "registry.example/app:1.0",
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": "registry.example/app:1.0 (debian 12.5)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": f.id,
                        "PkgName": f.package,
                        "InstalledVersion": f.version,
                        "FixedVersion": f.fixed or "",
                        "Status": "fixed" if f.fixed else "affected",
                        "Severity": _TRIVY_WORDS.get(f.severity, "UNKNOWN"),
                        "CVSS": (
                            {"nvd": {"V3Score": _SCORES[f.severity]}}
                            if f.severity in _SCORES
                            else {}
                        ),
                        "Title": f"{f.package}: flaw {f.id}",
                    }
                    for f in findings
                ],
            }
        ],
    }


def grype(findings: list[Finding]) -> dict[str, Any]:
    """A Grype JSON report of ``findings``."""
    return {
        "matches": [
            {
                "vulnerability": {
                    "id": f.id,
                    "severity": _GRYPE_WORDS.get(f.severity, "Unknown"),
                    "description": f"{f.package}: flaw {f.id}",
                    "cvss": (
                        [{"version": "3.1", "metrics": {"baseScore": _SCORES[f.severity]}}]
                        if f.severity in _SCORES
                        else []
                    ),
                    "fix": (
                        {"versions": [f.fixed], "state": "fixed"}
                        if f.fixed
                        else {"versions": [], "state": "not-fixed"}
                    ),
                },
                "relatedVulnerabilities": [],
                "matchDetails": [{"type": "exact-direct-match", "matcher": "dpkg-matcher"}],
                "artifact": {"name": f.package, "version": f.version, "type": "deb"},
            }
            for f in findings
        ],
        "source": {"type": "image", "target": {"userInput": "registry.example/app:1.0"}},
        "descriptor": {"name": "grype", "version": "0.80.0"},
    }


def _purl(f: Finding) -> str:
    return f"pkg:deb/debian/{f.package}@{f.version}"


def cyclonedx(findings: list[Finding]) -> dict[str, Any]:
    """A CycloneDX 1.6 BOM with the affected components and ``findings`` (as Trivy and
    Grype write with ``--format cyclonedx``)."""
    components = {
        _purl(f): {
            "bom-ref": _purl(f),
            "type": "library",
            "name": f.package,
            "version": f.version,
            "purl": _purl(f),
        }
        for f in findings
    }
    vulnerabilities = []
    for f in findings:
        rating: dict[str, Any] = {"source": {"name": "nvd"}}
        rating["severity"] = _CDX_WORDS.get(f.severity, "unknown")
        if f.severity in _SCORES:
            rating.update(score=_SCORES[f.severity], method="CVSSv31")
        entry: dict[str, Any] = {
            "id": f.id,
            "ratings": [rating],
            "description": f"{f.package}: flaw {f.id}",
            "affects": [{"ref": _purl(f)}],
        }
        if f.fixed:
            entry["recommendation"] = f"Upgrade {f.package} to version {f.fixed}"
        vulnerabilities.append(entry)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "trivy"}]},
            "component": {"type": "container", "name": "registry.example/app:1.0"},
        },
        "components": list(components.values()),
        "vulnerabilities": vulnerabilities,
    }


def sarif(findings: list[Finding]) -> dict[str, Any]:
    """A SARIF log as Trivy writes it (``--format sarif``); every finding needs a score."""
    rules = {
        f.id: {
            "id": f.id,
            "shortDescription": {"text": f"{f.package}: flaw {f.id}"},
            "properties": {"security-severity": str(_SCORES[f.severity])},
        }
        for f in findings
    }
    results = [
        {
            "ruleId": f.id,
            "level": "error",
            "message": {
                "text": (
                    f"Package: {f.package}\nInstalled Version: {f.version}\n"
                    f"Vulnerability {f.id}\nSeverity: {_TRIVY_WORDS[f.severity]}\n"
                    f"Fixed Version: {f.fixed or ''}\nLink: [{f.id}](https://avd.example/{f.id})"
                )
            },
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": "registry.example/app:1.0"}}}
            ],
        }
        for f in findings
    ]
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {"driver": {"name": "Trivy", "rules": list(rules.values())}},
                "results": results,
            }
        ],
    }


Builder = Callable[[list[Finding]], dict[str, Any]]
SCANNERS: dict[str, tuple[str, Builder]] = {
    "trivy": ("trivy.json", trivy),
    "grype": ("grype.json", grype),
    "cyclonedx-vex": ("bom.cdx.json", cyclonedx),
}

FINDINGS = [
    Finding("CVE-2024-0001", "openssl", "3.0.11-1", "critical", "3.0.13-1"),
    Finding("CVE-2024-0002", "zlib", "1.2.13", "high", "1.3.1"),
    Finding("CVE-2024-0003", "busybox", "1.36.1", "high"),
    Finding("CVE-2024-0004", "curl", "7.88.1", "moderate", "7.88.2"),
    Finding("CVE-2024-0005", "expat", "2.5.0", "low"),
    Finding("CVE-2024-0006", "tar", "1.34", "critical"),
]


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Policy, ...]:
    folder = tmp_path_factory.mktemp("policies")
    (folder / "vulns.yaml").write_text(POLICIES, encoding="utf-8")
    return load_policies([folder]).policies


def verdicts(
    folder: Path, name: str, report: dict[str, Any], policies: tuple[Policy, ...]
) -> dict[str, tuple[Status, list[tuple[str, str]]]]:
    """Each policy's status and (fingerprint, message) violations on ``report`` alone,
    read with the format detection chooses."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(report), encoding="utf-8")
    store = ArtifactStore([folder])
    out: dict[str, tuple[Status, list[tuple[str, str]]]] = {}
    for policy in policies:
        result, _ = evaluate_policy(policy, store, EvalContext(now=NOW), None)
        assert result.error is None, result.error
        out[policy.id] = (
            result.status,
            sorted((v.fingerprint, v.message) for v in result.violations),
        )
    return out


def test_the_reports_are_read_by_the_intended_formats(tmp_path: Path) -> None:
    for name, build in SCANNERS.values():
        (tmp_path / name).write_text(json.dumps(build(FINDINGS)), encoding="utf-8")
    (tmp_path / "scan.sarif").write_text(json.dumps(sarif(FINDINGS)), encoding="utf-8")
    store = ArtifactStore([tmp_path])
    formats = {e.path.name: [f.name for f in store.formats_of(e)] for e in store.files}
    assert formats == {
        "trivy.json": ["trivy"],
        "grype.json": ["grype"],
        "bom.cdx.json": ["cyclonedx", "cyclonedx-vex"],
        "scan.sarif": ["sarif", "sarif-vulnerabilities"],
    }


def test_same_verdicts_on_every_scanner(tmp_path: Path, policies: tuple[Policy, ...]) -> None:
    builders = {**SCANNERS, "sarif-vulnerabilities": ("scan.sarif", sarif)}
    seen = {
        scanner: verdicts(tmp_path / scanner, name, build(FINDINGS), policies)
        for scanner, (name, build) in builders.items()
    }
    reference = seen["trivy"]
    assert reference["eq-no-critical"][0] is Status.FAIL
    assert [m for _, m in reference["eq-no-critical"][1]] == [
        "CVE-2024-0001 in openssl@3.0.11-1 is critical",
        "CVE-2024-0006 in tar@1.34 is critical",
    ]
    assert [m for _, m in reference["eq-high-with-fix"][1]] == [
        "CVE-2024-0002 in zlib@1.2.13: fixed in 1.3.1"
    ]
    for scanner, got in seen.items():
        assert got == reference, scanner


def test_reports_of_several_scanners_combine_into_one_verdict(
    tmp_path: Path, policies: tuple[Policy, ...]
) -> None:
    release = tmp_path / "release"
    release.mkdir()
    for name, build in SCANNERS.values():
        (release / name).write_text(json.dumps(build(FINDINGS)), encoding="utf-8")
    store = ArtifactStore([release])
    single = verdicts(tmp_path / "alone", "trivy.json", trivy(FINDINGS), policies)
    for policy in policies:
        result, items = evaluate_policy(policy, store, EvalContext(now=NOW), None)
        # The same CVE in the same package version from three scanners is one violation.
        got = sorted((v.fingerprint, v.message) for v in result.violations)
        assert (result.status, got) == single[policy.id]
        assert len(result.artifacts) == 3
        # Each violation's item is the first scanner's (files are read in path order).
        assert {Path(item["source"]).name for item in items.values()} == {"bom.cdx.json"}


def test_an_empty_cyclonedx_vulnerability_list_is_no_scan_unless_forced(
    tmp_path: Path, policies: tuple[Policy, ...]
) -> None:
    """Trivy writes ``"vulnerabilities": []`` into SBOMs it did not scan, so a BOM with an
    empty list is not taken for a clean scan (Trivy and Grype JSON always are one); naming
    the format says the BOM was scanned."""
    for scanner, (name, build) in SCANNERS.items():
        got = verdicts(tmp_path / scanner, name, build([]), policies)["eq-no-critical"]
        if scanner == "cyclonedx-vex":
            assert got[0] is Status.FAIL
            assert "missing evidence" in got[1][0][1]
        else:
            assert got == (Status.PASS, [])
    forced = replace(policies[0], input=InputSpec(glob="**/*.cdx.json", format="cyclonedx-vex"))
    store = ArtifactStore([tmp_path / "cyclonedx-vex"])
    result, _ = evaluate_policy(forced, store, EvalContext(now=NOW), None)
    assert (result.status, result.violations) == (Status.PASS, ())


@pytest.mark.parametrize("scanner", sorted(SCANNERS))
def test_run_check_decides_alike(
    scanner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "vulns.yaml").write_text(POLICIES, encoding="utf-8")
    name, build = SCANNERS[scanner]
    decisions = []
    for findings in (FINDINGS, [f for f in FINDINGS if f.severity not in ("critical", "high")]):
        release = tmp_path / f"release-{len(findings)}"
        release.mkdir()
        (release / name).write_text(json.dumps(build(findings)), encoding="utf-8")
        options = CheckOptions(
            paths=(release,), policies=(tmp_path / "policies",), no_ledger=True, now=NOW
        )
        report = run_check(options)
        decisions.append(
            (report.decision, sorted((r.policy.id, r.status.value) for r in report.results))
        )
    assert decisions == [
        (Decision.BLOCKED, [("eq-high-with-fix", "fail"), ("eq-no-critical", "fail")]),
        (Decision.COMPLIANT, [("eq-high-with-fix", "pass"), ("eq-no-critical", "pass")]),
    ]


# --------------------------------------------------------------------------- property

_IDS = st.sampled_from([f"CVE-2025-{n:04d}" for n in range(1, 7)] + ["GHSA-aaaa-bbbb-cccc"])
_NAMES = st.sampled_from(["openssl", "zlib", "libxml2", "@scope/pkg", "github.com/x/y"])
_VERSIONS = st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?(-r[0-9])?", fullmatch=True)
_FINDINGS = st.lists(
    st.builds(
        Finding,
        id=_IDS,
        package=_NAMES,
        version=_VERSIONS,
        severity=st.sampled_from(["critical", "high", "moderate", "low", "unknown"]),
        fixed=st.none() | _VERSIONS,
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(findings=_FINDINGS)
def test_any_findings_give_the_same_verdicts(
    tmp_path_factory: pytest.TempPathFactory, policies: tuple[Policy, ...], findings: list[Finding]
) -> None:
    folder = tmp_path_factory.mktemp("eq")
    seen = {
        scanner: verdicts(folder / scanner, name, build(findings), policies)
        for scanner, (name, build) in SCANNERS.items()
    }
    assert seen["grype"] == seen["trivy"]
    assert seen["cyclonedx-vex"] == seen["trivy"]
