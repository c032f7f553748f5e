"""The normalizers as they were before they were made fast (issue 10), kept word for word
as the reference that the fast ones are proved against
(``test_normalizer_differential.py``): same items, same values, same key order, same errors.
"""

from __future__ import annotations

from typing import Any

from compliancegate.artifacts import cyclonedx, trivy
from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact


def _trivy_cvss(reader: jr.Reader, value: Any, path: str) -> float | None:
    by_source = reader.obj(value, path)
    scores: list[tuple[float | None, bool]] = []
    for name, entry in by_source.items():
        scores_of = reader.obj(entry, f"{path}.{name}")
        scores.append((jr.number(scores_of.get("V3Score")), False))
        scores.append((jr.number(scores_of.get("V40Score")), False))
        scores.append((jr.number(scores_of.get("V2Score")), True))
    return jr.best_cvss(scores)


def trivy_parse(source: Source) -> list[Artifact]:
    """``Trivy.parse`` before issue 10."""
    reader = jr.Reader(source, trivy.WHAT)
    items: list[dict[str, Any]] = []
    for path, result in trivy.results(reader):
        target = jr.text(result.get("Target"))
        for vuln_path, vuln in reader.items(
            result.get("Vulnerabilities"), f"{path}.Vulnerabilities"
        ):
            items.append(
                jr.vulnerability(
                    id=jr.text(vuln.get("VulnerabilityID")),
                    severity=sev.from_word(vuln.get("Severity")),
                    package=jr.text(vuln.get("PkgName")),
                    version=jr.version_text(vuln.get("InstalledVersion")),
                    fixed_version=jr.first_version(vuln.get("FixedVersion")),
                    title=jr.title(vuln.get("Title"), vuln.get("Description")),
                    source_tool="trivy",
                    target=target,
                    cvss=_trivy_cvss(reader, vuln.get("CVSS"), f"{vuln_path}.CVSS"),
                    state=None,
                    known_exploited=None,
                    source=source.display,
                )
            )
    normalized = {"vulnerabilities": items, "sources": [source.display]}
    return [Artifact(source.display, "trivy", "vulnerabilities", "json", normalized)]


def _cyclonedx_hashes(reader: jr.Reader, value: Any, path: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for _, item in reader.items(value, path):
        alg = jr.hash_name(item.get("alg"))
        content = jr.text(item.get("content"))
        if alg and content:
            hashes[alg] = content.lower()
    return hashes


def _cyclonedx_supplier(value: Any, publisher: Any) -> str | None:
    name = jr.text(value.get("name")) if isinstance(value, dict) else None
    return name or jr.text(publisher)


def cyclonedx_parse(source: Source) -> list[Artifact]:
    """``CycloneDx.parse`` before issue 10."""
    reader = jr.Reader(source, cyclonedx.WHAT)
    document = cyclonedx.bom_root(reader)
    _, subject = cyclonedx.metadata_of(reader, document)
    items = []
    for path, item in cyclonedx.components(reader, document):
        items.append(
            jr.component(
                name=jr.text(item.get("name")),
                version=jr.version_text(item.get("version")),
                purl=jr.text(item.get("purl")),
                type=jr.text(item.get("type")),
                licenses=cyclonedx._licenses(reader, item.get("licenses"), f"{path}.licenses"),
                supplier=_cyclonedx_supplier(item.get("supplier"), item.get("publisher")),
                hashes=_cyclonedx_hashes(reader, item.get("hashes"), f"{path}.hashes"),
                source=source.display,
            )
        )
    normalized = {
        "format": "cyclonedx",
        "spec_version": jr.version_text(document.get("specVersion")),
        "name": jr.text(subject.get("name")),
        "components": items,
    }
    return [Artifact(source.display, "cyclonedx", "sbom", "json", normalized)]


# ------------------------------------------------------------------ JUnit, before issue 10

import math as _math  # noqa: E402
import re as _re  # noqa: E402

from compliancegate.artifacts.numbers import whole_number  # noqa: E402
from compliancegate.artifacts.raw_xml import local_name  # noqa: E402
from compliancegate.artifacts.sniffing import xml_root_of  # noqa: E402

KIND = "tests"
ROOTS = ("testsuites", "testsuite")
_FAILED = ("failure", "rerunFailure", "rerunError")
_ERROR = ("error",)
_SKIPPED = ("skipped",)
_FLAKY = ("flakyFailure", "flakyError")
_PYTHON_LOCATION = _re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):(?P<line>\d+): [A-Za-z_][\w.]*$")
_THOUSANDS = _re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
math = _math


