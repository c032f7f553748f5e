"""JUnit XML, for CI test views (Jenkins, GitLab, Azure DevOps, test-reporter actions).

One ``testsuite`` per standard (the part of each control ref before ``:``), one ``testcase``
per policy in it; a policy mapped to two standards appears in both suites, and a policy with
no controls goes in a suite named after its policy file's stem. Status mapping (documented in
``docs/reports.md``):

=============== =============================================================================
pass            passed testcase; ``system-out`` says what was checked
fail            ``failure``: message = count and first violation (plus why it does not block,
                for warn/audit or below ``--fail-on``), text = every violation
error           ``error`` with the evaluation error
not_applicable  ``skipped`` with the reason
waived          passed testcase; ``system-out`` lists the waived violations and their waivers
=============== =============================================================================

The output validates against Jenkins xUnit's ``junit-10.xsd``. The elements are built with
``junit-xml``; the one attribute it adds that the XSD rejects (``disabled``) is removed, and
the document is serialized here so that hostile text is escaped exactly once.
"""

from __future__ import annotations

import re
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, Any

from compliancegate.model import CheckReport, PolicyResult, Status, Violation
from compliancegate.reporters._common import (
    BIDI_CONTROLS,
    iso_utc,
    location_text,
    non_blocking_reason,
    not_applicable_reason,
    one_line,
    plural,
    replace_surrogates,
    truncate,
)

if TYPE_CHECKING:
    from junit_xml import TestCase

# Characters XML 1.0 cannot carry at all, not even as character references: C0 controls other
# than tab, LF and CR, and U+FFFE/U+FFFF (surrogates are replaced before this).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Legal but dangerous when the XML is printed to a terminal or CI log (C1 controls such as
# U+009B CSI, NEL, line separators, bidi overrides): written as character references, which
# parse back to the same text.
_AS_REFERENCE = re.compile("[\x7f-\x9f\u2028\u2029" + "".join(sorted(BIDI_CONTROLS)) + "]")

# GitHub workflow commands in a log: "::" at a line's start (after whitespace) and "##["
# anywhere. Only text content can produce them (attribute values never span lines and tag
# names contain neither), so a character reference for one character defuses them losslessly.
_LINE_START_COMMAND = re.compile(r"^(\s*)::", re.MULTILINE)

_MESSAGE_COLUMNS = 500
"""Longest ``message`` attribute; the element's text carries everything in full."""

_NO_CONTROLS_SUITE = "policies"


