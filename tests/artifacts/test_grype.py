"""Grype JSON: matches as ``vulnerabilities``, on the real corpus files and on hostile
input."""

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

RUBY = "vulns/grype-chainguard-ruby.json"
PRESENTER = "vulns/grype-json-presenter-image.json"
KEYCLOAK = "vulns/grype-keycloak.json"


def test_chainguard_ruby_report() -> None:
    doc = document(RUBY, "grype")
    items = doc["vulnerabilities"]
    assert doc["sources"] == [RUBY]
    assert [(v["id"], v["package"]) for v in items] == [
        ("CVE-2023-28755", "ruby-3.0"),
        ("CVE-2023-28755", "uri"),
        ("GHSA-hv5j-3h9f-99c2", "uri"),
    ]
    assert {v["severity"] for v in items} == {"high"}
    ruby = items[0]
    assert (ruby["version"], ruby["fixed_version"]) == ("3.0.4-r1", "3.0.6-r0")
    # The match has no CVSS of its own; the related NVD record's 7.5 is taken.
    assert ruby["cvss"] == 7.5
    assert ruby["title"].startswith("A ReDoS issue was discovered in the URI component")
    assert ruby["target"] == "cgr.dev/chainguard/ruby:latest-3.0"
    uri_cve = items[1]
    assert uri_cve["fixed_version"] is None  # fix state "unknown"
    ghsa = items[2]
    assert (ghsa["fixed_version"], ghsa["title"], ghsa["cvss"]) == (
        "0.10.2",
        "Ruby URI component ReDoS issue",
        7.5,
    )
    assert {(v["source_tool"], v["state"], v["known_exploited"]) for v in items} == {
        ("grype", None, None)
    }


def test_presenter_snapshot_fix_versions_and_kev() -> None:
    items = document(PRESENTER, "grype")["vulnerabilities"]
    low = by_id(items, id="CVE-1999-0001")
    # The version Grype suggests for the installed release line, of 1.2.1, 2.1.3, 3.4.0.
    assert (low["severity"], low["fixed_version"], low["cvss"]) == ("low", "1.2.1", 8.2)
    assert (low["package"], low["version"], low["target"]) == ("package-1", "1.1.1", "user-input")
    critical = by_id(items, id="CVE-1999-0002")
    assert (critical["severity"], critical["fixed_version"]) == ("critical", None)
    assert critical["known_exploited"] is True
    assert low["known_exploited"] is None


def test_keycloak_wont_fix_matches() -> None:
    items = document(KEYCLOAK, "grype")["vulnerabilities"]
    assert len(items) == 6
    assert {v["id"] for v in items} == {"CVE-2020-12413"}
    assert [v["package"] for v in items] == [
        "nspr",
        "nss",
        "nss-softokn",
        "nss-softokn-freebl",
        "nss-sysinit",
        "nss-util",
    ]
    nss = by_id(items, package="nss")
    assert (nss["version"], nss["severity"], nss["fixed_version"], nss["cvss"]) == (
        "3.79.0-17.el9_1",
        "low",
        None,  # wont-fix
        5.9,
    )
    assert nss["target"].startswith("docker.io/keycloak/keycloak:21.0.2@sha256:")


@pytest.mark.parametrize("relative", [RUBY, PRESENTER, KEYCLOAK])
def test_detection(relative: str) -> None:
    assert claimed(fixture(relative)) == ["grype"]


def _parse(tmp_path: Path, report: Any) -> dict[str, Any]:
    path = tmp_path / "grype.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    fmt = get_format("grype")
    assert fmt is not None
    (artifact,) = fmt.parse(Source(path, "grype.json"))
    result: dict[str, Any] = artifact.document
    return result


def test_empty_report_and_string_target(tmp_path: Path) -> None:
    report = {
        "matches": [],
        "source": {"type": "file", "target": "sbom.json"},
        "descriptor": {"name": "grype"},
    }
    path = tmp_path / "grype.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert claimed(path) == ["grype"]
    assert _parse(tmp_path, report)["vulnerabilities"] == []


def test_fix_versions_without_suggestion_and_severity_words(tmp_path: Path) -> None:
    report = {
        "matches": [
            {
                "vulnerability": {
                    "id": "CVE-1",
                    "severity": "Negligible",
                    "fix": {"versions": ["", "2.0"], "state": "fixed"},
                    "cvss": [
                        {"version": "2.0", "metrics": {"baseScore": 9.3}},
                        {"version": "3.1", "metrics": {"baseScore": 4.4}},
                    ],
                },
                "artifact": {"name": "p", "version": "1.0"},
            }
        ],
        "source": {"target": {"userInput": "dir:."}},
    }
    (item,) = _parse(tmp_path, report)["vulnerabilities"]
    assert (item["severity"], item["fixed_version"], item["cvss"], item["target"]) == (
        "low",
        "2.0",
        4.4,
        "dir:.",
    )


@pytest.mark.parametrize(
    ("report", "where"),
    [
        ({"matches": {}}, "matches is an object"),
        ({"matches": [[]]}, "matches[0] is a list"),
        ({"matches": [{"vulnerability": "CVE-1"}]}, "matches[0].vulnerability is a string"),
        ({"matches": [{"artifact": []}]}, "matches[0].artifact is a list"),
        (
            {"matches": [{"vulnerability": {"cvss": {}}}]},
            "matches[0].vulnerability.cvss is an object",
        ),
        (
            {"matches": [{"vulnerability": {"fix": {"state": "fixed", "versions": "1.0"}}}]},
            "matches[0].vulnerability.fix.versions is a string",
        ),
        ({"matches": [], "source": "image"}, "source is a string"),
    ],
)
def test_structural_errors(tmp_path: Path, report: Any, where: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        _parse(tmp_path, report)
    assert caught.value.file == "grype.json"
    assert where in str(caught.value)


_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=mutated_bytes(PRESENTER))
def test_mutated_presenter_report_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("grype",))


@_SETTINGS
@given(data=mutated_bytes(RUBY))
def test_mutated_ruby_report_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("grype",))


@_SETTINGS
@given(
    data=prefixed_bytes(
        b'{"matches": [{"vulnerability": {"id": "CVE-1", "matchDetails": ', b'{"matches":['
    )
)
def test_garbage_after_a_grype_start_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(data)
    read_hostile(path, ("grype",))
