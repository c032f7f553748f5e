"""SARIF 2.1.0: results as ``findings`` (``sarif``) and, where rules carry a
security-severity, as ``vulnerabilities`` (``sarif-vulnerabilities``); on the real corpus
files and on hostile input."""

from __future__ import annotations

import json
import time
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
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import InputSpec

CODEQL = "sarif/codeql-lgtm-two-runs.sarif"
DEPCHECK = "sarif/dependency-check.sarif"
GITLEAKS = "sarif/gitleaks-7.5.0.sarif"
GRYPE = "sarif/grype-image.sarif"
SPOTBUGS = "sarif/spotbugs.sarif"
TRIVY = "sarif/trivy-alpine-310.sarif"

BOTH = ("sarif", "sarif-vulnerabilities")

# --------------------------------------------------------------------------- corpus: findings


def test_codeql_two_runs() -> None:
    doc = document(CODEQL, "sarif")
    findings = doc["findings"]
    assert doc["sources"] == [CODEQL]
    assert [f["tool"] for f in findings] == [
        "LGTM.com",
        "CodeQL command-line toolchain",
        "CodeQL command-line toolchain",
    ]
    unused = findings[0]
    assert (unused["rule_id"], unused["file"], unused["line"]) == (
        "js/unused-local-variable",
        "main.js",
        2,
    )
    assert unused["message"] == "Unused variable foo."
    # No result level: the rule's defaultConfiguration.level.
    assert unused["level"] == "note"
    assert unused["fingerprint"] == "39fa2ee980eb94b0:1"  # first partialFingerprints value
    new = findings[2]
    # The uri as written (uriBaseId %SRCROOT% left unresolved).
    assert (new["rule_id"], new["file"], new["line"]) == (
        "js/inconsistent-use-of-new",
        "src/promiseUtils.js",
        2,
    )
    assert {(f["security_severity"], f["suppressed"]) for f in findings} == {(None, False)}


def test_spotbugs_message_strings_are_filled_in() -> None:
    findings = document(SPOTBUGS, "sarif")["findings"]
    assert len(findings) == 56
    assert {f["level"] for f in findings} == {"note"}
    assert sum(1 for f in findings if f["rule_id"] == "NM_METHOD_NAMING_CONVENTION") == 33
    first = findings[0]
    assert (first["rule_id"], first["file"], first["line"]) == (
        "DMI_HARDCODED_ABSOLUTE_FILENAME",
        "Boot.java",
        23,
    )
    # messageStrings "Hard coded reference to an absolute pathname in {0}." + arguments.
    assert (
        first["message"] == "Hard coded reference to an absolute pathname in Boot.main(String[])."
    )
    encoding = findings[1]
    assert encoding["message"] == (
        "Found reliance on default encoding in Boot.writeFrags(Log, String): "
        "new java.io.FileWriter(File)."
    )
    assert encoding["line"] == 104


def test_gitleaks_results_without_rule_ids() -> None:
    findings = document(GITLEAKS, "sarif")["findings"]
    assert len(findings) == 8
    assert {(f["tool"], f["rule_id"], f["level"]) for f in findings} == {
        ("Gitleaks", None, "warning")
    }
    first = findings[0]
    assert first["message"] == "AWS Access Key secret detected"
    assert first["file"] == (
        "dojo/unittests/scans/gitlab_secret_detection_report/"
        "gitlab_secret_detection_report_1_vuln.json"
    )
    assert first["line"] == 13
    assert (
        findings[-1]["file"] == "dojo/unittests/tools/test_gitlab_secret_detection_report_parser.py"
    )
    assert findings[-1]["line"] == 37


def test_dependency_check_results_are_findings_only() -> None:
    findings = document(DEPCHECK, "sarif")["findings"]
    assert len(findings) == 13
    assert {f["level"] for f in findings} == {"error"}
    jquery = [f for f in findings if f["rule_id"] == "CVE-2015-9251"]
    assert len(jquery) == 2
    assert jquery[0]["file"].startswith("file:////src/.venv/lib/python3.9/site-packages/")
    assert jquery[0]["file"].endswith("jquery-1.8.0.min.js")
    assert all(f["line"] is None for f in findings)  # dependency-check gives no regions


def test_trivy_and_grype_sarif_findings() -> None:
    trivy = document(TRIVY, "sarif")["findings"]
    assert len(trivy) == 4
    assert trivy[0]["security_severity"] == 5.3
    assert (trivy[0]["level"], trivy[0]["file"], trivy[0]["line"]) == (
        "warning",
        "testdata/fixtures/images/alpine-310.tar.gz",
        1,
    )
    grype = document(GRYPE, "sarif")["findings"]
    assert [(f["rule_id"], f["level"], f["security_severity"]) for f in grype] == [
        ("CVE-1999-0001-package-1", "note", 8.2),
        ("CVE-1999-0002-package-2", "error", 8.5),
    ]


