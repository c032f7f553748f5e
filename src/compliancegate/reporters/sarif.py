"""SARIF 2.1.0, for GitHub code scanning and every other SARIF viewer.

The log has one run. Its rules are the policies of the run (``ruleId`` = policy id), its
results the violations; what each field carries, and why, is documented in
``docs/reports.md`` ("SARIF"). The output validates against the OASIS SARIF 2.1.0 schema and
stays within GitHub code scanning's upload limits, which are hard limits: a file above them is
rejected whole, which would lose every alert of the run. When the report does not fit, the
least severe results are left out, and the run says so in a tool execution notification and
in ``runs[0].properties.compliancegate``.

Limits (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/
sarif-support-for-code-scanning, "Validating your SARIF file"):

- 25,000 results per run (GitHub keeps the top 5,000 by severity for display);
- 25,000 rules per run;
- 20 tags per rule, of which 10 are shown;
- 10 MB per gzip-compressed file: upload-sarif gzips the file before uploading it, so the
  text is measured the same way (zlib, level 6, Node's default) and held to 10,000,000 bytes.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from typing import Any
from urllib.parse import quote

from compliancegate.engine.evaluation import fingerprint as evaluation_fingerprint
from compliancegate.model import (
    CheckReport,
    Decision,
    Enforcement,
    Policy,
    PolicyResult,
    Severity,
    Status,
    Violation,
)
from compliancegate.reporters._common import iso_utc, one_line, replace_surrogates, truncate
from compliancegate.reporters.json_report import dumps

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
TOOL_NAME = "compliancegate"

MAX_RESULTS = 25_000
"""GitHub: results per run; an upload with more is rejected."""
MAX_RULES = 25_000
"""GitHub: rules per run; an upload with more is rejected."""
MAX_GZIP_BYTES = 10_000_000
"""GitHub: 10 MB per gzip-compressed upload (read as 10**7 bytes, the smaller reading)."""
GZIP_LEVEL = 6
"""The level upload-sarif compresses with (Node's zlib default)."""
MAX_TAGS = 10
"""GitHub accepts 20 tags per rule but shows only 10: every tag written is shown."""
MAX_NAME_CHARS = 255
"""GitHub: a rule's ``name`` is limited to 255 characters."""
MAX_DESCRIPTION_CHARS = 1024
"""GitHub: ``shortDescription`` and ``fullDescription`` are limited to 1024 characters."""
MAX_MESSAGE_CHARS = 20_000
"""One message's share, so that a single huge message cannot push every other result out."""

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MODERATE: "5.5",
    Severity.LOW: "3.0",
}
"""``properties.security-severity`` per severity. GitHub maps over 9.0 to critical, 7.0-8.9 to
high, 4.0-6.9 to medium and 0.1-3.9 to low; each value sits inside its band, clear of the
edges."""

FINGERPRINT_KEY = "compliancegateFingerprint/v1"
"""The ``partialFingerprints`` entry carrying the violation's own fingerprint."""
LINE_HASH_KEY = "primaryLocationLineHash"
"""The only ``partialFingerprints`` entry GitHub code scanning reads."""
SOURCE_ROOT = "%SRCROOT%"
"""The ``uriBaseId`` of relative paths: the directory ``check`` ran in (the repository root
in CI)."""