def _lf(text: str) -> str:
    """CRLF and CR as LF: XML parsers would do the same to raw CRs in text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def xml_text(text: str) -> str:
    """Text XML 1.0 can carry: illegal characters become U+FFFD and CR/CRLF become LF."""
    return _XML_ILLEGAL.sub("\ufffd", _lf(replace_surrogates(text)))


def _attribute(text: str) -> str:
    return xml_text(truncate(one_line(text), _MESSAGE_COLUMNS))


def suites_of(result: PolicyResult) -> list[str]:
    """The suite names a policy's testcase appears in: its standards, or its file's stem."""
    standards: list[str] = []
    for ref in result.policy.controls:
        standard = ref.partition(":")[0]
        if standard and standard not in standards:
            standards.append(standard)
    if standards:
        return standards
    # PureWindowsPath splits on both separators, so a stem is right for either style of path.
    return [PureWindowsPath(result.policy.file).stem or _NO_CONTROLS_SUITE]


def _violation_text(number: int, violation: Violation) -> str:
    lines = [f"{number}. {violation.message}"]
    where = location_text(violation.location)
    if where:
        lines.append(f"at {where}")
    if violation.remediation:
        lines.append(f"remediation: {violation.remediation}")
    if violation.controls:
        lines.append(f"controls: {', '.join(violation.controls)}")
    if violation.waiver is not None:
        w = violation.waiver
        lines.append(
            f"waived by {w.id} until {w.expires.isoformat()}"
            f" (approved by {w.approved_by}: {w.reason})"
        )
    lines.append(f"fingerprint: {violation.fingerprint}")
    # Line ends are normalized per field before joining: a message ending in CR would
    # otherwise merge with the joining LF into one CRLF and lose a line break. Multi-line
    # messages (schema errors, stack traces) stay indented under their number.
    text = "\n".join(_lf(line) for line in lines)
    return text.replace("\n", "\n   ")


def _violations_text(violations: tuple[Violation, ...]) -> str:
    return "\n".join(_violation_text(n, v) for n, v in enumerate(violations, start=1))


def _system_out(result: PolicyResult, report: CheckReport) -> str:
    """What was checked, for auditors reading a passed testcase as evidence."""
    policy = result.policy
    where = policy.file if policy.line is None else f"{policy.file}:{policy.line}"
    lines = [
        f"policy: {policy.id}",
        f"title: {policy.title}",
        f"status: {result.status}",
        f"severity: {policy.severity}, enforcement: {policy.enforcement}",
        f"controls: {', '.join(policy.controls) or '(none)'}",
        f"policy file: {where}",
        f"artifacts: {', '.join(result.artifacts) or '(none)'}",
    ]
    if result.blocking:
        lines.append("blocks the release")
    waived = tuple(v for v in result.violations if v.waived)
    if waived:
        lines.append(f"waived violations ({len(waived)}):")
        lines.append(_violations_text(waived))
    return "\n".join(lines)


def _failure_message(result: PolicyResult, report: CheckReport) -> str:
    open_violations = result.open_violations
    if open_violations:
        message = f"{plural(len(open_violations), 'violation')}: {open_violations[0].message}"
    else:
        message = result.error or "policy failed"
    reason = non_blocking_reason(result, report)
    return f"{message} ({reason})" if reason else message


def _testcase(suite: str, result: PolicyResult, report: CheckReport) -> TestCase:
    from junit_xml import TestCase

    policy = result.policy
    # The name is the policy id alone so that CI history (keyed by classname and name) survives
    # a change of title; the title is in system-out and in every failure message.
    case = TestCase(
        name=xml_text(policy.id),
        classname=xml_text(suite),
        stdout=xml_text(_system_out(result, report)),
    )
    title = f"{policy.id}: {policy.title}"
    if result.status is Status.FAIL:
        output = f"{title}\n{_violations_text(result.open_violations)}"
        case.add_failure_info(
            message=_attribute(_failure_message(result, report)),
            output=xml_text(output),
            failure_type="compliancegate.violation",
        )
    elif result.status is Status.ERROR:
        error = result.error or "evaluation failed"
        reason = non_blocking_reason(result, report)
        output = f"{title}\n{error}"
        if result.violations:
            output += "\n" + _violations_text(result.violations)
        case.add_error_info(
            message=_attribute(f"{error} ({reason})" if reason else error),
            output=xml_text(output),
            error_type="compliancegate.error",
        )
    elif result.status is Status.NOT_APPLICABLE:
        case.add_skipped_info(message=_attribute(not_applicable_reason(result, report)))
    return case


def _defuse(xml: str) -> str:
    xml = _AS_REFERENCE.sub(lambda m: f"&#x{ord(m.group()):X};", xml)
    xml = xml.replace("##[", "&#35;#[")
    return _LINE_START_COMMAND.sub(lambda m: m.group(1) + "&#58;:", xml)


class JUnitReporter:
    """``--format junit``: JUnit XML valid against Jenkins xUnit's ``junit-10.xsd``."""

    name = "junit"
    media_type = "application/xml"
    suffix = ".xml"

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The report as a JUnit XML document; ``color`` is ignored."""
        import xml.etree.ElementTree as ET

        from junit_xml import TestSuite

        groups: dict[str, list[PolicyResult]] = {}
        for result in report.results:
            for suite in suites_of(result):
                groups.setdefault(suite, []).append(result)

        timestamp = iso_utc(report.started_at.replace(microsecond=0))
        properties: dict[str, Any] = {
            "compliancegate.run_id": report.run_id,
            "compliancegate.decision": str(report.decision),
            "compliancegate.fail_on": str(report.fail_on),
            "compliancegate.version": report.tool_version,
        }
        if report.environment is not None:
            properties["compliancegate.environment"] = report.environment
        if report.clock_override is not None:
            properties["compliancegate.clock_override"] = (
                f"COMPLIANCEGATE_NOW={report.clock_override.value} "
                f"(system clock: {iso_utc(report.clock_override.wall_clock)})"
            )
        # Notices (break-fix enforcement off, a run that is not a release...) have no place
        # of their own in JUnit: each becomes a property, so this report says them too.
        for number, notice in enumerate(report.notices, 1):
            properties[f"compliancegate.notice.{number}"] = f"{notice.code}: {notice.message}"
        properties = {k: xml_text(v) for k, v in properties.items()}

        root = ET.Element("testsuites", {"name": "compliancegate"})
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for name in sorted(groups):
            cases = [_testcase(name, r, report) for r in groups[name]]
            suite = TestSuite(xml_text(name), cases, timestamp=timestamp, properties=properties)
            element = suite.build_xml_doc()
            # junit-xml writes disabled="0"; junit-10.xsd has no such attribute.
            element.attrib.pop("disabled", None)
            for key in totals:
                totals[key] += int(element.get(key, "0"))
            root.append(element)
        for key, value in totals.items():
            root.set(key, str(value))
        root.set("time", "0")

        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + _defuse(body) + "\n"