# --------------------------------------------------------------------- corpus: vulnerabilities


def test_trivy_sarif_vulnerabilities() -> None:
    items = document(TRIVY, "sarif-vulnerabilities")["vulnerabilities"]
    assert [(v["id"], v["package"]) for v in items] == [
        ("CVE-2019-1549", "libcrypto1.1"),
        ("CVE-2019-1551", "libcrypto1.1"),
        ("CVE-2019-1549", "libssl1.1"),
        ("CVE-2019-1551", "libssl1.1"),
    ]
    ssl = by_id(items, id="CVE-2019-1551", package="libssl1.1")
    assert (ssl["version"], ssl["fixed_version"], ssl["severity"], ssl["cvss"]) == (
        "1.1.1c-r0",
        "1.1.1d-r2",
        "moderate",
        5.3,
    )
    assert ssl["title"] == "openssl: Integer overflow in RSAZ modular exponentiation on x86_64"
    assert (ssl["source_tool"], ssl["target"]) == (
        "Trivy",
        "testdata/fixtures/images/alpine-310.tar.gz",
    )


def test_grype_sarif_vulnerabilities() -> None:
    items = document(GRYPE, "sarif-vulnerabilities")["vulnerabilities"]
    low, critical = items
    # The CVE from the rule's help ("Vulnerability CVE-1999-0001"), not the rule id that
    # joins it with the package.
    assert (low["id"], low["package"], low["version"]) == ("CVE-1999-0001", "package-1", "1.1.1")
    assert low["fixed_version"] == "1.2.1"  # "Fix Version: 1.2.1,2.1.3,3.4.0"
    # Severity is the security-severity on the CVSS scale (Grype writes the CVSS score
    # there, 8.2, while its own word is "low").
    assert low["severity"] == "high"
    assert (critical["id"], critical["fixed_version"], critical["severity"]) == (
        "CVE-1999-0002",
        None,
        "high",
    )
    assert {(v["source_tool"], v["cvss"]) for v in items} == {("grype", None)}


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (CODEQL, ["sarif"]),
        (DEPCHECK, ["sarif"]),  # dependency-check 6.1 writes no security-severity
        (GITLEAKS, ["sarif"]),
        (SPOTBUGS, ["sarif"]),
        (GRYPE, list(BOTH)),
        (TRIVY, list(BOTH)),
    ],
)
def test_detection(relative: str, expected: list[str]) -> None:
    assert claimed(fixture(relative)) == expected


def test_policies_reach_both_readings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scan.sarif").write_bytes(fixture(TRIVY).read_bytes())
    store = ArtifactStore([Path("scan.sarif")])
    (findings,) = store.select(InputSpec(kind="findings")).artifacts
    (vulns,) = store.select(InputSpec(kind="vulnerabilities")).artifacts
    assert (findings.format, vulns.format) == BOTH
    assert len(findings.document["findings"]) == len(vulns.document["vulnerabilities"]) == 4


# --------------------------------------------------------------------------- shapes

_LOG: dict[str, Any] = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "Scanner",
                    "rules": [
                        {"id": "R1", "defaultConfiguration": {"level": "error"}},
                        {
                            "id": "R2",
                            "messageStrings": {"m": {"text": "{0} uses {1}; {2} stays"}},
                            "properties": {"security-severity": "9.1"},
                        },
                    ],
                    "globalMessageStrings": {"g": {"text": "global {0}"}},
                },
                "extensions": [
                    {
                        "name": "pack",
                        "rules": [{"id": "X1", "properties": {"security-severity": 4.0}}],
                    }
                ],
            },
            "artifacts": [{"location": {"uri": "src/listed.py"}}],
            "results": [
                {"ruleId": "R1", "message": {"text": "plain"}},
                {
                    "ruleIndex": 1,
                    "level": "WARNING",
                    "message": {"id": "m", "arguments": ["a", "b"]},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"index": 0},
                                "region": {"startLine": 7},
                            }
                        }
                    ],
                    "fingerprints": {"v1": "abc"},
                    "suppressions": [{"kind": "inSource"}],
                },
                {
                    "rule": {"id": "X1", "index": 0, "toolComponent": {"index": 0}},
                    "message": {"id": "g", "arguments": [3]},
                    "kind": "pass",
                    "suppressions": [{"kind": "external", "status": "rejected"}],
                },
                {"ruleId": "R1/sub", "level": "fatal", "message": {}},
                {"ruleId": "R1", "baselineState": "absent", "message": {"text": "fixed"}},
                {
                    "ruleId": "unknown-rule",
                    "level": "note",
                    "locations": [{"logicalLocations": []}],
                },
            ],
        },
        {"tool": {"driver": {"name": "Empty"}}, "results": []},
    ],
}


