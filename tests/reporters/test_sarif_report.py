"""SARIF 2.1.0: valid against the OASIS schema, complete for GitHub code scanning, within its
upload limits, for factory reports and for real ``check`` runs of several policy sets."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
from report_factory import (
    FIXTURES,
    HOSTILE,
    make_policy,
    make_report,
    make_result,
    make_violation,
    make_waiver,
    mixed_report,
)

from compliancegate.model import CheckReport, Enforcement, Location, Notice, Severity, Status
from compliancegate.reporters.sarif import (
    FINGERPRINT_KEY,
    LINE_HASH_KEY,
    MAX_GZIP_BYTES,
    MAX_RESULTS,
    SECURITY_SEVERITY,
    SarifReporter,
    artifact_location,
    compressed_size,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((FIXTURES / "schemas" / "sarif-schema-2.1.0.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
NOW = "2026-11-21T12:00:00Z"

# RFC 3986 URI-reference characters: unreserved, reserved and percent escapes only.
_URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$")


def render(report: CheckReport, **options: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter(**options).render(report))
    return document


def assert_valid(document: dict[str, Any]) -> None:
    """The OASIS schema, plus the formats its draft-04 validator does not check here."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]
    assert errors == []
    run = document["runs"][0]
    for result in run["results"]:
        for location in result["locations"]:
            uri = location["physicalLocation"]["artifactLocation"]["uri"]
            assert _URI_CHARS.match(uri), uri
    assert _DATE_TIME.match(run["invocations"][0]["startTimeUtc"])


def assert_github_ready(document: dict[str, Any]) -> None:
    """What GitHub code scanning needs per rule and per result (its "SARIF support" page):
    required properties present and non-empty, within its length and count limits."""
    assert document["version"] == "2.1.0"
    assert len(document["runs"]) == 1
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "compliancegate"
    assert driver["version"]
    rules = driver["rules"]
    assert len(rules) <= 25_000
    assert len(run["results"]) <= 25_000
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for rule in rules:
        assert rule["id"]
        assert 0 < len(rule["name"]) <= 255
        assert 0 < len(rule["shortDescription"]["text"]) <= 1024
        assert 0 < len(rule["fullDescription"]["text"]) <= 1024
        assert rule["help"]["text"].strip()
        assert rule["help"]["markdown"].strip()
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
        properties = rule["properties"]
        tags = properties["tags"]
        assert 0 < len(tags) <= 10, "GitHub shows only 10 tags per rule"
        assert "security" in tags, "security-severity is used for security rules only"
        assert "compliance" in tags
        score = float(properties["security-severity"])
        assert 0.0 < score <= 10.0
        assert properties["precision"] in ("very-high", "high", "medium", "low")
        assert properties["problem.severity"] in ("error", "warning", "recommendation")
    for result in run["results"]:
        assert result["ruleId"] in ids
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("note", "warning", "error")
        assert result["message"]["text"].strip()
        [location] = result["locations"]  # GitHub uses only the first; one is enough
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert uri
        if "uriBaseId" in physical["artifactLocation"]:
            assert not uri.startswith("/") and urlsplit(uri).scheme == ""
        else:
            assert urlsplit(uri).scheme, uri
        if "region" in physical:
            assert physical["region"]["startLine"] >= 1
        fingerprints = result["partialFingerprints"]
        assert fingerprints[LINE_HASH_KEY]
        assert fingerprints[FINGERPRINT_KEY] == fingerprints[LINE_HASH_KEY]
    category, _, run_id = run["automationDetails"]["id"].rpartition("/")
    assert category.startswith("compliancegate")
    assert run_id


def results_by_rule(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in document["runs"][0]["results"]:
        grouped.setdefault(result["ruleId"], []).append(result)
    return grouped


# --------------------------------------------------------------------------- factory reports


@pytest.mark.parametrize(
    "sample",
    [mixed_report(), mixed_report(HOSTILE), make_report([])],
    ids=["mixed", "hostile", "empty"],
)
def test_factory_reports_are_valid_and_github_ready(sample: CheckReport) -> None:
    document = render(sample)
    assert_valid(document)
    assert_github_ready(document)


def test_validator_is_not_vacuous() -> None:
    document = render(mixed_report())
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert list(VALIDATOR.iter_errors(document))


def test_one_rule_per_policy_with_descriptions_help_and_tags(report: CheckReport) -> None:
    document = render(report)
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.policy.id for r in report.results]
    rule = rules[0]
    assert rule["name"] == "NoCriticalVulnerabilities"
    assert rule["shortDescription"]["text"] == "No known critical vulnerability ships"
    # No description: the title stands in, as GitHub rejects an empty string.
    assert rule["fullDescription"]["text"] == "No known critical vulnerability ships"
    assert rule["properties"]["tags"] == [
        "security",
        "compliance",
        "nist-800-53-r5:SI-2",
        "nist-800-53-r5:RA-5",
    ]
    assert "nist-800-53-r5:SI-2, nist-800-53-r5:RA-5" in rule["help"]["text"]
    assert "policies/vulnerabilities.yaml:3" in rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert levels["sbom-licenses"] == "warning"


