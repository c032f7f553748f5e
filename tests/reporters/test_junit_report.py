"""JUnit XML: valid against Jenkins xUnit's junit-10.xsd, one suite per standard, statuses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from report_factory import (
    HOSTILE,
    make_policy,
    make_report,
    make_result,
    make_violation,
    make_waiver,
    mixed_report,
)

from compliancegate.model import CheckReport, Enforcement, Severity, Status
from compliancegate.reporters.junit import JUnitReporter, xml_text


def render(report: CheckReport, xsd: Any) -> ET.Element:
    """Render, validate against the XSD, parse."""
    out = JUnitReporter().render(report)
    xsd.validate(out)
    return ET.fromstring(out)


def case(root: ET.Element, suite: str, name: str) -> ET.Element:
    found = root.findall(f"./testsuite[@name='{suite}']/testcase[@name='{name}']")
    assert len(found) == 1, f"{suite}/{name}: {len(found)} testcases"
    return found[0]


def test_the_fixture_xsd_rejects_what_junit_xml_writes_unmodified(junit_xsd: Any) -> None:
    """Guards the post-processing: junit-xml's own ``disabled`` attribute is invalid."""
    out = JUnitReporter().render(mixed_report())
    assert junit_xsd.is_valid(out)
    assert not junit_xsd.is_valid(out.replace("<testsuite ", '<testsuite disabled="0" ', 1))


@pytest.mark.parametrize("message", [None, HOSTILE])
def test_mixed_report_validates(message: str | None, junit_xsd: Any) -> None:
    render(mixed_report(message), junit_xsd)


@pytest.mark.parametrize(
    "status", [Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE, Status.WAIVED]
)
def test_each_status_alone_validates(status: Status, junit_xsd: Any) -> None:
    policy = make_policy()
    violations = []
    if status is Status.FAIL:
        violations = [make_violation(policy)]
    elif status is Status.WAIVED:
        violations = [make_violation(policy, waiver=make_waiver(policy))]
    error = "boom" if status is Status.ERROR else None
    root = render(make_report([make_result(policy, status, violations, error=error)]), junit_xsd)
    testcase = case(root, "nist-800-53-r5", policy.id)
    tags = {child.tag for child in testcase} - {"system-out"}
    expected = {
        Status.PASS: set(),
        Status.FAIL: {"failure"},
        Status.ERROR: {"error"},
        Status.NOT_APPLICABLE: {"skipped"},
        Status.WAIVED: set(),
    }[status]
    assert tags == expected


def test_empty_report_validates(junit_xsd: Any) -> None:
    root = render(make_report([]), junit_xsd)
    assert root.tag == "testsuites"
    assert root.get("tests") == "0"


def test_one_suite_per_standard_and_file_stem_for_no_controls(
    report: CheckReport, junit_xsd: Any
) -> None:
    root = render(report, junit_xsd)
    suites = [s.get("name") for s in root.findall("testsuite")]
    # sorted; sbom-licenses (two standards) is in both; prod-provenance and coverage-80 have
    # no controls and go to their files' stems.
    assert suites == ["iso-27001", "nist-800-53-r5", "provenance", "slsa", "vulnerabilities"]
    case(root, "iso-27001", "sbom-licenses")
    case(root, "nist-800-53-r5", "sbom-licenses")
    case(root, "provenance", "prod-provenance")
    case(root, "vulnerabilities", "coverage-80")
    for suite in root.findall("testsuite"):
        for testcase in suite.findall("testcase"):
            assert testcase.get("classname") == suite.get("name")


def test_suite_and_total_counts(report: CheckReport, junit_xsd: Any) -> None:
    root = render(report, junit_xsd)
    nist = root.find("./testsuite[@name='nist-800-53-r5']")
    assert nist is not None
    assert (nist.get("tests"), nist.get("failures"), nist.get("errors")) == ("3", "2", "1")
    # sbom-licenses counts once per suite it appears in.
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "3", "1")


def test_failure_carries_count_first_message_and_every_violation(
    report: CheckReport, junit_xsd: Any
) -> None:
    root = render(report, junit_xsd)
    failure = case(root, "nist-800-53-r5", "no-critical-vulnerabilities").find("failure")
    assert failure is not None
    # Two open violations; the waived third is not counted as a failure.
    assert failure.get("message") == "2 violations: CVE-2026-0001 (critical) in openssl"
    text = failure.text or ""
    assert "1. CVE-2026-0001" in text
    assert "2. CVE-2026-0002" in text
    assert "at reports/trivy.json:42" in text
    assert "remediation: Upgrade openssl" in text
    assert "CVE-2026-0003" not in text


def test_warn_failure_says_it_does_not_block(report: CheckReport, junit_xsd: Any) -> None:
    root = render(report, junit_xsd)
    failure = case(root, "iso-27001", "sbom-licenses").find("failure")
    assert failure is not None
    assert (failure.get("message") or "").endswith("(warn: does not block)")


def test_block_failure_below_fail_on_says_so(junit_xsd: Any) -> None:
    policy = make_policy(severity=Severity.LOW, enforcement=Enforcement.BLOCK)
    result = make_result(policy, Status.FAIL, [make_violation(policy)], blocking=False)
    root = render(make_report([result], fail_on=Severity.HIGH), junit_xsd)
    failure = case(root, "nist-800-53-r5", policy.id).find("failure")
    assert failure is not None
    assert "severity low is below fail-on high: does not block" in (failure.get("message") or "")


def test_error_skipped_and_waived(report: CheckReport, junit_xsd: Any) -> None:
    root = render(report, junit_xsd)
    error = case(root, "nist-800-53-r5", "tests-pass").find("error")
    assert error is not None
    # The errored policy is a warn policy: its error says it did not block.
    assert error.get("message") == "cannot read junit.xml (warn: does not block)"
    skipped = case(root, "provenance", "prod-provenance").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "not evaluated in environment staging: applies to production"
    waived = case(root, "slsa", "signed-commits")
    assert waived.find("failure") is None
    out = waived.findtext("system-out") or ""
    assert "waived violations (1):" in out
    assert "waived by W-7 until 2026-12-31" in out


def test_hostile_text_is_escaped_and_round_trips(junit_xsd: Any) -> None:
    out = JUnitReporter().render(mixed_report(HOSTILE))
    assert "<script>" not in out
    assert "]]>" not in out
    assert "##[" not in out
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    for line in out.splitlines():
        assert not line.lstrip().startswith("::")
    junit_xsd.validate(out)
    root = ET.fromstring(out)
    failure = case(root, "nist-800-53-r5", "no-critical-vulnerabilities").find("failure")
    assert failure is not None
    expected = xml_text(HOSTILE).replace("\n", "\n   ")
    assert f"1. {expected}\n" in (failure.text or "")
    assert "😀" in (failure.get("message") or "")


def test_xml_text_replaces_only_what_xml_cannot_carry() -> None:
    assert xml_text("a\x00b\x1fc\ufffed\ud800e") == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert xml_text("tab\tlf\ncr\r\ncr\r") == "tab\tlf\ncr\ncr\n"
    assert xml_text("é 😀 \x85 \u202e") == "é 😀 \x85 \u202e"