def _parse(tmp_path: Path, log: Any, fmt: str = "sarif") -> dict[str, Any]:
    path = tmp_path / "log.sarif"
    path.write_text(json.dumps(log), encoding="utf-8")
    format_ = get_format(fmt)
    assert format_ is not None
    (artifact,) = format_.parse(Source(path, "log.sarif"))
    result: dict[str, Any] = artifact.document
    return result


def test_rules_levels_messages_and_suppressions(tmp_path: Path) -> None:
    findings = _parse(tmp_path, _LOG)["findings"]
    assert len(findings) == 5  # the absent (fixed) result is not a finding
    plain, templated, passed, hierarchical, unknown = findings
    assert (plain["rule_id"], plain["level"], plain["message"], plain["file"]) == (
        "R1",
        "error",
        "plain",
        None,
    )
    assert (templated["rule_id"], templated["level"]) == ("R2", "warning")
    assert templated["message"] == "a uses b; {2} stays"
    assert (templated["file"], templated["line"], templated["fingerprint"]) == (
        "src/listed.py",
        7,
        "abc",
    )
    assert (templated["security_severity"], templated["suppressed"]) == (9.1, True)
    # The extension's rule through rule.toolComponent; kind "pass" has level none.
    assert (passed["rule_id"], passed["level"], passed["message"]) == ("X1", "none", "global 3")
    assert (passed["security_severity"], passed["suppressed"]) == (4.0, False)
    # A level SARIF does not define reads as "warning"; R1/sub reports its parent R1.
    assert (hierarchical["rule_id"], hierarchical["level"], hierarchical["message"]) == (
        "R1/sub",
        "warning",
        None,
    )
    assert (unknown["level"], unknown["file"], unknown["line"]) == ("note", None, None)


def test_only_results_with_a_security_severity_are_vulnerabilities(tmp_path: Path) -> None:
    path = tmp_path / "log.sarif"
    path.write_text(json.dumps(_LOG), encoding="utf-8")
    assert claimed(path) == list(BOTH)
    items = _parse(tmp_path, _LOG, "sarif-vulnerabilities")["vulnerabilities"]
    assert [(v["id"], v["severity"], v["package"]) for v in items] == [
        ("R2", "critical", None),
        ("X1", "moderate", None),
    ]
    assert {v["source_tool"] for v in items} == {"Scanner"}


@pytest.mark.parametrize(
    ("log", "where"),
    [
        ({"version": "2.1.0"}, "runs is null"),
        ({"version": "2.1.0", "runs": {}}, "runs is an object"),
        ({"runs": ["run"]}, "runs[0] is a string"),
        ({"runs": [{"tool": []}]}, "runs[0].tool is a list"),
        ({"runs": [{"tool": {"driver": "x"}}]}, "runs[0].tool.driver is a string"),
        ({"runs": [{"tool": {"driver": {"rules": {}}}}]}, "runs[0].tool.driver.rules is an object"),
        (
            {"runs": [{"tool": {"extensions": [{"rules": [1]}]}}]},
            "runs[0].tool.extensions[0].rules[0]",
        ),
        ({"runs": [{"results": {}}]}, "runs[0].results is an object"),
        ({"runs": [{"results": [3]}]}, "runs[0].results[0] is a number"),
        ({"runs": [{"results": [{"locations": {}}]}]}, "runs[0].results[0].locations is an object"),
        (
            {"runs": [{"results": [{"locations": [{"physicalLocation": {"region": 5}}]}]}]},
            "runs[0].results[0].locations[0].physicalLocation.region is a number",
        ),
        ({"runs": [{"results": [{"message": "text"}]}]}, "runs[0].results[0].message is a string"),
        ({"runs": [{"results": [{"suppressions": {}}]}]}, "runs[0].results[0].suppressions"),
    ],
)
def test_structural_errors(tmp_path: Path, log: Any, where: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        _parse(tmp_path, {"version": "2.1.0", **log})
    assert caught.value.file == "log.sarif"
    assert where in str(caught.value)


def test_pathological_messages_are_read_in_linear_time(tmp_path: Path) -> None:
    texts = [
        "Package:" + " " * 200_000 + "x",
        "\n" * 200_000 + "Version",
        "Vulnerability " + "\t" * 200_000,
        "{0}" * 50_000,
    ]
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "t",
                        "rules": [{"id": "r", "properties": {"security-severity": "5"}}],
                    }
                },
                "results": [
                    {"ruleId": "r", "message": {"text": t, "arguments": [{"deep": [[[]]]}]}}
                    for t in texts
                ],
            }
        ],
    }
    started = time.monotonic()
    items = _parse(tmp_path, log, "sarif-vulnerabilities")["vulnerabilities"]
    assert time.monotonic() - started < 2.0
    assert [v["package"] for v in items] == ["x", None, None, None]
    # A non-string argument leaves its placeholder as written.
    assert _parse(tmp_path, log)["findings"][3]["message"] == "{0}" * 50_000