def test_help_carries_description_and_remediation_template() -> None:
    from compliancegate.engine.templates import compile_template

    policy = make_policy("tls", title="TLS 1.2+")
    policy = type(policy)(
        **{
            **policy.__dict__,
            "description": "First paragraph.\n\nSecond *paragraph*.",
            "remediation": compile_template("Set tls.min_version on {item.name}"),
        }
    )
    document = render(make_report([make_result(policy, Status.PASS)]))
    rule = document["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["fullDescription"]["text"] == "First paragraph. Second *paragraph*."
    assert "Remediation: Set tls.min_version on {item.name}" in rule["help"]["text"]
    markdown = rule["help"]["markdown"]
    assert "First paragraph.\n\nSecond \\*paragraph\\*." in markdown
    assert "tls.min\\_version" in markdown


@pytest.mark.parametrize(
    ("severity", "low", "high"),
    [
        (Severity.CRITICAL, 9.0, 10.0),
        (Severity.HIGH, 7.0, 8.9),
        (Severity.MODERATE, 4.0, 6.9),
        (Severity.LOW, 0.1, 3.9),
    ],
)
def test_security_severity_falls_in_githubs_band(
    severity: Severity, low: float, high: float
) -> None:
    """GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low."""
    score = float(SECURITY_SEVERITY[severity])
    assert low < score <= high if severity is Severity.CRITICAL else low <= score <= high
    policy = make_policy(severity=severity)
    document = render(make_report([make_result(policy, Status.PASS)]))
    rule = document["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[severity]


def test_levels_follow_blocking_enforcement_and_waivers(report: CheckReport) -> None:
    grouped = results_by_rule(render(report))
    vulns = grouped["no-critical-vulnerabilities"]
    # Open blocking violations are errors; the waived one is a suppressed note.
    assert [r["level"] for r in vulns] == ["error", "error", "note"]
    assert grouped["sbom-licenses"][0]["level"] == "warning"  # warn policy
    assert grouped["signed-commits"][0]["level"] == "note"  # waived
    audit = make_policy("audited", enforcement=Enforcement.AUDIT)
    below = make_policy("below", severity=Severity.LOW)
    sample = make_report(
        [
            make_result(audit, Status.FAIL, [make_violation(audit)]),
            make_result(below, Status.FAIL, [make_violation(below)]),
        ],
        fail_on=Severity.HIGH,
    )
    grouped = results_by_rule(render(sample))
    assert grouped["audited"][0]["level"] == "note"
    assert grouped["below"][0]["level"] == "warning"


def test_result_carries_location_fingerprint_and_message(report: CheckReport) -> None:
    result = results_by_rule(render(report))["no-critical-vulnerabilities"][0]
    assert result["message"]["text"] == (
        "CVE-2026-0001 (critical) in openssl\nRemediation: Upgrade openssl"
    )
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "reports/trivy.json", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 42},
    }
    assert result["partialFingerprints"] == {
        FINGERPRINT_KEY: "sha256:no-critical-vulnerabilities:0001",
        LINE_HASH_KEY: "sha256:no-critical-vulnerabilities:0001",
    }
    second = results_by_rule(render(report))["no-critical-vulnerabilities"][1]
    assert "region" not in second["locations"][0]["physicalLocation"]  # no line known


def test_missing_evidence_is_located_at_the_policy(report: CheckReport) -> None:
    """GitHub shows only results with a location; a violation without a file points at the
    policy that requires the evidence, and says so."""
    [result] = results_by_rule(render(report))["sbom-licenses"]
    location = result["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "policies/sbom.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3},
    }
    assert "missing evidence" in location["message"]["text"]
    assert result["properties"]["compliancegate"]["locationIsPolicy"] is True


def test_waived_violation_is_suppressed_with_the_waiver(report: CheckReport) -> None:
    [result] = results_by_rule(render(report))["signed-commits"]
    assert result["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "migration to sigstore in progress",
            "properties": {
                "compliancegate": {
                    "waiver": "W-7",
                    "approvedBy": "ciso@acme.example",
                    "expires": "2026-12-31",
                    "file": "waivers.yaml",
                    "line": 4,
                }
            },
        }
    ]
    assert result["message"]["text"].startswith("Waived by W-7 until 2026-12-31")
    open_results = results_by_rule(render(report))["no-critical-vulnerabilities"][:2]
    assert all("suppressions" not in r for r in open_results)


