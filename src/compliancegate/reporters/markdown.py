"""Markdown for ``$GITHUB_STEP_SUMMARY``: decision, policy table, details, notices, coverage.

Messages come from artifacts the gate does not trust, so every piece of report text is put on
one line and escaped: HTML special characters become entities (no raw HTML reaches GitHub's
renderer) and the characters that start inline Markdown (links, images, emphasis, code, table
cells, math, mentions) are backslash-escaped. Hostile text never starts a line, so block-level
syntax (headings, lists, quotes) cannot be triggered by it.

GitHub rejects a step summary over 1 MiB; the output is kept under ``max_bytes`` by cutting the
per-policy details first (with a note saying how much was left out), then the table, notices
and coverage lists, each of which has its own share.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import partial

from compliancegate.model import CheckReport, Decision, PolicyResult, Status, Violation
from compliancegate.reporters._common import (
    blocking_results,
    is_problem,
    iso_utc,
    location_text,
    non_blocking_reason,
    one_line,
    place,
    plural,
    summarize,
    truncate,
)

MAX_BYTES = 1_000_000
"""Default size limit: GitHub allows 1 MiB (1,048,576 bytes) per step summary; the rest is
left for lines the action itself appends."""

_DECISION_HEADING = {
    Decision.COMPLIANT: "✅ compliancegate: compliant",
    Decision.BLOCKED: "⛔ compliancegate: release blocked",
    Decision.ERROR: "⚠️ compliancegate: error, evaluation incomplete",
}
_STATUS_BADGE = {
    Status.PASS: "✅ pass",
    Status.FAIL: "❌ fail",
    Status.ERROR: "⚠️ error",
    Status.NOT_APPLICABLE: "➖ n/a",
    Status.WAIVED: "🟡 waived",
}

# Inline Markdown syntax a message could otherwise use: code spans, emphasis, links/images,
# strikethrough, GFM table cells, math ($), mentions (@) and issue references (#).
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]|~$@#<>&]")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}

_CELL_CHARS = 200
_MESSAGE_CHARS = 2000
_NOTE_RESERVE = 512
"""Bytes kept back so a truncation note always fits."""
_TRUNCATED = "the summary is limited to 1 MiB; the JSON report has everything"


def escape(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """Untrusted text as one line of inert Markdown, cut to ``limit`` characters first."""
    flat = truncate(one_line(text), limit)
    return _MARKDOWN_SPECIAL.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), flat)


def _html(text: str, limit: int = _CELL_CHARS) -> str:
    """Untrusted text inside an HTML element (``<summary>``), where Markdown is not parsed."""
    return html.escape(truncate(one_line(text), limit), quote=True)


def _size(lines: list[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def _fit(
    count: int, item: Callable[[int], list[str]], budget: int, note: Callable[[int], str]
) -> list[str]:
    """Items ``item(0)``... while they fit in ``budget`` bytes, then a note on the rest.

    Items are rendered lazily, so a report with a hundred thousand violations costs only what
    is shown. A reserve is kept for the note, except for the last item, which may use it.
    """
    out: list[str] = []
    used = 0
    for index in range(count):
        lines = item(index)
        size = _size(lines)
        last = index == count - 1
        if used + size > budget - (0 if last else _NOTE_RESERVE):
            return [*out, note(count - index)]
        out += lines
        used += size
    return out


class MarkdownReporter:
    """``--format markdown``: a GitHub step summary."""

    name = "markdown"
    media_type = "text/markdown; charset=utf-8"
    suffix = ".md"

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        """``max_bytes``: the most UTF-8 bytes the output may take."""
        self.max_bytes = max_bytes

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The step summary; ``color`` is ignored."""
        head = self._head(report)
        table = self._table(report, self.max_bytes // 4)
        notices = self._notices(report, self.max_bytes // 8)
        coverage = self._coverage(report, self.max_bytes // 8)
        budget = self.max_bytes - _size(head + table + notices + coverage)
        details = self._details(report, budget)
        return "\n".join(head + table + details + notices + coverage) + "\n"

    # ----------------------------------------------------------------------- sections

    def _head(self, report: CheckReport) -> list[str]:
        s = summarize(report)
        run = [
            f"**Environment:** {escape(report.environment or '(none)', _CELL_CHARS)}",
            f"**Fail on:** {report.fail_on}",
            f"**Run:** {escape(report.run_id, _CELL_CHARS)}",
            f"**Started:** {iso_utc(report.started_at)}",
            f"**Version:** {escape(report.tool_version, _CELL_CHARS)}",
        ]
        if report.clock_override is not None:
            run.append(
                f"**Clock:** replaced by `COMPLIANCEGATE_NOW` "
                f"(system clock {iso_utc(report.clock_override.wall_clock)})"
            )
        counts = (
            f"**{plural(s.policies, 'policy', 'policies')}:** {s.passed} passed, {s.failed}"
            f" failed, {plural(s.errors, 'error')}, {s.waived} waived, {s.not_applicable} not"
            f" applicable · **{plural(s.violations, 'violation')}**, {s.waived_violations} waived"
        )
        return [
            f"## {_DECISION_HEADING[report.decision]}",
            "",
            " · ".join(run),
            "",
            counts,
            "",
            self._reason(report),
            "",
        ]

    def _reason(self, report: CheckReport) -> str:
        if report.decision is Decision.BLOCKED:
            ids = [escape(r.policy.id, _CELL_CHARS) for r in blocking_results(report)]
            return f"**Blocked by:** {', '.join(ids) or 'see the failed policies below'}"
        if report.decision is Decision.ERROR:
            # The errors that decided it: blocking ones (the engine's rule), else any.
            failed = [r for r in report.results if r.status is Status.ERROR]
            failed = [r for r in failed if r.blocking] or failed
            errored = [escape(r.policy.id, _CELL_CHARS) for r in failed]
            text = "**The gate could not complete the evaluation, so it fails closed.**"
            return text + (f" Errors in: {', '.join(errored)}" if errored else "")
        text = f"No block policy failed at or above **{report.fail_on}**."
        warned = sum(1 for r in report.results if non_blocking_reason(r, report))
        return text + (f" {plural(warned, 'non-blocking failure')} listed below." if warned else "")

    def _table(self, report: CheckReport, budget: int) -> list[str]:
        if not report.results:
            return ["_No policies were evaluated._", ""]
        rows: list[list[str]] = []
        for result in report.results:
            policy = result.policy
            waived = sum(1 for v in result.violations if v.waived)
            count = str(len(result.violations)) + (f" ({waived} waived)" if waived else "")
            cells = [
                _STATUS_BADGE[result.status],
                str(policy.severity),
                str(policy.enforcement),
                escape(policy.id, _CELL_CHARS),
                escape(policy.title, _CELL_CHARS),
                count,
            ]
            rows.append(["| " + " | ".join(cells) + " |"])
        header = [
            "| Status | Severity | Enforcement | Policy | Title | Violations |",
            "|---|---|---|---|---|---|",
        ]
        body = _fit(
            len(rows),
            rows.__getitem__,
            budget - _size(header),
            lambda n: f"\n_{plural(n, 'more policy', 'more policies')} not shown: {_TRUNCATED}._",
        )
        return [*header, *body, ""]

    def _details(self, report: CheckReport, budget: int) -> list[str]:
        problems = [r for r in report.results if is_problem(r)]
        heading = ["### Details", ""]
        budget -= _size(heading)
        out: list[str] = []
        for index, result in enumerate(problems):
            head, violations, foot = self._policy_details(result, report)
            # Keep one reserve for the "more policies" note (this policy's own note has its
            # reserve inside _fit), and a byte for the blank line closing the list.
            room = budget - _size(out) - _size(head + foot) - _NOTE_RESERVE - 1
            if room < _NOTE_RESERVE:
                left = plural(len(problems) - index, "more policy", "more policies")
                out += [f"_Details of {left} not shown: {_TRUNCATED}._", ""]
                break
            body = _fit(
                len(violations),
                partial(self._violation_at, violations, result.policy.controls),
                room,
                lambda n: f"\n_{plural(n, 'more violation')} not shown: {_TRUNCATED}._",
            )
            out += head + body + ([""] if body else []) + foot
        return [*heading, *out] if out else []

    def _policy_details(
        self, result: PolicyResult, report: CheckReport
    ) -> tuple[list[str], tuple[Violation, ...], list[str]]:
        policy = result.policy
        effect = "blocks the release" if result.blocking else non_blocking_reason(result, report)
        notes = [plural(len(result.violations), "violation")] if result.violations else []
        notes += [effect] if effect else []
        summary = f"{_STATUS_BADGE[result.status]} {policy.id}: {policy.title}"
        summary += f" ({'; '.join(notes)})" if notes else ""
        facts = [
            f"**Severity:** {policy.severity}",
            f"**Enforcement:** {policy.enforcement}",
            f"**Controls:** {escape(', '.join(policy.controls) or '(none)')}",
            f"**Policy file:** {escape(place(policy.file, policy.line) or '(unknown)')}",
        ]
        head = [
            "<details>",
            f"<summary>{_html(summary, 2 * _CELL_CHARS)}</summary>",
            "",
            " · ".join(facts),
            "",
        ]
        if result.status is Status.ERROR:
            head += [f"**Error:** {escape(result.error or 'evaluation failed')}", ""]
        ordered = result.open_violations + tuple(v for v in result.violations if v.waived)
        return head, ordered, ["</details>", ""]

    def _violation_at(
        self, violations: tuple[Violation, ...], policy_controls: tuple[str, ...], index: int
    ) -> list[str]:
        return self._violation(index + 1, violations[index], policy_controls)

    def _violation(
        self, number: int, violation: Violation, policy_controls: tuple[str, ...]
    ) -> list[str]:
        lines = [f"{number}. {escape(violation.message)}"]
        where = location_text(violation.location)
        if where:
            lines.append(f"   - at {escape(where)}")
        if violation.remediation:
            lines.append(f"   - remediation: {escape(violation.remediation)}")
        if violation.controls and violation.controls != policy_controls:
            lines.append(f"   - controls: {escape(', '.join(violation.controls))}")
        waiver = violation.waiver
        if waiver is not None:
            lines.append(
                f"   - **waived** by {escape(waiver.id, _CELL_CHARS)} until"
                f" {waiver.expires.isoformat()} (approved by"
                f" {escape(waiver.approved_by, _CELL_CHARS)}: {escape(waiver.reason)})"
            )
        return lines

    def _notices(self, report: CheckReport, budget: int) -> list[str]:
        if not report.notices:
            return []
        items: list[list[str]] = []
        for notice in report.notices:
            where = place(notice.file, notice.line)
            text = f"- **{escape(notice.code, _CELL_CHARS)}:** {escape(notice.message)}"
            items.append([text + (f" ({escape(where)})" if where else "")])
        header = ["### Notices", ""]
        body = _fit(
            len(items),
            items.__getitem__,
            budget - _size(header),
            lambda n: f"- _{plural(n, 'more notice')} not shown: {_TRUNCATED}._",
        )
        return [*header, *body, ""]

    def _coverage(self, report: CheckReport, budget: int) -> list[str]:
        coverage = report.coverage
        if not coverage.controls:
            return []
        lines = [
            "### Coverage",
            "",
            f"{coverage.implemented} of {plural(coverage.controls, 'control')} implemented;"
            f" {plural(len(coverage.gaps), 'coverage gap')}.",
            "",
        ]
        if not coverage.gaps:
            return lines
        head = ["<details>", f"<summary>{plural(len(coverage.gaps), 'coverage gap')}</summary>", ""]
        foot = ["", "</details>", ""]
        body = _fit(
            len(coverage.gaps),
            lambda i: [f"- {escape(coverage.gaps[i], _CELL_CHARS)}"],
            budget - _size(lines + head + foot),
            lambda n: f"- _{plural(n, 'more gap')} not shown: {_TRUNCATED}._",
        )
        return lines + head + body + foot
