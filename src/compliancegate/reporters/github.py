"""GitHub Actions workflow commands: one annotation per violation, on its file and line.

Each line is ``::error file=F,line=L,title=T::MESSAGE`` (or ``::warning``, ``::notice``),
escaped the way the runner unescapes it (``ActionCommand.TryParseV2`` in actions/runner):

- in the message (data): ``%`` as ``%25``, CR as ``%0D``, LF as ``%0A``;
- in property values: the same, plus ``:`` as ``%3A`` and ``,`` as ``%2C`` (a comma would
  otherwise start a new property, so a file name could forge ``line=`` or ``title=``).

``%`` is escaped first so that the other escapes are not escaped twice. Levels: a violation
that blocks the release is an error; one that is shown but does not block (a ``warn`` policy,
or a ``block`` policy below ``--fail-on``) a warning; waived and ``audit`` violations notices.

The runner keeps 10 error, 10 warning and 10 notice annotations per step
(``_maxIssueCount`` in its ExecutionContext.cs) and drops the rest from the run's annotations.
So the most severe come first, at most 10 of each level are written, and when anything is
left out, the last notice slot says how many and where to find them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compliancegate.model import CheckReport, Decision, Enforcement, PolicyResult, Status, Violation
from compliancegate.reporters._common import (
    BIDI_CONTROLS,
    defuse_log_commands,
    non_blocking_reason,
    one_line,
    plural,
    replace_surrogates,
    truncate,
)
from compliancegate.reporters.sarif import policy_location_note, violation_file

LIMIT_PER_LEVEL = 10
"""Annotations of each level the runner shows per step."""
TITLE_CHARS = 255
"""GitHub's limit on an annotation title (check run annotations API)."""
MESSAGE_CHARS = 4000
"""A message is cut here; the step summary and the JSON report have the whole text."""

_LEVELS = ("error", "warning", "notice")
_DECISION_TEXT = {
    Decision.COMPLIANT: "compliant",
    Decision.BLOCKED: "release blocked",
    Decision.ERROR: "error, evaluation incomplete",
}


