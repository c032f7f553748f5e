"""The terminal report: 80 columns, no colour unless asked, every fact a reader needs."""

from __future__ import annotations

import re

import pytest
from report_factory import (
    HOSTILE,
    columns,
    make_policy,
    make_report,
    make_result,
    make_violation,
    mixed_report,
)

from compliancegate.model import CheckReport, Decision, Status
from compliancegate.reporters._common import wrap
from compliancegate.reporters.text import TextReporter

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_ID = "policy-" + "x" * 120
LONG_MESSAGE = " ".join(["lorem", "ipsum-dolor-sit-amet", "a" * 150, "宽字符" * 30, "😀" * 50] * 3)


def long_report() -> CheckReport:
    policy = make_policy(LONG_ID, title="T" * 100 + " " + "title " * 20)
    violation = make_violation(
        policy, message=LONG_MESSAGE, remediation=LONG_MESSAGE, file="d/" * 60 + "f.json"
    )
    result = make_result(policy, Status.FAIL, [violation], blocking=True, error=LONG_MESSAGE)
    return make_report(
        [result, *mixed_report(HOSTILE).results],
        run_id="run-" + "9" * 100,
        environment="env-" + "e" * 100,
    )


@pytest.mark.parametrize("report", [mixed_report(), mixed_report(HOSTILE), long_report()])
@pytest.mark.parametrize("color", [False, True])
def test_no_line_exceeds_80_columns(report: CheckReport, color: bool) -> None:
    out = TextReporter().render(report, color=color)
    for line in out.splitlines():
        assert columns(ANSI.sub("", line)) <= 80, line


def test_long_ids_are_truncated_in_the_table_and_given_in_full_in_details() -> None:
    out = TextReporter().render(long_report())
    rows = [line for line in out.splitlines() if line.startswith("FAIL    critical")]
    assert rows[0].endswith("…")
    joined = "".join(line.strip() for line in out.splitlines())
    assert LONG_ID in joined


def test_a_long_url_is_kept_whole() -> None:
    url = "https://example.com/advisories/" + "a" * 100
    lines = wrap(f"see {url} now", 80, "  ", "  ")
    assert lines == ["  see", f"  {url}", "  now"]


def test_no_escape_sequences_without_colour() -> None:
    out = TextReporter().render(mixed_report(HOSTILE), color=False)
    assert "\x1b" not in out
    assert "\x9b" not in out
    assert all(ch == "\n" or ch >= " " for ch in out)


def test_colour_when_asked_but_hostile_escapes_still_neutralized() -> None:
    out = TextReporter().render(mixed_report(HOSTILE), color=True)
    assert "\x1b[1;31mBLOCKED\x1b[0m" in out
    assert "\x1b[31mred" not in out
    # Only our own SGR sequences remain.
    assert ANSI.sub("", out).count("\x1b") == 0


def test_github_workflow_commands_are_defused() -> None:
    out = TextReporter().render(mixed_report(HOSTILE))
    assert "##[" not in out
    for line in out.splitlines():
        assert not line.lstrip().startswith("::")


def test_bidi_overrides_are_neutralized() -> None:
    out = TextReporter().render(mixed_report(HOSTILE))
    assert "\u202e" not in out


def test_header_summary_and_decision(report: CheckReport) -> None:
    out = TextReporter().render(report)
    flat = " ".join(out.split())
    assert flat.startswith(
        "compliancegate: BLOCKED environment: staging, fail-on: low, run: run-2026-10-02-0001"
    )
    assert (
        "6 policies: 1 passed, 2 failed, 1 error, 1 waived, 1 not applicable;"
        " 5 violations, 2 waived" in flat
    )
    assert flat.endswith(
        "BLOCKED: blocked by 1 policy failing at or above low: no-critical-vulnerabilities"
    )


def test_one_table_row_per_policy(report: CheckReport) -> None:
    lines = TextReporter().render(report).splitlines()
    start = lines.index("STATUS  SEVERITY  ENFORCE  VIOL  POLICY")
    rows = lines[start + 1 : start + 1 + len(report.results)]
    assert [row.split()[0] for row in rows] == ["FAIL", "FAIL", "ERROR", "N/A", "WAIVED", "PASS"]
    assert rows[0].split() == ["FAIL", "critical", "block", "3", "no-critical-vulnerabilities"]


def test_violation_details(report: CheckReport) -> None:
    out = TextReporter().render(report)
    assert "  1. CVE-2026-0001 (critical) in openssl\n     at reports/trivy.json:42\n" in out
    assert "     fix: Upgrade openssl\n" in out
    assert "  controls: nist-800-53-r5:SI-2, nist-800-53-r5:RA-5\n" in out
    flat = " ".join(out.split())
    assert "waived by W-7 until 2026-12-31 (approved by ciso@acme.example: vendor fix due)" in flat
    assert "moderate, warn; warn: does not block" in flat
    assert "error: cannot read junit.xml" in flat
    assert "expired-waiver: waiver W-1 expired on 2026-09-30 (waivers.yaml:9)" in flat
    assert "Coverage: 3 of 4 controls implemented; 1 gap" in flat


def test_passing_policies_have_no_details(report: CheckReport) -> None:
    out = TextReporter().render(report)
    assert "PASS coverage-80" not in out
    assert "N/A prod-provenance" not in out


def test_many_violations_are_capped_and_counted() -> None:
    policy = make_policy()
    violations = [make_violation(policy, n) for n in range(1, 8)]
    report = make_report([make_result(policy, Status.FAIL, violations, blocking=True)])
    out = TextReporter(max_violations=5).render(report)
    assert "  5. CVE-2026-0005" in out
    assert "CVE-2026-0006" not in out
    assert "... and 2 more violations; see --format json for all" in out


def test_compliant_decision_mentions_non_blocking_failures() -> None:
    report = mixed_report()
    results = [r for r in report.results if not r.blocking]
    out = TextReporter().render(make_report(results))
    flat = " ".join(out.split())
    # The warn failure and the warn error.
    assert "COMPLIANT: no block policy failed at or above low (2 non-blocking failures" in flat


def test_error_decision_names_the_blocking_errored_policies(report: CheckReport) -> None:
    policy = make_policy("evidence-readable")
    errored = make_result(policy, Status.ERROR, error="bad xml", blocking=True)
    sample = make_report([*report.results, errored])
    assert sample.decision is Decision.ERROR
    flat = " ".join(TextReporter().render(sample).split())
    # tests-pass errored too, but as a warn policy it did not decide the run.
    assert flat.endswith(
        "ERROR: the gate could not complete the evaluation, so it fails closed: evidence-readable"
    )


def test_empty_report() -> None:
    out = TextReporter().render(make_report([]))
    assert "No policies were evaluated." in out
    assert "0 policies:" in out