def test_errored_policy_is_a_result_and_an_execution_notification(report: CheckReport) -> None:
    document = render(report)
    [result] = results_by_rule(document)["tests-pass"]
    assert result["message"]["text"] == "The policy could not be evaluated: cannot read junit.xml"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "t.yaml"
    assert result["properties"]["compliancegate"]["evaluationError"] is True
    invocation = document["runs"][0]["invocations"][0]
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["associatedRule"]["id"] == "tests-pass"
    assert "cannot read junit.xml" in note["message"]["text"]


def test_run_facts_notices_and_automation_details(report: CheckReport) -> None:
    run = render(report)["runs"][0]
    assert run["automationDetails"]["id"] == "compliancegate/staging/run-2026-10-02-0001"
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["exitCode"] == 1
    assert invocation["startTimeUtc"] == "2026-10-02T09:30:15Z"
    notices = invocation["toolConfigurationNotifications"]
    assert [n["descriptor"]["id"] for n in notices] == ["expired-waiver", "coverage-gap"]
    assert notices[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    assert run["properties"]["compliancegate"] == {
        "runId": "run-2026-10-02-0001",
        "decision": "blocked",
        "environment": "staging",
        "failOn": "low",
        "clockOverride": None,
        "resultsTotal": 6,
        "resultsOmitted": 0,
        "truncated": False,
    }


def test_run_id_with_a_slash_keeps_the_category() -> None:
    sample = make_report([], run_id="org/repo/123", environment=None)
    assert render(sample)["runs"][0]["automationDetails"]["id"] == "compliancegate/org-repo-123"


def test_most_severe_results_come_first() -> None:
    low = make_policy("low-block", severity=Severity.LOW)
    warn = make_policy("warned", enforcement=Enforcement.WARN)
    critical = make_policy("critical-block")
    sample = make_report(
        [
            make_result(low, Status.FAIL, [make_violation(low)], blocking=True),
            make_result(warn, Status.FAIL, [make_violation(warn)]),
            make_result(critical, Status.FAIL, [make_violation(critical)], blocking=True),
        ]
    )
    results = render(sample)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["critical-block", "low-block", "warned"]


def test_embedded_links_from_artifacts_are_escaped() -> None:
    policy = make_policy()
    message = "see [the docs](https://evil.example) and [x](1)"
    sample = make_report(
        [make_result(policy, Status.FAIL, [make_violation(policy, message=message)])]
    )
    text = render(sample)["runs"][0]["results"][0]["message"]["text"]
    assert text.startswith("see \\[the docs\\](https://evil.example) and \\[x\\](1)")


# --------------------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("reports/trivy.json", {"uri": "reports/trivy.json", "uriBaseId": "%SRCROOT%"}),
        ("./a/b.yaml", {"uri": "a/b.yaml", "uriBaseId": "%SRCROOT%"}),
        ("a b/ü%#?.json", {"uri": "a%20b/%C3%BC%25%23%3F.json", "uriBaseId": "%SRCROOT%"}),
        ("c:x/y.json", {"uri": "c%3Ax/y.json", "uriBaseId": "%SRCROOT%"}),
        ("deploy\\app.yaml", {"uri": "deploy/app.yaml", "uriBaseId": "%SRCROOT%"}),
        ("/abs/dir/x.json", {"uri": "file:///abs/dir/x.json"}),
        ("C:\\work\\x y.json", {"uri": "file:///C:/work/x%20y.json"}),
        ("file:///src/a b.go", {"uri": "file:///src/a%20b.go"}),
    ],
)
def test_artifact_locations_are_uri_references(path: str, expected: dict[str, str]) -> None:
    location = artifact_location(path)
    assert location == expected
    assert _URI_CHARS.match(location["uri"])
    if "uriBaseId" in location:
        assert unquote(location["uri"]) == path.replace("\\", "/").removeprefix("./")


# --------------------------------------------------------------------------- limits


def _many(count: int, message: str = "x") -> CheckReport:
    critical = make_policy("critical-block")
    warn = make_policy("warned", enforcement=Enforcement.WARN, severity=Severity.LOW)
    half = count // 2
    return make_report(
        [
            make_result(
                warn, Status.FAIL, [make_violation(warn, i, message=message) for i in range(half)]
            ),
            make_result(
                critical,
                Status.FAIL,
                [make_violation(critical, i, message=message) for i in range(count - half)],
                blocking=True,
            ),
        ]
    )


