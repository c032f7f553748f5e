"""JUnit XML test reports, normalized to the ``tests`` kind.

There is no single JUnit schema: pytest, Maven Surefire, jest-junit, go-junit-report and
gotestsum each write their own dialect, and the count attributes they put on ``<testsuite>``
are often missing or wrong (a Surefire rerun report says ``tests="3"`` for one test case).
So counts are computed from the ``<testcase>`` elements themselves, never read from
attributes, and suites may nest to any depth.

Status of a case, from its children: ``<failure>`` is failed, ``<error>`` is error,
``<skipped>`` is skipped, none of them is passed. Surefire's reruns: ``<flakyFailure>`` or
``<flakyError>`` without a final ``<failure>``/``<error>`` means the test failed and then
passed on a rerun, so it counts as passed with ``flaky: true``; ``<rerunFailure>`` or
``<rerunError>`` accompany a test that failed every rerun, and count as failed even alone.
"""

from __future__ import annotations

import math
import re
from typing import Any

from compliancegate.artifacts.numbers import whole_number
from compliancegate.artifacts.raw_xml import local_name
from compliancegate.artifacts.sniffing import xml_root_of
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

KIND = "tests"
ROOTS = ("testsuites", "testsuite")

_FAILED = ("failure", "rerunFailure", "rerunError")
_ERROR = ("error",)
_SKIPPED = ("skipped",)
_FLAKY = ("flakyFailure", "flakyError")

# The last line of a Python traceback as pytest writes it: ``tests/test_x.py:25: AssertionError``.
# It names the test's own file and the failing line, so it is a reliable location; other
# producers' text (Go's ``fail_test.go:6:``, a JavaScript stack) names files relative to
# something unknown and is not used.
_PYTHON_LOCATION = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):(?P<line>\d+): [A-Za-z_][\w.]*$")
# Surefire wrote times with thousands separators before 3.0 (``1,234.567``).
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


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
    names: dict[str, str] = {}  # local names by tag: a report repeats a few tags
    while stack:
        children, suite = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        tag = child.tag
        if not isinstance(tag, str):  # comments, processing instructions
            continue
        name = names.get(tag)
        if name is None:
            name = names[tag] = local_name(tag)
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
    if not len(element):
        # No child: passed (most cases of a large report), without the outcome's look-ups.
        get = element.get
        file = _text(get("file"))
        return {
            "suite": suite,
            "name": _text(get("name")),
            "classname": _text(get("classname")),
            "status": "passed",
            "time": _seconds(get("time")),
            "message": None,
            "type": None,
            "flaky": False,
            "file": file,
            "line": _int(get("line")) if file is not None else None,
            "source": display,
        }
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
    if "," in text and _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


FORMAT = JUnit()