def escape_data(text: str) -> str:
    """A workflow command's message as the runner's ``_escapeDataMappings`` expect it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value as the runner's ``_escapePropertyMappings`` expect it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# Line breaks of every kind but LF, and what becomes U+FFFD: control characters (category Cc:
# C0, DEL and C1) other than LF and tab, bidi controls, and the non-characters U+FFFE/U+FFFF.
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x85\u2028\u2029]")
_UNSAFE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff" + "".join(sorted(BIDI_CONTROLS)) + "]"
)


def clean_message(text: str) -> str:
    """Untrusted text for a multi-line annotation message.

    Line breaks of every kind become LF (escaped later, so a message never ends the command
    line); other control characters, bidi overrides, non-characters and lone surrogates become
    U+FFFD, as in every other format. ``##[`` (the runner's legacy command marker) is written
    with U+FF03 (full-width number sign) for its first ``#``.
    """
    text = replace_surrogates(text).replace("\r\n", "\n")
    # Two substitutions rather than a loop over characters: a report may hold a million
    # messages. Breaks first, so U+0085 (a break and a control) becomes LF, not U+FFFD.
    text = _UNSAFE.sub("\ufffd", _OTHER_BREAKS.sub("\n", text))
    return text.replace("##[", "\uff03[")


@dataclass(frozen=True)
class Annotation:
    """One workflow command before escaping."""

    level: str
    """``error``, ``warning`` or ``notice``."""
    message: str
    title: str
    file: str | None = None
    line: int | None = None
    rank: int = 0
    """Severity rank of what it reports (4 critical .. 1 low; 0 for run notices)."""

    def command(self) -> str:
        """The escaped ``::level props::message`` line."""
        props = []
        if self.file:
            props.append("file=" + escape_property(one_line(self.file).replace("\\", "/")))
            if self.line is not None and self.line >= 1:
                props.append(f"line={self.line}")
        props.append("title=" + escape_property(truncate(one_line(self.title), TITLE_CHARS)))
        message = truncate(clean_message(self.message), MESSAGE_CHARS)
        return f"::{self.level} {','.join(props)}::{escape_data(message)}"


def _level(result: PolicyResult, violation: Violation | None) -> str:
    if violation is not None and violation.waived:
        return "notice"
    if result.blocking:
        return "error"
    if result.policy.enforcement is Enforcement.AUDIT:
        return "notice"
    return "warning"


def _effect(result: PolicyResult, violation: Violation | None, report: CheckReport) -> str:
    if violation is not None and violation.waiver is not None:
        waiver = violation.waiver
        return (
            f"waived by {waiver.id} until {waiver.expires.isoformat()}"
            f" (approved by {waiver.approved_by}: {waiver.reason})"
        )
    if result.blocking:
        return "blocks the release"
    return non_blocking_reason(result, report) or "does not block"


def _violation(result: PolicyResult, violation: Violation, report: CheckReport) -> Annotation:
    policy = result.policy
    lines = [violation.message]
    if violation.remediation:
        lines.append(f"Fix: {violation.remediation}")
    if violation.controls:
        lines.append(f"Controls: {', '.join(violation.controls)}")
    lines.append(
        f"{violation.severity}, {policy.enforcement}: {_effect(result, violation, report)}"
    )
    file, line = violation_file(violation), violation.location.line
    if file is None:
        # Missing evidence has no file, a git violation only the repository's folder: the
        # annotation goes on the policy, which GitHub can place.
        file, line = policy.file, policy.line
        lines.append(f"(annotated on {policy_location_note(violation)})")
    return Annotation(
        level=_level(result, violation),
        # Each piece is cleaned before joining: a message ending in CR would otherwise merge
        # with the joining LF into one CRLF and lose a line break.
        message="\n".join(clean_message(line) for line in lines),
        title=f"{policy.id}: {policy.title}",
        file=file,
        line=line,
        rank=violation.severity.rank,
    )


def _error(result: PolicyResult, report: CheckReport) -> Annotation:
    policy = result.policy
    return Annotation(
        level=_level(result, None),
        message=(
            f"The policy could not be evaluated: {clean_message(result.error or 'failed')}\n"
            f"{policy.severity}, {policy.enforcement}: {_effect(result, None, report)}"
        ),
        title=f"{policy.id}: {policy.title}",
        file=policy.file,
        line=policy.line,
        rank=policy.severity.rank,
    )


_WEAKENED = frozenset({"break-fix-off", "nothing-evaluated", "not-a-release"})
"""Notices saying a rule of the gate did not apply to this run."""
_FIRST_RANK = 5
"""Above every severity: sorted first among the notices."""


def collect_annotations(report: CheckReport) -> list[Annotation]:
    """Every annotation of the report, most severe first (level, severity, report order)."""
    found: list[Annotation] = []
    for result in report.results:
        if result.status is Status.ERROR:
            found.append(_error(result, report))
        for violation in result.violations:
            found.append(_violation(result, violation, report))
    for notice in report.notices:
        # A notice that the gate itself was weakened must not be one a full budget drops.
        rank = _FIRST_RANK if notice.code in _WEAKENED else 0
        found.append(
            Annotation(
                "notice",
                notice.message,
                f"compliancegate: {notice.code}",
                notice.file,
                notice.line,
                rank,
            )
        )
    order = {level: i for i, level in enumerate(_LEVELS)}
    # sorted() is stable, so report order breaks ties.
    return sorted(found, key=lambda a: (order[a.level], -a.rank))


class GitHubReporter:
    """``--format github``: workflow commands that annotate files in a GitHub Actions run."""

    name = "github"
    media_type = "text/plain; charset=utf-8"
    suffix = ".txt"

    def __init__(self, limit: int = LIMIT_PER_LEVEL) -> None:
        """``limit``: annotations of each level written (the runner shows 10 per step)."""
        self.limit = limit

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The workflow commands, then one plain line with the decision; ``color`` is ignored."""
        found = collect_annotations(report)
        budget = dict.fromkeys(_LEVELS, self.limit)
        counts = {level: sum(1 for a in found if a.level == level) for level in _LEVELS}
        if any(counts[level] > self.limit for level in _LEVELS) and self.limit > 0:
            # The note on what was left out takes the last notice slot, so it is shown too.
            budget["notice"] = self.limit - 1
        shown: list[Annotation] = []
        for annotation in found:
            if budget[annotation.level] > 0:
                budget[annotation.level] -= 1
                shown.append(annotation)
        lines = [a.command() for a in shown]
        hidden = len(found) - len(shown)
        if hidden and self.limit > 0:
            note = Annotation(
                "notice",
                f"{plural(hidden, 'more annotation')} not shown: GitHub shows {self.limit} error,"
                f" {self.limit} warning and {self.limit} notice annotations per step. The step"
                " summary and the JSON, SARIF and JUnit reports list every violation.",
                "compliancegate: more violations than annotations",
            )
            shown.append(note)
            lines.append(note.command())
        by_level = ", ".join(
            f"{sum(1 for a in shown if a.level == level)} {level}" for level in _LEVELS
        )
        summary = (
            f"compliancegate: {_DECISION_TEXT[report.decision]} (run {report.run_id});"
            f" annotations: {by_level}" + (f"; {hidden} not shown" if hidden else "")
        )
        if report.clock_override is not None:
            # Said on the line that is always written, whatever the annotation budget left.
            summary += f"; clock replaced: COMPLIANCEGATE_NOW={report.clock_override.value}"
        # A plain line from run facts: flattened and defused so that it is never a command.
        lines.append(defuse_log_commands(one_line(summary)))
        return "\n".join(lines) + "\n"