def test_results_beyond_the_limit_are_left_out_least_severe_first() -> None:
    document = render(_many(12), max_results=5)
    assert_valid(document)
    run = document["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["critical-block"] * 5
    facts = run["properties"]["compliancegate"]
    assert (facts["truncated"], facts["resultsTotal"], facts["resultsOmitted"]) == (True, 12, 7)
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["descriptor"]["id"] == "truncated"
    assert "7 of the least severe results were left out" in note["message"]["text"]
    assert "at most 5 results per run" in note["message"]["text"]
    # Every policy keeps its rule, with or without results.
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"warned", "critical-block"}


def test_only_the_results_kept_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # A run with a million violations keeps at most MAX_RESULTS of them in the log; the
    # others are ordered and counted, never turned into SARIF objects.
    import compliancegate.reporters.sarif as sarif

    built: list[str] = []
    real = sarif._violation_body

    def spy(result: Any, violation: Any, level: str) -> Any:
        built.append(violation.fingerprint)
        return real(result, violation, level)

    monkeypatch.setattr(sarif, "_violation_body", spy)
    document = render(_many(40), max_results=5)
    assert len(document["runs"][0]["results"]) == 5
    assert len(built) == 5
    assert document["runs"][0]["properties"]["compliancegate"]["resultsOmitted"] == 35


def test_githubs_result_limit_is_the_default() -> None:
    document = render(_many(MAX_RESULTS + 10))
    run = document["runs"][0]
    assert len(run["results"]) == MAX_RESULTS == 25_000
    assert run["properties"]["compliancegate"]["resultsOmitted"] == 10
    assert_github_ready(document)


def _incompressible(count: int, chars: int) -> CheckReport:
    """Violations whose messages are random hex, which gzip halves at best."""
    rng = random.Random(7)
    policy = make_policy("critical-block")
    violations = [
        make_violation(policy, i, message=f"{rng.getrandbits(4 * chars):0{chars}x}")
        for i in range(count)
    ]
    return make_report([make_result(policy, Status.FAIL, violations, blocking=True)])


def test_output_is_cut_to_the_compressed_size_limit() -> None:
    text = SarifReporter(max_gzip_bytes=60_000).render(_incompressible(100, 2_000))
    assert compressed_size(text) <= 60_000
    assert len(gzip.compress(text.encode("utf-8"), compresslevel=6)) <= 60_000
    document = json.loads(text)
    assert_valid(document)
    run = document["runs"][0]
    facts = run["properties"]["compliancegate"]
    assert facts["truncated"] and 0 < len(run["results"]) < 100
    assert facts["resultsOmitted"] == 100 - len(run["results"])
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert "at most 60,000 bytes gzip-compressed" in note["message"]["text"]
    # Well-compressible output far above the limit uncompressed is not cut.
    text = SarifReporter(max_gzip_bytes=60_000).render(_many(300, message="m" * 1_000))
    assert len(text.encode("utf-8")) > 60_000
    assert json.loads(text)["runs"][0]["properties"]["compliancegate"]["truncated"] is False


def test_githubs_size_limit_is_the_default() -> None:
    """GitHub: 10 MB per gzip-compressed SARIF file."""
    assert MAX_GZIP_BYTES == 10_000_000
    assert SarifReporter().max_gzip_bytes == MAX_GZIP_BYTES


def test_compressed_size_bound_is_never_below_the_real_size() -> None:
    rng = random.Random(3)
    for text in ("", "a" * 100_000, f"{rng.getrandbits(400_000):x}"):
        exact = compressed_size(text)
        assert compressed_size(text, limit=10**9) >= exact
        assert compressed_size(text, limit=1) == exact


def test_rendering_is_deterministic(report: CheckReport) -> None:
    assert SarifReporter().render(report) == SarifReporter().render(report)


def test_information_uri_when_known(report: CheckReport) -> None:
    document = render(report, information_uri="https://example.org/compliancegate")
    assert document["runs"][0]["tool"]["driver"]["informationUri"] == (
        "https://example.org/compliancegate"
    )
    assert_valid(document)


