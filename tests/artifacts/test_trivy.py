"""Trivy JSON: vulnerabilities (``trivy``) and misconfigurations (``trivy-misconfig``), on
the real corpus files and on hostile input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from artifact_corpus import (
    by_id,
    claimed,
    document,
    fixture,
    mutated_bytes,
    prefixed_bytes,
    read_hostile,
)
from hypothesis import HealthCheck, given, settings

from compliancegate.artifacts.registry import get_format
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

ALPINE = "vulns/trivy-alpine-39.json"
GOMOD = "vulns/trivy-gomod.json"
PIP = "vulns/trivy-pip.json"
HELM = "vulns/trivy-helm-misconfig.json"


def test_alpine_image_report() -> None:
    doc = document(ALPINE, "trivy")
    items = doc["vulnerabilities"]
    assert doc["sources"] == [ALPINE]
    assert len(items) == 6
    assert [v["severity"] for v in items].count("critical") == 2
    assert [v["severity"] for v in items].count("moderate") == 4  # Trivy's MEDIUM
    musl = by_id(items, id="CVE-2019-14697", package="musl")
    assert (musl["version"], musl["fixed_version"], musl["cvss"]) == ("1.1.20-r4", "1.1.20-r5", 9.8)
    assert musl["target"] == "testdata/fixtures/images/alpine-39.tar.gz (alpine 3.9.4)"
    # No Title: the description, cut to a title.
    assert musl["title"].startswith("musl libc through 1.1.23 has an x87 floating-point stack")
    assert len(musl["title"]) == 200 and musl["title"].endswith("\u2026")
    ssl = by_id(items, id="CVE-2019-1549", package="libssl1.1")
    # NVD 5.3 and Red Hat 4.8: the highest v3 score.
    assert (ssl["severity"], ssl["cvss"], ssl["fixed_version"]) == ("moderate", 5.3, "1.1.1d-r0")
    assert ssl["title"] == "openssl: information disclosure in fork()"
    assert {(v["source_tool"], v["state"], v["known_exploited"]) for v in items} == {
        ("trivy", None, None)
    }


def test_gomod_report_unknown_severities_and_targets() -> None:
    items = document(GOMOD, "trivy")["vulnerabilities"]
    assert len(items) == 5
    assert [v["target"] for v in items if v["id"] == "GMS-2022-20"] == [
        "go.mod",
        "submod/go.mod",
        "submod2/go.mod",
    ]
    distribution = by_id(items, id="GMS-2022-20", target="go.mod")
    assert (distribution["severity"], distribution["cvss"]) == ("unknown", None)
    assert (distribution["version"], distribution["fixed_version"]) == (
        "v2.7.1+incompatible",
        "v2.8.0",
    )
    opa = by_id(items, id="CVE-2022-23628")
    assert (opa["package"], opa["severity"], opa["fixed_version"]) == (
        "github.com/open-policy-agent/opa",
        "moderate",
        "0.37.0",
    )


def test_pip_report() -> None:
    items = document(PIP, "trivy")["vulnerabilities"]
    werkzeug = by_id(items, id="CVE-2019-14806")
    assert (werkzeug["package"], werkzeug["version"], werkzeug["fixed_version"]) == (
        "Werkzeug",
        "0.11",
        "0.15.3",
    )
    assert (werkzeug["severity"], werkzeug["cvss"], werkzeug["target"]) == (
        "high",
        7.5,
        "requirements.txt",
    )
    assert by_id(items, id="CVE-2020-28724")["severity"] == "moderate"


def test_helm_misconfigurations_are_findings() -> None:
    doc = document(HELM, "trivy-misconfig")
    findings = doc["findings"]
    assert len(findings) == 18
    first = findings[0]
    assert first["rule_id"] == "KSV-0001"
    assert first["level"] == "warning"  # MEDIUM
    assert (first["file"], first["line"]) == ("testchart.tar.gz:templates/pod.yaml", 19)
    assert first["message"].startswith("Container 'nginx' of Deployment 'nginx-deployment'")
    levels = [f["level"] for f in findings]
    assert (levels.count("error"), levels.count("warning"), levels.count("note")) == (3, 4, 11)
    assert by_id(findings, rule_id="KSV-0117")["line"] is None  # no cause line given
    assert [f["line"] for f in findings if f["rule_id"] == "KSV-0118"] == [19, 17]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (ALPINE, ["trivy"]),
        (GOMOD, ["trivy"]),
        (PIP, ["trivy"]),
        # A misconfiguration scan did not look for vulnerabilities: it must not pass "no
        # critical vulnerability" as if it had.
        (HELM, ["trivy-misconfig"]),
    ],
)
def test_detection(relative: str, expected: list[str]) -> None:
    assert claimed(fixture(relative)) == expected


def _write(tmp_path: Path, report: Any) -> Path:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def _parse(path: Path, fmt: str = "trivy") -> dict[str, Any]:
    format_ = get_format(fmt)
    assert format_ is not None
    (artifact,) = format_.parse(Source(path, path.name))
    result: dict[str, Any] = artifact.document
    return result


def test_report_with_both_scans_is_claimed_by_both(tmp_path: Path) -> None:
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "app",
        "Results": [
            {
                "Target": "Dockerfile",
                "Class": "config",
                "Misconfigurations": [{"ID": "DS002", "Status": "PASS"}],
            },
            {"Target": "app (debian 12)", "Class": "os-pkgs", "Type": "debian"},
        ],
    }
    path = _write(tmp_path, report)
    assert claimed(path) == ["trivy", "trivy-misconfig"]
    assert _parse(path)["vulnerabilities"] == []
    assert _parse(path, "trivy-misconfig")["findings"] == []  # a passed check is no finding


def test_empty_report_is_a_clean_vulnerability_scan(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"SchemaVersion": 2, "ArtifactName": "app", "ArtifactType": "filesystem"}
    )
    assert claimed(path) == ["trivy"]
    assert _parse(path)["vulnerabilities"] == []


def test_cvss_versions_and_fixed_version_lists(tmp_path: Path) -> None:
    report = {
        "SchemaVersion": 2,
        "Results": [
            {
                "Target": "Gemfile.lock",
                "Class": "lang-pkgs",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-1",
                        "PkgName": "rails",
                        "InstalledVersion": "6.0.0",
                        "FixedVersion": "6.0.3.1, 5.2.4.3",
                        "Severity": "HIGH",
                        "CVSS": {
                            "nvd": {"V2Score": 9.3, "V3Score": 7.5},
                            "ghsa": {"V40Score": 8.1},
                        },
                    },
                    {
                        "VulnerabilityID": "CVE-2",
                        "FixedVersion": "",
                        "CVSS": {"nvd": {"V2Score": 5.0}},
                    },
                ],
            }
        ],
    }
    first, second = _parse(_write(tmp_path, report))["vulnerabilities"]
    # v2 scores use another scale: the newest scores count, v2 only when alone.
    assert (first["fixed_version"], first["cvss"]) == ("6.0.3.1", 8.1)
    assert (second["fixed_version"], second["cvss"], second["severity"]) == (None, 5.0, "unknown")


@pytest.mark.parametrize(
    ("report", "where"),
    [
        ([{"SchemaVersion": 2}], "the top level is a list"),
        ({"SchemaVersion": 2, "Results": {"Target": "x"}}, "Results is an object"),
        ({"SchemaVersion": 2, "Results": ["x"]}, "Results[0] is a string"),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": {}}]},
            "Results[0].Vulnerabilities is an object",
        ),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [7]}]},
            "Results[0].Vulnerabilities[0] is a number",
        ),
        (
            {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"CVSS": {"nvd": 9.8}}]}]},
            "Results[0].Vulnerabilities[0].CVSS.nvd is a number",
        ),
    ],
)
def test_structural_errors(tmp_path: Path, report: Any, where: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        _parse(_write(tmp_path, report))
    assert caught.value.file == "trivy.json"
    assert where in str(caught.value)


def test_huge_numbers_are_not_scores_and_endless_ones_an_error(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    score = "1" + "0" * 400  # a valid JSON number no float can hold
    vuln = '{"VulnerabilityID": "CVE-1", "CVSS": {"nvd": {"V3Score": ' + score + "}}}"
    path.write_text('{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [' + vuln + "]}]}")
    (item,) = _parse(path)["vulnerabilities"]
    assert item["cvss"] is None
    path.write_text('{"SchemaVersion": 2, "Results": [{"Target": ' + "9" * 5000 + "}]}")
    with pytest.raises(ArtifactError, match=r"trivy\.json: invalid JSON: a number too long"):
        _parse(path)


def test_misconfig_structural_errors(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"SchemaVersion": 2, "Results": [{"Misconfigurations": [{"CauseMetadata": []}]}]}
    )
    with pytest.raises(
        ArtifactError, match=r"Results\[0\]\.Misconfigurations\[0\]\.CauseMetadata is a list"
    ):
        _parse(path, "trivy-misconfig")


_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=mutated_bytes(ALPINE))
def test_mutated_image_report_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("trivy", "trivy-misconfig"))


@_SETTINGS
@given(data=mutated_bytes(HELM))
def test_mutated_misconfig_report_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("trivy", "trivy-misconfig"))


@_SETTINGS
@given(
    data=prefixed_bytes(
        b'{"SchemaVersion": 2, "ArtifactName": ', b'{"SchemaVersion":2,"Results":[{'
    )
)
def test_garbage_after_a_trivy_start_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(data)
    read_hostile(path, ("trivy", "trivy-misconfig"))
