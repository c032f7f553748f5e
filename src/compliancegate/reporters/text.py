"""The terminal report: readable in an 80-column CI log, colour only when asked.

Layout (see ``docs/reports.md``): a header line; one table row per policy; the violations of
every failed, errored or waived policy; notices and coverage; a summary line; the decision
with its reason. Every line fits in ``width`` columns (by display width, wide characters
counted twice) except a URL longer than a line, which is kept whole so it stays clickable.
"""

from __future__ import annotations

from compliancegate.model import (
    CheckReport,
    Decision,
    PolicyResult,
    Status,
    Violation,
)
from compliancegate.reporters._common import (
    blocking_results,
    defuse_log_commands,
    display_width,
    is_problem,
    iso_utc,
    location_text,
    non_blocking_reason,
    one_line,
    pack,
    place,
    plural,
    summarize,
    truncate,
    wrap,
)

_STATUS_LABEL = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.NOT_APPLICABLE: "N/A",
    Status.WAIVED: "WAIVED",
}

# SGR codes: written only when the caller asks for colour (the CLI: a TTY and no NO_COLOR).
_RESET = "\x1b[0m"
_STATUS_SGR = {
    Status.PASS: "32",
    Status.FAIL: "1;31",
    Status.ERROR: "1;35",
    Status.NOT_APPLICABLE: "2",
    Status.WAIVED: "33",
}
_DECISION_SGR = {
    Decision.COMPLIANT: "1;32",
    Decision.BLOCKED: "1;31",
    Decision.ERROR: "1;35",
}

_COLUMNS = ("STATUS", "SEVERITY", "ENFORCE", "VIOL", "POLICY")
_WIDTHS = (6, 8, 7, 4)
_GAP = "  "
_INDENT = "  "


def _count(n: int) -> str:
    """A violation count that fits its 4-column cell."""
    return str(n) if n < 10_000 else "10k+"


def _paint(text: str, sgr: str, color: bool) -> str:
    return f"\x1b[{sgr}m{text}{_RESET}" if color else text