def test_expired_waiver_notice_without_file_has_no_location() -> None:
    sample = make_report([], notices=[Notice("no-register", "no register given")])
    [note] = render(sample)["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert "locations" not in note


def test_waiver_reason_is_the_justification() -> None:
    policy = make_policy()
    waiver = make_waiver(policy, reason="compensating control: WAF rule 12")
    sample = make_report(
        [make_result(policy, Status.WAIVED, [make_violation(policy, waiver=waiver)])]
    )
    [result] = render(sample)["runs"][0]["results"]
    assert result["suppressions"][0]["justification"] == "compensating control: WAF rule 12"


# --------------------------------------------------------------------------- real runs


def _check(cwd: Path, *args: str, ledger: Path | None = None) -> tuple[int, dict[str, Any]]:
    # Production refuses COMPLIANCEGATE_NOW: a production run reads the real clock.
    now = "" if "production" in args else NOW
    env = {**os.environ, "COMPLIANCEGATE_NOW": now, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compliancegate",
            "check",
            *(["--ledger", str(ledger)] if ledger else ["--no-ledger"]),
            "--format",
            "sarif",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr.decode("utf-8", "replace")
    return done.returncode, json.loads(done.stdout)


TINY_POLICIES = """\
apiVersion: compliancegate/v1
kind: Policy
id: images-pinned
title: Container images are pinned
controls: []
severity: moderate
enforcement: block
input: yaml
rule:
  for_each: "spec.containers[]"
  assert: {not: {path: image, op: matches, value: ":latest$"}}
key: name
message: "container {item.name} uses {item.image}"
---
apiVersion: compliancegate/v1
kind: Policy
id: sbom-present
title: The release has an SBOM
controls: []
severity: low
enforcement: warn
input: {glob: "**/sbom.json"}
rule: {path: bomFormat, op: exists}
"""


@pytest.mark.parametrize(
    ("args", "cwd_relative"),
    [
        (("--config", "examples/compliancegate.yaml"), ""),
        (("--config", "examples/compliancegate.yaml", "--env", "production"), ""),
        (("--config", "examples/compliancegate.yaml", "--env", "staging"), ""),
        (("policies/tests/fixtures", "--policies", "policies", "--register", "registers"), ""),
    ],
    ids=["examples", "examples-production", "examples-staging", "starter-policies-on-fixtures"],
)
def test_real_runs_are_valid_and_github_ready(
    args: tuple[str, ...], cwd_relative: str, tmp_path: Path
) -> None:
    """``check --format sarif`` on the example release and on the starter policy library's
    real scanner fixtures (which carry their producers' own locations). A production
    release reads a ledger (break-fix findings): a fresh one here."""
    code, document = _check(REPO / cwd_relative, *args, ledger=tmp_path / "ledger")
    assert_valid(document)
    assert_github_ready(document)
    run = document["runs"][0]
    assert run["results"], "these runs have violations"
    assert run["invocations"][0]["exitCode"] == code
    for result in run["results"]:
        physical = result["locations"][0]["physicalLocation"]
        if result["properties"]["compliancegate"].get("locationIsPolicy"):
            uri = physical["artifactLocation"]["uri"]
            assert (REPO / unquote(uri)).is_file(), uri


def test_real_run_of_a_small_policy_set(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "gate.yaml").write_text(TINY_POLICIES, encoding="utf-8")
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "deploy.yaml").write_text(
        "spec:\n  containers:\n    - name: web\n      image: nginx:latest\n", encoding="utf-8"
    )
    code, document = _check(tmp_path, "release")
    assert code == 1
    assert_valid(document)
    assert_github_ready(document)
    grouped = results_by_rule(document)
    [pinned] = grouped["images-pinned"]
    assert pinned["level"] == "error"
    assert pinned["message"]["text"] == "container web uses nginx:latest"
    assert pinned["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "release/deploy.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3},
    }
    # Missing evidence, located at the policy that asks for it.
    [sbom] = grouped["sbom-present"]
    assert sbom["level"] == "warning"
    assert sbom["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "policies/gate.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 15},
    }
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    # A policy without controls still has the tags GitHub needs.
    assert rules["images-pinned"]["properties"]["tags"] == ["security", "compliance"]


@pytest.mark.parametrize(
    ("kind", "file"),
    [("git", "."), ("git", "release"), ("raw", "."), ("raw", "deploy/")],
)
def test_folder_and_repository_locations_move_to_the_policy(kind: str, file: str) -> None:
    """A git violation is about the repository (its location is the repository's folder),
    and a folder cannot be shown either: such results point at the policy."""
    policy = make_policy("signed", line=8)
    violation = dataclasses.replace(
        make_violation(policy), kind=kind, location=Location(file, None)
    )
    sample = make_report([make_result(policy, Status.FAIL, [violation], blocking=True)])
    document = render(sample)
    assert_github_ready(document)
    [result] = document["runs"][0]["results"]
    location = result["locations"][0]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "policies/vulnerabilities.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 8},
    }
    assert "repository or folder" in location["message"]["text"]
    assert result["properties"]["compliancegate"]["locationIsPolicy"] is True