_LEVEL_RANK = {"error": 0, "warning": 1, "note": 2}
_DEFAULT_LEVEL = {
    Enforcement.BLOCK: "error",
    Enforcement.WARN: "warning",
    Enforcement.AUDIT: "note",
}
_PROBLEM_SEVERITY = {
    Enforcement.BLOCK: "error",
    Enforcement.WARN: "warning",
    Enforcement.AUDIT: "recommendation",
}
# "[text](target)" in a SARIF message is an embedded link (SARIF 3.11.6); text from artifacts
# must not form one, so its brackets are escaped with backslashes as the standard requires.
_EMBEDDED_LINK = re.compile(r"\[([^\[\]]*)\]\(")
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:/")
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters a URI may carry as they are (RFC 3986 reserved and unreserved, and "%" of an
# existing escape); everything else (spaces, non-ASCII) is percent-encoded.
_URI_SAFE = "/:@!$&'()*+,;=?#[]~%"


FILELESS_KINDS = frozenset({"git"})
"""Normalized kinds whose artifact is not a file: a ``git`` violation's location is the
repository's folder, which neither code scanning nor an annotation can point at."""


def violation_file(violation: Violation) -> str | None:
    """The file a violation can be shown on, or None (missing evidence, a repository, a
    folder): such violations are shown on the policy instead."""
    file = violation.location.file
    if not file or violation.kind in FILELESS_KINDS:
        return None
    if file in (".", "./") or file.endswith(("/", "\\")):
        return None
    return file


def policy_location_note(violation: Violation) -> str:
    """Why a violation is shown on its policy rather than on a file."""
    if not violation.location.file:
        return "the policy that requires the missing evidence"
    return "the policy: the violation concerns a repository or folder, not a file"


def _s(text: str) -> str:
    return replace_surrogates(text)


def _message(text: str) -> str:
    """Untrusted text for a SARIF message: no lone surrogates, no embedded links, cut."""
    text = truncate(_s(text), MAX_MESSAGE_CHARS)
    if "[" not in text:  # most messages: no link to neutralize, no regex scan
        return text
    return _EMBEDDED_LINK.sub(r"\\[\1\\](", text)


def _short(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, never empty (GitHub rejects empty strings)."""
    return truncate(one_line(_s(text)), limit) or "-"


def artifact_location(path: str) -> dict[str, str]:
    """A SARIF ``artifactLocation`` for a path as the report shows it.

    Relative paths (the usual case: relative to the working directory, which is the
    repository root in CI) become relative URI references with ``uriBaseId`` %SRCROOT%, which
    GitHub resolves against the repository root; absolute paths become ``file:`` URIs. Either
    is percent-encoded, so spaces, ``%`` and non-ASCII names stay valid URI references.
    """
    posix = _s(path).replace("\\", "/")
    if _WINDOWS_ABSOLUTE.match(posix):
        return {"uri": "file:///" + quote(posix, safe="/:")}
    if posix.startswith("/"):
        return {"uri": "file://" + quote(posix, safe="/")}
    if "://" in posix and _HAS_SCHEME.match(posix):
        # Already a URI (a normalized scanner finding may carry one): encode only what a URI
        # cannot hold.
        return {"uri": quote(posix, safe=_URI_SAFE)}
    while posix.startswith("./"):
        posix = posix[2:]
    # ":" is encoded too, so that a first segment such as "c:x" cannot read as a scheme.
    return {"uri": quote(posix, safe="/"), "uriBaseId": SOURCE_ROOT}


def _physical(path: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(path)}
    if line is not None and line >= 1:
        physical["region"] = {"startLine": line}
    return physical


def _rule_name(policy_id: str) -> str:
    """``no-critical-vulns`` as ``NoCriticalVulns``: SARIF wants an identifier-like name."""
    words = re.split(r"[^0-9A-Za-z]+", policy_id)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name[:MAX_NAME_CHARS] or "Policy"


def _tags(policy: Policy) -> list[str]:
    # "security" makes GitHub read security-severity (it uses it for security rules only);
    # the control refs let a reader filter alerts by control.
    tags: list[str] = ["security", "compliance"]
    for control in policy.controls:
        tag = _s(control)
        if tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


def _markdown(text: str) -> str:
    """Policy text inside the Markdown help: paragraphs kept, inline syntax made inert."""
    from compliancegate.reporters.markdown import escape

    paragraphs = re.split(r"\n\s*\n", _s(text).strip())
    return "\n\n".join(escape(p) for p in paragraphs if p.strip())


def _help(policy: Policy) -> dict[str, str]:
    """What the rule checks, how to fix a violation, which controls it implements."""
    where = policy.file if policy.line is None else f"{policy.file}:{policy.line}"
    controls = ", ".join(policy.controls) or "(none)"
    effect = {
        Enforcement.BLOCK: "a violation blocks the release when the severity is at or above"
        " the run's fail-on severity",
        Enforcement.WARN: "a violation is reported and never blocks the release",
        Enforcement.AUDIT: "a violation is recorded only and never blocks the release",
    }[policy.enforcement]
    remediation = policy.remediation.source if policy.remediation is not None else None
    text = [policy.title]
    markdown = [f"**{_markdown(policy.title)}**"]
    if policy.description.strip():
        text.append(policy.description.strip())
        markdown.append(_markdown(policy.description))
    if remediation:
        text.append(f"Remediation: {remediation}")
        markdown.append(
            "**Remediation** (`{...}` fields are filled in from each violating item): "
            + _markdown(remediation)
        )
    facts = [
        ("Controls", controls),
        ("Severity", f"{policy.severity}, enforcement {policy.enforcement}: {effect}"),
        ("Policy", where),
    ]
    text += [f"{label}: {value}" for label, value in facts]
    markdown.append("\n".join(f"- **{label}:** {_markdown(value)}" for label, value in facts))
    return {"text": _s("\n\n".join(text)), "markdown": "\n\n".join(markdown)}


def _rule(policy: Policy) -> dict[str, Any]:
    description = policy.description.strip() or policy.title
    return {
        "id": _s(policy.id),
        "name": _rule_name(policy.id),
        "shortDescription": {"text": _short(policy.title, MAX_DESCRIPTION_CHARS)},
        "fullDescription": {"text": _short(description, MAX_DESCRIPTION_CHARS)},
        "defaultConfiguration": {"level": _DEFAULT_LEVEL[policy.enforcement]},
        "help": _help(policy),
        "properties": {
            "tags": _tags(policy),
            "security-severity": SECURITY_SEVERITY[policy.severity],
            "precision": "very-high",
            "problem.severity": _PROBLEM_SEVERITY[policy.enforcement],
            "compliancegate": {
                "severity": str(policy.severity),
                "enforcement": str(policy.enforcement),
                "controls": [_s(c) for c in policy.controls],
                "file": _s(policy.file),
                "line": policy.line,
            },
        },
    }


def _level(result: PolicyResult, violation: Violation | None) -> str:
    """``error`` for what blocks the release, ``warning`` for what is shown but does not,
    ``note`` for what is only recorded (audit) or waived.

    A waived violation is ``note`` rather than keeping its policy's level: GitHub code
    scanning ignores SARIF suppressions, and the waiver is the organisation's decision that it
    must not be treated as a blocking error.
    """
    if violation is not None and violation.waived:
        return "note"
    if result.blocking:
        return "error"
    if result.policy.enforcement is Enforcement.AUDIT:
        return "note"
    return "warning"


class _Entry:
    """A result being selected, with what it is ordered and selected by. A violation's body
    is built only when it is kept (``body``): a run may have a million violations, of which
    at most ``MAX_RESULTS`` go into the log."""

    __slots__ = ("_body", "level", "order", "policy_id", "result", "severity", "violation")

    def __init__(
        self,
        body: dict[str, Any] | None,
        level: str,
        severity: Severity,
        policy_id: str,
        order: int,
        source: tuple[PolicyResult, Violation] | None = None,
    ) -> None:
        self._body = body
        self.level = level
        self.severity = severity
        self.policy_id = policy_id
        self.order = order
        self.result: PolicyResult | None = source[0] if source is not None else None
        self.violation: Violation | None = source[1] if source is not None else None

    @property
    def body(self) -> dict[str, Any]:
        """The SARIF result object (without ``ruleIndex``)."""
        if self._body is None:
            assert self.result is not None and self.violation is not None
            self._body = _violation_body(self.result, self.violation, self.level)
        return self._body

    def key(self) -> tuple[int, int, int]:
        """Most severe first: level, then severity, then report order."""
        return (_LEVEL_RANK[self.level], -self.severity.rank, self.order)


def _violation_result(result: PolicyResult, violation: Violation, order: int) -> _Entry:
    level = _level(result, violation)
    return _Entry(None, level, violation.severity, result.policy.id, order, (result, violation))


def _violation_body(result: PolicyResult, violation: Violation, level: str) -> dict[str, Any]:
    policy = result.policy
    text = violation.message
    if violation.remediation:
        text += f"\nRemediation: {violation.remediation}"
    waiver = violation.waiver
    if waiver is not None:
        text = (
            f"Waived by {waiver.id} until {waiver.expires.isoformat()}"
            f" (approved by {waiver.approved_by}): {text}"
        )
    file = violation_file(violation)
    if file is not None:
        location: dict[str, Any] = {"physicalLocation": _physical(file, violation.location.line)}
    else:
        # Missing evidence has no file, a git violation only the repository's folder; GitHub
        # code scanning shows only results located in a file, so these point at the policy.
        location = {
            "physicalLocation": _physical(policy.file, policy.line),
            "message": {"text": policy_location_note(violation)},
        }
    body: dict[str, Any] = {
        "ruleId": _s(policy.id),
        "level": level,
        "kind": "fail",
        "message": {"text": _message(text)},
        "locations": [location],
        "partialFingerprints": {
            FINGERPRINT_KEY: _s(violation.fingerprint),
            # GitHub tracks alerts by this entry alone. Without it, upload-sarif would hash
            # the text of the located line, which merges every violation on one line (all
            # findings of a one-line scanner report) into a single alert and reopens an alert
            # whenever the line is edited; the violation's fingerprint names the item instead.
            LINE_HASH_KEY: _s(violation.fingerprint),
        },
        "properties": {
            "compliancegate": {
                "severity": str(violation.severity),
                "controls": [_s(c) for c in violation.controls],
                "kind": _s(violation.kind),
                "blocking": result.blocking and not violation.waived,
                "locationIsPolicy": file is None,
            }
        },
    }
    if waiver is not None:
        body["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": _message(waiver.reason),
                "properties": {
                    "compliancegate": {
                        "waiver": _s(waiver.id),
                        "approvedBy": _s(waiver.approved_by),
                        "expires": waiver.expires.isoformat(),
                        "file": _s(waiver.file),
                        "line": waiver.line,
                    }
                },
            }
        ]
    return body


def _error_result(result: PolicyResult, order: int) -> _Entry:
    """An errored policy is a failed one (the gate fails closed), so it is a result too."""
    policy = result.policy
    level = _level(result, None)
    # One stable identity per policy for "this policy could not be evaluated".
    fingerprint = evaluation_fingerprint(policy.id, "evaluation-error", "")
    body: dict[str, Any] = {
        "ruleId": _s(policy.id),
        "level": level,
        "kind": "fail",
        "message": {
            "text": _message(
                f"The policy could not be evaluated: {result.error or 'evaluation failed'}"
            )
        },
        "locations": [
            {
                "physicalLocation": _physical(policy.file, policy.line),
                "message": {"text": "the policy that could not be evaluated"},
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint, LINE_HASH_KEY: fingerprint},
        "properties": {
            "compliancegate": {
                "severity": str(policy.severity),
                "controls": [_s(c) for c in policy.controls],
                "evaluationError": True,
                "blocking": result.blocking,
                "locationIsPolicy": True,
            }
        },
    }
    return _Entry(body, level, policy.severity, policy.id, order)


def _entries(report: CheckReport) -> list[_Entry]:
    entries: list[_Entry] = []
    for result in report.results:
        if result.status is Status.ERROR:
            entries.append(_error_result(result, len(entries)))
        for violation in result.violations:
            entries.append(_violation_result(result, violation, len(entries)))
    entries.sort(key=_Entry.key)
    return entries


def _notification(text: str, level: str, descriptor: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": _message(text)}, "descriptor": {"id": descriptor}}


def _run_id(report: CheckReport) -> str:
    # GitHub reads automationDetails.id as CATEGORY/RUN-ID, split at the last "/".
    return one_line(_s(report.run_id)).replace("/", "-") or "run"


def compressed_size(text: str, limit: int | None = None) -> int:
    """The size of ``text`` as upload-sarif sends it: UTF-8, gzip-compressed at level 6.

    With ``limit``, a text that fits without compressing it is not compressed, and an upper
    bound of its compressed size is returned instead: deflate never grows data by more than
    about 0.03% plus a few bytes (zlib's ``deflateBound``).
    """
    raw = text.encode("utf-8")
    bound = len(raw) + len(raw) // 2048 + 64
    if limit is not None and bound <= limit:
        return bound
    return len(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0))


@cache
def _project_uri() -> str | None:
    """The project's home page from the installed package's metadata, when it names one."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("compliancegate")
    except PackageNotFoundError:
        return None
    urls = [u.partition(",")[2].strip() for u in meta.get_all("Project-URL") or []]
    urls += meta.get_all("Home-page") or []
    return next((u for u in urls if u.startswith("https://")), None)


class SarifReporter:
    """``--format sarif``: SARIF 2.1.0 for GitHub code scanning."""

    name = "sarif"
    media_type = "application/sarif+json"
    suffix = ".sarif"

    def __init__(
        self,
        max_results: int = MAX_RESULTS,
        max_gzip_bytes: int = MAX_GZIP_BYTES,
        information_uri: str | None = None,
    ) -> None:
        """``max_results`` and ``max_gzip_bytes`` (the gzip-compressed size) bound the output,
        GitHub's limits by default; ``information_uri`` is the tool's home page (default: the
        package's project URL, omitted when the package names none)."""
        self.max_results = max_results
        self.max_gzip_bytes = max_gzip_bytes
        self.information_uri = information_uri

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The SARIF log as indented JSON; ``color`` is ignored."""
        entries = _entries(report)
        keep = min(len(entries), self.max_results)
        reasons = ["results"] if keep < len(entries) else []
        while True:
            text = dumps(self.build(report, entries, keep, reasons))
            size = compressed_size(text, self.max_gzip_bytes)
            if size <= self.max_gzip_bytes or keep == 0:
                return text
            if "size" not in reasons:
                reasons.append("size")
            # Shrink in proportion, with a margin for the notice that grows with the count;
            # the loop ends because keep strictly decreases.
            keep = max(0, min(keep - 1, int(keep * self.max_gzip_bytes / size * 0.98)))

    def build(
        self,
        report: CheckReport,
        entries: list[_Entry],
        keep: int,
        reasons: list[str],
    ) -> dict[str, Any]:
        """The SARIF document with the first ``keep`` of ``entries`` (most severe first)."""
        kept = entries[:keep]
        rules, index = self._rules(report, kept)
        results = []
        for entry in kept:
            rule_id, *rest = entry.body.items()
            results.append(dict([rule_id, ("ruleIndex", index[entry.policy_id]), *rest]))
        omitted = len(entries) - keep

        driver: dict[str, Any] = {
            "name": TOOL_NAME,
            "version": _s(report.tool_version),
            "rules": rules,
        }
        if re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?", report.tool_version):
            driver["semanticVersion"] = report.tool_version
        information_uri = self.information_uri or _project_uri()
        if information_uri:
            driver["informationUri"] = information_uri

        execution: list[dict[str, Any]] = []
        for result in report.results:
            if result.status is Status.ERROR:
                note = _notification(
                    f"policy {result.policy.id} could not be evaluated:"
                    f" {result.error or 'evaluation failed'}",
                    "error",
                    "evaluation-error",
                )
                if result.policy.id in index:
                    note["associatedRule"] = {
                        "id": _s(result.policy.id),
                        "index": index[result.policy.id],
                    }
                execution.append(note)
        if omitted:
            execution.append(
                _notification(self._truncation_text(omitted, reasons), "warning", "truncated")
            )
        configuration = []
        for notice in report.notices:
            note = _notification(notice.message, "warning", notice.code)
            if notice.file:
                note["locations"] = [{"physicalLocation": _physical(notice.file, notice.line)}]
            configuration.append(note)

        category = "compliancegate" + (
            f"/{one_line(_s(report.environment))}" if report.environment else ""
        )
        run: dict[str, Any] = {
            "tool": {"driver": driver},
            "automationDetails": {
                "id": f"{category}/{_run_id(report)}",
                "description": {
                    "text": "compliancegate check"
                    + (f" for environment {_s(report.environment)}" if report.environment else "")
                },
            },
            "invocations": [
                {
                    "executionSuccessful": report.decision is not Decision.ERROR,
                    "exitCode": report.decision.exit_code,
                    "startTimeUtc": iso_utc(report.started_at),
                    "toolExecutionNotifications": execution,
                    "toolConfigurationNotifications": configuration,
                }
            ],
            "originalUriBaseIds": {
                SOURCE_ROOT: {
                    "description": {
                        "text": "The directory compliancegate check ran in: the repository"
                        " root in CI."
                    }
                }
            },
            "results": results,
            "properties": {
                "compliancegate": {
                    "runId": _s(report.run_id),
                    "decision": str(report.decision),
                    "environment": None if report.environment is None else _s(report.environment),
                    "failOn": str(report.fail_on),
                    "clockOverride": (
                        None if report.clock_override is None else _s(report.clock_override.value)
                    ),
                    "resultsTotal": len(entries),
                    "resultsOmitted": omitted,
                    "truncated": omitted > 0,
                }
            },
        }
        return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}

    def _truncation_text(self, omitted: int, reasons: list[str]) -> str:
        limits = []
        if "results" in reasons:
            limits.append(f"at most {self.max_results:,} results per run")
        if "size" in reasons:
            limits.append(f"at most {self.max_gzip_bytes:,} bytes gzip-compressed")
        return (
            f"{omitted:,} of the least severe results were left out to stay within GitHub code"
            f" scanning's limits ({' and '.join(limits)}); the JSON report has every violation"
        )

    @staticmethod
    def _rules(
        report: CheckReport, kept: list[_Entry]
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """One rule per policy, those with results first when there are too many to keep."""
        policies: dict[str, Policy] = {}
        for result in report.results:
            policies.setdefault(result.policy.id, result.policy)
        if len(policies) > MAX_RULES:
            wanted = list(dict.fromkeys(e.policy_id for e in kept))
            taken = set(wanted)
            rest = [p for p in policies if p not in taken]
            chosen = (wanted + rest)[:MAX_RULES]
            policies = {p: policies[p] for p in chosen}
        rules = [_rule(policy) for policy in policies.values()]
        return rules, {policy_id: i for i, policy_id in enumerate(policies)}