class TextReporter:
    """``--format text``: the terminal table (the default format)."""

    name = "text"
    media_type = "text/plain; charset=utf-8"
    suffix = ".txt"

    def __init__(self, width: int = 80, max_violations: int = 100) -> None:
        """``width``: columns per line; ``max_violations``: listed per policy, the rest counted."""
        self.width = width
        self.max_violations = max_violations

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The terminal report; ANSI colours only when ``color`` is true."""
        lines: list[str] = []
        lines += self._header(report, color)
        lines.append("")
        lines += self._table(report, color)
        for result in report.results:
            if is_problem(result):
                lines.append("")
                lines += self._details(result, report, color)
        lines += self._notices(report)
        lines.append("")
        lines += self._summary(report)
        lines += self._decision(report, color)
        # One pass over the finished lines, because wrapping decides which words start a line:
        # a "::" there, or "##[" anywhere, would be a GitHub workflow command in a CI log.
        return defuse_log_commands("\n".join(lines)) + "\n"

    # ----------------------------------------------------------------------- sections

    def _wrap(self, text: str, first: str = "", rest: str = "") -> list[str]:
        return wrap(one_line(text), self.width, first, rest)

    def _pack(self, units: list[str]) -> list[str]:
        return pack([one_line(u) for u in units], self.width, "", _INDENT)

    def _header(self, report: CheckReport, color: bool) -> list[str]:
        decision = str(report.decision).upper()
        lines = [f"compliancegate: {decision}"]
        facts = [
            f"  environment: {report.environment or 'none'},",
            f"fail-on: {report.fail_on},",
            f"run: {report.run_id}",
        ]
        if report.clock_override is not None:
            facts[-1] += ","
            facts.append(f"clock: COMPLIANCEGATE_NOW={iso_utc(report.clock_override.now)}")
        lines += self._pack(facts)
        if color:
            # The decision word sits on the first line, right after a fixed prefix.
            prefix = "compliancegate: "
            painted = _paint(decision, _DECISION_SGR[report.decision], True)
            lines[0] = prefix + painted + lines[0][len(prefix) + len(decision) :]
        return lines

    def _table(self, report: CheckReport, color: bool) -> list[str]:
        if not report.results:
            return ["No policies were evaluated."]
        id_width = self.width - sum(_WIDTHS) - len(_GAP) * len(_WIDTHS)
        head = _GAP.join(c.ljust(w) for c, w in zip(_COLUMNS, _WIDTHS, strict=False))
        lines = [head + _GAP + _COLUMNS[-1]]
        for result in report.results:
            policy = result.policy
            status = _STATUS_LABEL[result.status].ljust(_WIDTHS[0])
            cells = [
                _paint(status, _STATUS_SGR[result.status], color),
                str(policy.severity).ljust(_WIDTHS[1]),
                str(policy.enforcement).ljust(_WIDTHS[2]),
                _count(len(result.violations)).rjust(_WIDTHS[3]),
                truncate(one_line(policy.id), max(id_width, 1)),
            ]
            lines.append(_GAP.join(cells))
        return lines

    def _details(self, result: PolicyResult, report: CheckReport, color: bool) -> list[str]:
        policy = result.policy
        label = _STATUS_LABEL[result.status]
        lines = self._wrap(f"{label} {policy.id}: {policy.title}", rest=_INDENT)
        if color:
            lines[0] = _paint(label, _STATUS_SGR[result.status], True) + lines[0][len(label) :]
        effect = "blocks the release" if result.blocking else non_blocking_reason(result, report)
        facts = f"{policy.severity}, {policy.enforcement}" + (f"; {effect}" if effect else "")
        lines += self._wrap(facts, _INDENT, _INDENT)
        if policy.controls:
            lines += self._wrap("controls: " + ", ".join(policy.controls), _INDENT, _INDENT * 2)
        if result.status is Status.ERROR:
            lines += self._wrap("error: " + (result.error or "evaluation failed"), _INDENT, _INDENT)
        # Open violations first: they are what the reader has to fix.
        ordered = result.open_violations + tuple(v for v in result.violations if v.waived)
        shown = ordered[: self.max_violations]
        for number, violation in enumerate(shown, start=1):
            lines += self._violation(number, violation, policy.controls)
        hidden = ordered[len(shown) :]
        if hidden:
            waived = sum(1 for v in hidden if v.waived)
            more = f"... and {plural(len(hidden), 'more violation')}"
            more += f" ({waived} waived)" if waived else ""
            lines += self._wrap(more + "; see --format json for all", _INDENT, _INDENT)
        return lines

    def _violation(
        self, number: int, violation: Violation, policy_controls: tuple[str, ...]
    ) -> list[str]:
        first = f"{_INDENT}{number}. "
        rest = " " * display_width(first)
        lines = self._wrap(violation.message, first, rest)
        where = location_text(violation.location)
        if where:
            lines += self._wrap("at " + where, rest, rest + _INDENT)
        if violation.remediation:
            lines += self._wrap("fix: " + violation.remediation, rest, rest + _INDENT)
        if violation.controls and violation.controls != policy_controls:
            lines += self._wrap("controls: " + ", ".join(violation.controls), rest, rest + _INDENT)
        waiver = violation.waiver
        if waiver is not None:
            text = (
                f"waived by {waiver.id} until {waiver.expires.isoformat()}"
                f" (approved by {waiver.approved_by}: {waiver.reason})"
            )
            lines += self._wrap(text, rest, rest + _INDENT)
        return lines

    def _notices(self, report: CheckReport) -> list[str]:
        lines: list[str] = []
        if report.notices:
            lines += ["", "Notices:"]
            for notice in report.notices:
                where = place(notice.file, notice.line)
                text = f"{notice.code}: {notice.message}" + (f" ({where})" if where else "")
                lines += self._wrap(text, _INDENT + "- ", _INDENT * 2)
        coverage = report.coverage
        if coverage.controls:
            text = (
                f"Coverage: {coverage.implemented} of {plural(coverage.controls, 'control')}"
                f" implemented; {plural(len(coverage.gaps), 'gap')}"
            )
            if coverage.gaps:
                text += " (listed in --format json and markdown)"
            lines += ["", *self._wrap(text, rest=_INDENT)]
        return lines

    def _summary(self, report: CheckReport) -> list[str]:
        s = summarize(report)
        return self._pack(
            [
                f"{plural(s.policies, 'policy', 'policies')}:",
                f"{s.passed} passed,",
                f"{s.failed} failed,",
                f"{plural(s.errors, 'error')},",
                f"{s.waived} waived,",
                f"{s.not_applicable} not applicable;",
                f"{plural(s.violations, 'violation')},",
                f"{s.waived_violations} waived",
            ]
        )

    def _decision(self, report: CheckReport, color: bool) -> list[str]:
        decision = str(report.decision).upper()
        blockers = blocking_results(report)
        ids: list[str] = []
        if report.decision is Decision.BLOCKED:
            ids = [r.policy.id for r in blockers]
            n = plural(len(blockers), "policy", "policies")
            reason = f"blocked by {n} failing at or above {report.fail_on}" + (":" if ids else "")
        elif report.decision is Decision.ERROR:
            errored = [r for r in report.results if r.status is Status.ERROR]
            ids = [r.policy.id for r in errored if r.blocking] or [r.policy.id for r in errored]
            reason = "the gate could not complete the evaluation, so it fails closed"
            reason += ":" if ids else ""
        else:
            reason = f"no block policy failed at or above {report.fail_on}"
            warned = [r for r in report.results if non_blocking_reason(r, report)]
            if warned:
                reason += f" ({plural(len(warned), 'non-blocking failure')} shown above)"
        # Commas stay with the id before them, so a wrapped list never starts with one.
        units = [f"{decision}: {reason}", *(i + "," for i in ids[:-1]), *ids[-1:]]
        lines = self._pack(units)
        if color:
            painted = _paint(decision, _DECISION_SGR[report.decision], True)
            lines[0] = painted + lines[0][len(decision) :]
        return lines