def test_not_claimed_without_sarif_markers(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"runs": [], "name": "a build log"}', encoding="utf-8")
    assert claimed(path) == ["json"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("report.sarif", '{"runs": []}', "version is missing"),
        ("report.sarif", "[]", "the top level is a list"),
        ("report.sarif", "", "empty file"),
        ("report.sarif", '{"version": "2.1.0", "runs": [', "truncated JSON"),
        ("report.json", '{"version": "2.0.0", "runs": []}', "version is '2.0.0'"),
        ("report.json", '{"runs": [{"tool": {"driver": {"name": "x"}}}]}', "version is missing"),
        ("report.json", '{"$schema": "https://json.schemastore.org/sarif-2.1.0.json"}', "version"),
        ("report.json", '{"version": "2.1.0", "runs": [{"results": [], ' * 1, "truncated"),
    ],
)
def test_what_looks_like_sarif_is_claimed_and_refused(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    """A file that looks like SARIF but is not a readable SARIF 2.1.0 log is claimed, so that
    the policies on findings end in error naming it, never read as a raw JSON file."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert claimed(path)[0] == "sarif"
    fmt = get_format("sarif")
    assert fmt is not None
    with pytest.raises(ArtifactError) as caught:
        fmt.parse(Source(path, name))
    assert caught.value.file == name
    assert problem in str(caught.value)


_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=mutated_bytes(CODEQL))
def test_mutated_codeql_log_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.sarif"
    path.write_bytes(data)
    read_hostile(path, BOTH)


@_SETTINGS
@given(data=mutated_bytes(TRIVY))
def test_mutated_trivy_log_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.sarif"
    path.write_bytes(data)
    read_hostile(path, BOTH)


@_SETTINGS
@given(data=mutated_bytes(GITLEAKS))
def test_mutated_gitleaks_log_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.sarif"
    path.write_bytes(data)
    read_hostile(path, BOTH)


@_SETTINGS
@given(
    data=prefixed_bytes(
        b'{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [',
        b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"rules": [{"properties": '
        b'{"security-severity": ',
    )
)
def test_garbage_after_a_sarif_start_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.sarif"
    path.write_bytes(data)
    read_hostile(path, BOTH)


def _ruff_like(uri: str) -> dict[str, Any]:
    return {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "ruff"}},
                "results": [
                    {
                        "ruleId": "F401",
                        "level": "error",
                        "message": {"text": "unused import"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": uri},
                                    "region": {"startLine": 1},
                                }
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_absolute_file_uris_below_the_working_directory_become_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ruff writes absolute file:// URIs: two checkouts of one project in different folders
    (two runners, two executors) must give the same file, hence the same fingerprint."""
    files = []
    for checkout in ("runner-a/app", "runner-b/my app"):
        root = tmp_path / checkout
        (root / "src").mkdir(parents=True)
        monkeypatch.chdir(root)
        uri = (root / "src" / "core.py").as_uri()  # percent-encodes the space
        files.append(_parse(root, _ruff_like(uri))["findings"][0]["file"])
    assert files == ["src/core.py", "src/core.py"]


@pytest.mark.parametrize(
    "uri",
    [
        "file:///elsewhere/src/core.py",  # not below the working directory
        "file://buildhost/work/src/core.py",  # another host's file
        "src/core.py",  # already relative
        "https://example.com/src/core.py",
    ],
)
def test_other_uris_are_kept_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _parse(tmp_path, _ruff_like(uri))["findings"][0]["file"] == uri


def test_the_working_directory_through_a_link_is_recognised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    (real / "src").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path / "link")
    uri = (real / "src" / "core.py").as_uri()
    assert _parse(tmp_path, _ruff_like(uri))["findings"][0]["file"] == "src/core.py"