class JUnit:
    """JUnit XML from pytest, Surefire, jest-junit, go-junit-report, gotestsum and others."""

    name = "junit"
    kind = KIND
    syntax = "xml"

    def sniff(self, source: Source) -> bool:
        """A ``<testsuites>`` or ``<testsuite>`` root element."""
        root = xml_root_of(source)
        return root is not None and root[0] in ROOTS

    def parse(self, source: Source) -> list[Artifact]:
        """One ``tests`` document: counts computed from the cases, and the cases."""
        root = source.xml
        root_name = local_name(root.tag) if isinstance(root.tag, str) else ""
        if root_name not in ROOTS:
            raise source.error(
                f"not JUnit XML: the root element is <{root_name}>, "
                "expected <testsuites> or <testsuite>"
            )
        cases = [_case(element, suite, source.display) for element, suite in _walk(root)]
        counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for case in cases:
            counts[case["status"]] += 1
        document = {
            "tests": len(cases),
            "passed": counts["passed"],
            "failures": counts["failed"],
            "errors": counts["error"],
            "skipped": counts["skipped"],
            "cases": cases,
        }
        return [Artifact(source.display, self.name, self.kind, self.syntax, document, line=1)]


def _walk(root: Any) -> list[tuple[Any, str | None]]:
    """Every ``<testcase>`` with the name of the innermost suite holding it, in document
    order. Iterative, so deeply nested suites cannot exhaust the interpreter's stack."""
    found: list[tuple[Any, str | None]] = []
    stack: list[tuple[Any, str | None]] = [(iter(root), _suite_name(root))]
    while stack:
        children, suite = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if not isinstance(child.tag, str):  # comments, processing instructions
            continue
        name = local_name(child.tag)
        if name == "testcase":
            found.append((child, suite))
        elif name in ROOTS:
            stack.append((iter(child), _suite_name(child) or suite))
    return found


def _suite_name(element: Any) -> str | None:
    if isinstance(element.tag, str) and local_name(element.tag) == "testsuite":
        return _text(element.get("name"))
    return None


def _text(value: str | None) -> str | None:
    """An attribute's value, None when missing or blank."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _case(element: Any, suite: str | None, display: str) -> dict[str, Any]:
    outcome: Any = None
    status = "passed"
    flaky = False
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        if name in _FAILED:
            if status != "failed":
                status, outcome = "failed", child
        elif name in _ERROR:
            if status not in ("failed", "error"):
                status, outcome = "error", child
        elif name in _SKIPPED:
            if status == "passed":
                status, outcome = "skipped", child
        elif name in _FLAKY:
            flaky = True
    # A rerun that passed in the end is flaky; one that kept failing is a plain failure.
    flaky = flaky and status == "passed"
    file = _text(element.get("file"))
    line = _int(element.get("line"))
    if outcome is not None and file is None:
        file, line = _location_from_text(outcome)
    return {
        "suite": suite,
        "name": _text(element.get("name")),
        "classname": _text(element.get("classname")),
        "status": status,
        "time": _seconds(element.get("time")),
        "message": _message(outcome),
        "type": _text(outcome.get("type")) if outcome is not None else None,
        "flaky": flaky,
        "file": file,
        "line": line if file is not None else None,
        "source": display,
    }


def _message(outcome: Any) -> str | None:
    """The outcome's ``message`` attribute, else the first line of its text."""
    if outcome is None:
        return None
    message = _text(outcome.get("message"))
    if message is not None:
        return message
    for line in (outcome.text or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def _location_from_text(outcome: Any) -> tuple[str | None, int | None]:
    """File and line from a Python traceback's last line, where the text ends with one.

    Skip texts are not used: pytest writes the skip's absolute path on the machine that ran
    the tests, which names nothing in the repository being gated.
    """
    if local_name(outcome.tag) == "skipped":
        return None, None
    lines = [line.strip() for line in (outcome.text or "").splitlines() if line.strip()]
    match = _PYTHON_LOCATION.match(lines[-1]) if lines else None
    if match is None or match.group("file").startswith("/"):
        return None, None
    return match.group("file"), whole_number(match.group("line"), 9)


def _int(value: str | None) -> int | None:
    return whole_number(_text(value), 9)


def _seconds(value: str | None) -> float | None:
    """A case's ``time``: seconds as a float; None when empty or not a duration."""
    text = _text(value)
    if text is None:
        return None
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def junit_parse(source: Source) -> list[Artifact]:
    """``JUnit.parse`` before issue 10 (on the tree defusedxml builds)."""
    import defusedxml.ElementTree

    class _Tree:
        xml = defusedxml.ElementTree.fromstring(source.data)
        display = source.display
        error = source.error

    return JUnit().parse(_Tree)  # type: ignore[arg-type]
