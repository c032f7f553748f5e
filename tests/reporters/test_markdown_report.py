"""Markdown for $GITHUB_STEP_SUMMARY: inert hostile text, a table, details, under 1 MiB."""

from __future__ import annotations

import re

from report_factory import (
    HOSTILE,
    make_policy,
    make_report,
    make_result,
    make_violation,
    mixed_report,
)

from compliancegate.model import CheckReport, Decision, Status
from compliancegate.reporters.markdown import MAX_BYTES, MarkdownReporter, escape

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def table_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("| ")]


def test_heading_badge_follows_the_decision(report: CheckReport) -> None:
    first = MarkdownReporter().render(report).splitlines()[0]
    assert first == "## ⛔ compliancegate: release blocked"
    compliant = make_report([], decision=Decision.COMPLIANT)
    assert MarkdownReporter().render(compliant).startswith("## ✅ ")
    error = make_report([], decision=Decision.ERROR)
    assert MarkdownReporter().render(error).startswith("## ⚠️ ")


def test_table_has_one_row_per_policy_with_six_cells(report: CheckReport) -> None:
    rows = table_rows(MarkdownReporter().render(mixed_report(HOSTILE)))
    assert len(rows) == 1 + len(report.results)  # header + rows
    for row in rows:
        assert len(UNESCAPED_PIPE.findall(row)) == 7, row


def test_hostile_pipes_cannot_add_table_cells() -> None:
    policy = make_policy("a|b", title="x | y | z")
    out = MarkdownReporter().render(make_report([make_result(policy, Status.PASS)]))
    row = table_rows(out)[-1]
    assert len(UNESCAPED_PIPE.findall(row)) == 7
    assert "a\\|b" in row and "x \\| y \\| z" in row


def test_html_and_markdown_in_messages_are_inert() -> None:
    out = MarkdownReporter().render(mixed_report(HOSTILE))
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "[link](" not in out
    assert "\\[link\\](https://evil.example)" in out
    assert "**bold**" not in out
    assert "`code`" not in out
    assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out
    # The only raw HTML is our own.
    tags = set(re.findall(r"</?([a-zA-Z]+)", out))
    assert tags <= {"details", "summary"}


def test_hostile_text_never_starts_a_line() -> None:
    out = MarkdownReporter().render(mixed_report(HOSTILE))
    for line in out.splitlines():
        assert not line.startswith(("line2", "::", "#[", "\\#"))


def test_summary_element_is_html_escaped() -> None:
    policy = make_policy(title="<img src=x onerror=alert(1)>")
    result = make_result(policy, Status.FAIL, [make_violation(policy)], blocking=True)
    out = MarkdownReporter().render(make_report([result]))
    summary = next(line for line in out.splitlines() if line.startswith("<summary>"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in summary


def test_escape() -> None:
    assert escape("a|b") == "a\\|b"
    assert escape("<b>&") == "&lt;b&gt;&amp;"
    assert escape("*x* _y_ [z](u) `c` ~s~ $m$ @o #1 \\") == (
        "\\*x\\* \\_y\\_ \\[z\\](u) \\`c\\` \\~s\\~ \\$m\\$ \\@o \\#1 \\\\"
    )
    assert escape("two\nlines") == "two lines"


def test_details_violations_notices_and_coverage(report: CheckReport) -> None:
    out = MarkdownReporter().render(report)
    assert out.count("<details>") == out.count("</details>") == 5  # 4 problems + gaps
    assert "1. CVE-2026-0001 (critical) in openssl\n   - at reports/trivy.json:42" in out
    assert "**waived** by W-7 until 2026-12-31" in out
    assert "(1 violation; warn: does not block)" in out
    assert "**Blocked by:** no-critical-vulnerabilities\n" in out
    assert "- **expired-waiver:** waiver W-1 expired on 2026-09-30 (waivers.yaml:9)" in out
    assert "- nist:AC-2" in out


def huge_report(violations: int, size: int = 200) -> CheckReport:
    policy = make_policy()
    many = [make_violation(policy, n, message=f"{n} " + "m" * size) for n in range(violations)]
    other = make_policy("second-policy")
    results = [
        make_result(policy, Status.FAIL, many, blocking=True),
        make_result(other, Status.FAIL, many[:10], blocking=True),
    ]
    return make_report(results)


def test_output_stays_under_the_default_limit() -> None:
    out = MarkdownReporter().render(huge_report(6000))
    assert len(out.encode("utf-8")) <= MAX_BYTES
    assert "more violations not shown: the summary is limited to 1 MiB" in out
    assert "Details of 1 more policy not shown" in out
    assert out.count("<details>") == out.count("</details>")


def test_output_stays_under_a_small_limit() -> None:
    limit = 50_000
    out = MarkdownReporter(max_bytes=limit).render(huge_report(1000, size=3000))
    assert len(out.encode("utf-8")) <= limit
    assert "not shown" in out


def test_small_reports_are_not_truncated(report: CheckReport) -> None:
    assert "not shown" not in MarkdownReporter().render(report)


def test_error_decision_names_the_blocking_errored_policies(report: CheckReport) -> None:
    policy = make_policy("evidence-readable")
    errored = make_result(policy, Status.ERROR, error="bad xml", blocking=True)
    out = MarkdownReporter().render(make_report([*report.results, errored]))
    assert out.startswith("## ⚠️ compliancegate: error, evaluation incomplete\n")
    assert "fails closed.** Errors in: evidence-readable\n" in out
