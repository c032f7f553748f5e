"""The JSON report: a stable, documented document (``apiVersion: compliancegate/v1``).

The layout is fixed by ``schemas/check-report.schema.json`` and documented field by field in
``docs/json-report.md``. Within ``compliancegate/v1`` fields are only ever added, never
renamed, removed or retyped. Named ``json_report`` so that it cannot shadow the stdlib module.
"""

from __future__ import annotations

import json
import re
from typing import Any

from compliancegate.model import CheckReport, ClockOverride, PolicyResult, Violation, Waiver
from compliancegate.reporters._common import BIDI_CONTROLS, iso_utc, replace_surrogates, summarize

API_VERSION = "compliancegate/v1"
KIND = "CheckReport"
TOOL_NAME = "compliancegate"
SCHEMA_RESOURCE = "check-report.schema.json"

# Characters written as \uXXXX escapes although JSON allows them raw: C1 controls (U+009B is
# a terminal CSI), line/paragraph separators and bidi controls. The escapes decode to the same
# string, so the data is unchanged, but a report printed to a terminal or a CI log cannot drive
# it. They can only occur inside strings: every key and structural character is ASCII.
_ESCAPE_RAW = re.compile(
    "[\x7f-\x9f\u2028\u2029" + "".join(sorted(BIDI_CONTROLS)) + "]",
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _s(text: str) -> str:
    return replace_surrogates(text)


def _opt(text: str | None) -> str | None:
    return None if text is None else replace_surrogates(text)


def _waiver(waiver: Waiver | None) -> dict[str, Any] | None:
    if waiver is None:
        return None
    return {
        "id": _s(waiver.id),
        "reason": _s(waiver.reason),
        "approved_by": _s(waiver.approved_by),
        "expires": waiver.expires.isoformat(),
    }


def _violation(violation: Violation) -> dict[str, Any]:
    return {
        "fingerprint": _s(violation.fingerprint),
        "message": _s(violation.message),
        "remediation": _opt(violation.remediation),
        "severity": str(violation.severity),
        "controls": [_s(c) for c in violation.controls],
        "kind": _s(violation.kind),
        "location": {"file": _opt(violation.location.file), "line": violation.location.line},
        "waiver": _waiver(violation.waiver),
    }


def _result(result: PolicyResult) -> dict[str, Any]:
    policy = result.policy
    return {
        "policy": {
            "id": _s(policy.id),
            "title": _s(policy.title),
            "severity": str(policy.severity),
            "enforcement": str(policy.enforcement),
            "controls": [_s(c) for c in policy.controls],
            "file": _s(policy.file),
            "line": policy.line,
        },
        "status": str(result.status),
        "blocking": result.blocking,
        "error": _opt(result.error),
        "artifacts": [_s(a) for a in result.artifacts],
        "violations": [_violation(v) for v in result.violations],
    }


def _clock_override(override: ClockOverride | None) -> dict[str, Any] | None:
    if override is None:
        return None
    return {
        "variable": "COMPLIANCEGATE_NOW",
        "value": _s(override.value),
        "now": iso_utc(override.now),
        "wall_clock": iso_utc(override.wall_clock),
    }


def build_document(report: CheckReport) -> dict[str, Any]:
    """The report as a JSON-ready dict, keys in the documented order.

    Public so that the ledger and evidence bundles can embed the same document without
    re-parsing rendered text.
    """
    summary = summarize(report)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "tool": {"name": TOOL_NAME, "version": _s(report.tool_version)},
        "run": {
            "id": _s(report.run_id),
            "started_at": iso_utc(report.started_at),
            "environment": _opt(report.environment),
            "fail_on": str(report.fail_on),
            "paths": [_s(p) for p in report.paths],
            "ledger": _opt(report.ledger),
            "clock_override": _clock_override(report.clock_override),
        },
        "decision": str(report.decision),
        "summary": {
            "policies": summary.policies,
            "pass": summary.passed,
            "fail": summary.failed,
            "error": summary.errors,
            "not_applicable": summary.not_applicable,
            "waived": summary.waived,
            "violations": summary.violations,
            "waived_violations": summary.waived_violations,
            "blocking": summary.blocking,
        },
        "results": [_result(r) for r in report.results],
        "notices": [
            {"code": _s(n.code), "message": _s(n.message), "file": _opt(n.file), "line": n.line}
            for n in report.notices
        ],
        "coverage": {
            "controls": report.coverage.controls,
            "implemented": report.coverage.implemented,
            "gaps": [_s(g) for g in report.coverage.gaps],
        },
    }


def indented(document: Any) -> str:
    """``document`` as JSON with two-space indentation and UTF-8 text: the bytes
    ``json.dumps(document, indent=2, ensure_ascii=False)`` gives, by orjson.

    The standard library's C encoder is off whenever ``indent`` is set, and the pure-Python
    one took most of the time of a large run's reports (a 20 MB report: 0.5 s against
    0.012 s). orjson writes the same text for everything a report holds (strings, integers,
    booleans, null, lists, objects with string keys), except the exponent of a float
    (``1e-5`` for ``1e-05``), which reports do not hold. What it refuses (an integer past 64
    bits, a lone surrogate) goes through the standard library as before.
    """
    import orjson

    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
    except TypeError:
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)


def dumps(document: dict[str, Any]) -> str:
    """Serialize a document the way the reporter does: deterministic, indented, UTF-8 text."""
    text = indented(document)
    # "##[" is GitHub's legacy workflow-command marker, honoured anywhere in a log line; "#"
    # written as \u0023 decodes to the same string. Keys never contain "#", so only string
    # values change.
    text = text.replace("##[", "\\u0023#[")
    return _ESCAPE_RAW.sub(_escape, text) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every JSON report validates against."""
    from importlib.resources import files

    resource = files("compliancegate.reporters").joinpath("schemas", SCHEMA_RESOURCE)
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


class JsonReporter:
    """``--format json``: the documented ``compliancegate/v1`` CheckReport document."""

    name = "json"
    media_type = "application/json"
    suffix = ".json"

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The report as indented JSON; ``color`` is ignored."""
        return dumps(build_document(report))
