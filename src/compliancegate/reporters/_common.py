"""Helpers every reporter shares: counts, reasons, timestamps and hostile-text handling.

Violation messages are rendered from artifacts the gate does not trust (a scanner report or an
SBOM written by whoever controls the build), so every reporter passes them through one of the
sanitizers here before they reach a terminal, a CI log, an XML parser or a Markdown renderer.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from compliancegate.model import (
    CheckReport,
    Enforcement,
    Location,
    PolicyResult,
    Status,
)

# Characters that reorder how text is displayed ("Trojan Source", CVE-2021-42574): a hostile
# message could make a log line read differently from what it says.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# Line and paragraph separators that some viewers break lines on although they are not "\n".
LINE_BREAKERS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")

_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Summary:
    """The counts every format shows, computed once so that all formats agree."""

    policies: int
    passed: int
    failed: int
    errors: int
    not_applicable: int
    waived: int
    violations: int
    """Every violation, waived or not."""
    waived_violations: int
    blocking: int
    """How many policy results block the release on their own."""


def summarize(report: CheckReport) -> Summary:
    """Count the report's policies by status and its violations."""
    violations = report.violations
    return Summary(
        policies=len(report.results),
        passed=report.count(Status.PASS),
        failed=report.count(Status.FAIL),
        errors=report.count(Status.ERROR),
        not_applicable=report.count(Status.NOT_APPLICABLE),
        waived=report.count(Status.WAIVED),
        violations=len(violations),
        waived_violations=sum(1 for v in violations if v.waived),
        blocking=sum(1 for r in report.results if r.blocking),
    )


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 violation``, ``2 violations``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def iso_utc(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def place(file: str | None, line: int | None) -> str | None:
    """``file:line``, ``file``, or None when there is no file."""
    if not file:
        return None
    return file if line is None else f"{file}:{line}"


def location_text(location: Location) -> str | None:
    """``file:line``, ``file``, or None when the violation has no location."""
    return place(location.file, location.line)


def is_problem(result: PolicyResult) -> bool:
    """A result whose details every format lists: failed, errored or waived."""
    return result.status in (Status.FAIL, Status.ERROR, Status.WAIVED)


def non_blocking_reason(result: PolicyResult, report: CheckReport) -> str | None:
    """Why a failed or errored policy does not block the release, or None when it blocks.

    Returned for ``fail`` and ``error`` results only: the wording shows up in every format so
    that a reader of a red test case knows at once whether it stopped the deployment.
    """
    if result.status not in (Status.FAIL, Status.ERROR) or result.blocking:
        return None
    policy = result.policy
    if policy.enforcement is Enforcement.WARN:
        return "warn: does not block"
    if policy.enforcement is Enforcement.AUDIT:
        return "audit: recorded only, does not block"
    if not policy.severity.at_least(report.fail_on):
        return f"severity {policy.severity} is below fail-on {report.fail_on}: does not block"
    return "does not block"


def not_applicable_reason(result: PolicyResult, report: CheckReport) -> str:
    """Why a policy was not evaluated, derived from the policy and the run.

    ``PolicyResult`` carries no reason of its own; an engine-supplied ``error`` text wins.
    """
    if result.error:
        return result.error
    policy = result.policy
    if not policy.applies_to(report.environment):
        envs = ", ".join(policy.environments or ())
        if report.environment is None:
            return f"applies only to environments {envs} and no environment was given"
        return f"not evaluated in environment {report.environment}: applies to {envs}"
    if not policy.required and not result.artifacts:
        return f"no artifact matched {policy.input.describe()} and the policy is optional"
    return "not applicable in this run"


def blocking_results(report: CheckReport) -> tuple[PolicyResult, ...]:
    """The results that block the release, in report order."""
    return tuple(r for r in report.results if r.blocking)


def replace_surrogates(text: str) -> str:
    """Replace lone surrogates (which JSON parsers may produce from ``"\\ud800"``) with U+FFFD.

    They cannot be encoded as UTF-8, so one of them would crash the CLI when it writes the
    report; several JSON parsers in other languages also reject them.
    """
    if text.isascii():  # most text, and no surrogate is ASCII: skip the regex
        return text
    return _SURROGATES.sub(REPLACEMENT, text)


def one_line(text: str) -> str:
    """Hostile text made safe for a single line of a terminal, a log or a Markdown cell.

    Every line break and whitespace run becomes one space; other control characters (ANSI
    escapes, NUL, C1 controls such as U+009B CSI), bidi overrides and lone surrogates become
    U+FFFD, so nothing in a message can move the cursor, recolour the log or reorder the text.
    The non-characters U+FFFE and U+FFFF (invalid in XML, a byte-order-mark trap) go too.
    """
    out: list[str] = []
    for ch in replace_surrogates(text):
        if ch in LINE_BREAKERS or ch == "\t":
            out.append(" ")
        elif ch in BIDI_CONTROLS or ch in "\ufffe\uffff" or unicodedata.category(ch) == "Cc":
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    return " ".join("".join(out).split())


# --------------------------------------------------------------------------- CI log commands
#
# GitHub's runner treats a log line as a workflow command when it starts with "::" after
# leading whitespace, and (legacy syntax) when it contains "##[" anywhere. A violation message
# printed to the job log could otherwise raise fake annotations or "stop-commands" and silence
# the real ones (actions/runner ActionCommand.TryParseV2 / TryParse).

# The runner compares with .NET's culture-sensitive IndexOf/StartsWith, for which ICU ignores
# zero-width characters; a zero-width space would not break the match. Full-width look-alikes
# differ at the comparison's (tertiary) strength and still read as the original to a human;
# one full-width character takes the two columns of the two it replaces, so wrapping holds.
_LINE_START_COMMAND = re.compile(r"^(\s*)::", re.MULTILINE)


def defuse_log_commands(text: str) -> str:
    """Turn ``##[`` into U+FF03 ``[`` and a line-leading ``::`` into U+FF1A (text output)."""
    text = text.replace("##[", "\uff03[")
    return _LINE_START_COMMAND.sub(lambda m: m.group(1) + "\uff1a", text)


# --------------------------------------------------------------------------- display width


def char_width(ch: str) -> int:
    """Columns a character takes in a terminal: 0 for combining/format, 2 for wide, else 1.

    An approximation of wcwidth without the dependency: emoji presentation selected by
    U+FE0F on a narrow base character is counted as 1 column.
    """
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (see ``char_width``)."""
    if text.isascii():
        # Every ASCII character is one column by char_width's rules (none is combining,
        # format or wide): skips three Unicode lookups a character on most messages.
        return len(text)
    return sum(char_width(ch) for ch in text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending with ``…`` when something was cut."""
    if display_width(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _chop(word: str, first: int, rest: int) -> list[str]:
    """Split an over-long word into pieces of at most ``first`` then ``rest`` columns."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    limit = max(first, 1)
    for ch in word:
        w = char_width(ch)
        # Always take one character per piece, so a wide character in a one-column slot
        # cannot loop forever.
        if used + w > limit and current:
            pieces.append("".join(current))
            current, used, limit = [], 0, max(rest, 1)
        current.append(ch)
        used += w
    if current:
        pieces.append("".join(current))
    return pieces


def wrap(text: str, width: int, first_prefix: str = "", next_prefix: str = "") -> list[str]:
    """Greedy word wrap by display width; ``text`` must already be ``one_line``-clean.

    A word longer than the line is cut into pieces, except a URL, which is kept whole on a line
    of its own (and may exceed ``width``) so that CI log viewers still make it a link.
    """
    lines: list[str] = []
    current = first_prefix
    used = display_width(first_prefix)
    has_word = False
    for word in text.split(" "):
        if not word:
            continue
        w = display_width(word)
        if used + (1 if has_word else 0) + w <= width:
            current += (" " if has_word else "") + word
            used += (1 if has_word else 0) + w
            has_word = True
            continue
        if has_word:
            lines.append(current)
            current, used, has_word = next_prefix, display_width(next_prefix), False
        if used + w <= width or _URL.fullmatch(word):
            current += word
            used += w
            has_word = True
            continue
        room = width - used
        next_room = width - display_width(next_prefix)
        pieces = _chop(word, room, next_room)
        for piece in pieces[:-1]:
            lines.append(current + piece)
            current, used = next_prefix, display_width(next_prefix)
        current += pieces[-1]
        used += display_width(pieces[-1])
        has_word = True
    if has_word or not lines:
        lines.append(current)
    return lines


def pack(units: list[str], width: int, first_prefix: str = "", next_prefix: str = "") -> list[str]:
    """Lay out phrases that should not be split (``run: ID``) greedily, one space apart.

    Each unit must already be ``one_line``-clean; a unit longer than a line is word-wrapped.
    """
    lines: list[str] = []
    current = first_prefix
    used = display_width(first_prefix)
    empty = True
    for unit in units:
        w = display_width(unit)
        if not empty and used + 1 + w <= width:
            current += " " + unit
            used += 1 + w
            continue
        if not empty:
            lines.append(current)
            current, used = next_prefix, display_width(next_prefix)
        if used + w <= width:
            current += unit
            used += w
        else:
            wrapped = wrap(unit, width, current, next_prefix)
            lines += wrapped[:-1]
            current = wrapped[-1]
            used = display_width(current)
        empty = False
    if not empty or not lines:
        lines.append(current)
    return lines
