"""Property tests: arbitrary Unicode in any report text never breaks a format's validity.

The alphabet covers every code point category (surrogates, controls, non-characters,
private use, unassigned) plus the sequences each format treats specially.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_factory import JUNIT_XSD, columns, make_policy, make_report, make_result, make_violation

from compliancegate.model import CheckReport, Notice, Status
from compliancegate.reporters._common import replace_surrogates
from compliancegate.reporters.json_report import JsonReporter, load_schema
from compliancegate.reporters.junit import JUnitReporter, xml_text
from compliancegate.reporters.text import TextReporter

SPECIAL = [
    "<",
    ">",
    "&",
    "]]>",
    "\x1b[31m",
    "\x9b",
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\ud800",
    "\udfff",
    "\ufffe",
    "\uffff",
    "\u202e",
    "\u2028",
    "::",
    "##[",
    "|",
    "😀",
    "宽",
    "\u0301",
]

# Multi-character pieces ("]]>", "::", "##[") need lists joined, not a one-character alphabet.
_piece = st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL))
text = st.lists(_piece, max_size=60).map("".join)
ids = st.lists(_piece, min_size=1, max_size=30).map("".join)

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_XSD = xmlschema.XMLSchema(str(JUNIT_XSD))
_VALIDATOR = jsonschema.Draft202012Validator(
    load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(policy_id: str, title: str, message: str, extra: str) -> CheckReport:
    policy = make_policy(policy_id, title=title, file=extra or "p.yaml")
    violation = make_violation(policy, message=message, remediation=extra, file=extra or None)
    errored = make_policy("errored", title=extra, controls=())
    results = [
        make_result(policy, Status.FAIL, [violation], blocking=True, artifacts=[extra]),
        make_result(errored, Status.ERROR, error=message or "x"),
    ]
    return make_report(
        results,
        notices=[Notice(code="notice", message=message, file=extra or None)],
        run_id="run-" + extra,
        environment=extra or None,
    )


@SETTINGS
@given(policy_id=ids, title=text, message=text, extra=text)
def test_json_stays_valid_and_faithful(
    policy_id: str, title: str, message: str, extra: str
) -> None:
    out = JsonReporter().render(build(policy_id, title, message, extra))
    out.encode("utf-8")
    document: dict[str, Any] = json.loads(out)
    _VALIDATOR.validate(document)
    result = document["results"][0]
    assert result["policy"]["id"] == replace_surrogates(policy_id)
    assert result["policy"]["title"] == replace_surrogates(title)
    assert result["violations"][0]["message"] == replace_surrogates(message)
    assert "##[" not in out


@SETTINGS
@given(policy_id=ids, title=text, message=text, extra=text)
def test_junit_stays_valid_and_faithful(
    policy_id: str, title: str, message: str, extra: str
) -> None:
    out = JUnitReporter().render(build(policy_id, title, message, extra))
    out.encode("utf-8")
    _XSD.validate(out)
    root = ET.fromstring(out)
    # Looked up by attribute rather than XPath, whose literals cannot quote every id.
    cases = [c for c in root.iter("testcase") if c.get("name") == xml_text(policy_id)]
    failures = [f for c in cases if (f := c.find("failure")) is not None]
    assert len(failures) == 1
    failure = failures[0]
    expected = xml_text(message).replace("\n", "\n   ")
    assert f"\n1. {expected}\n" in (failure.text or "")
    assert "##[" not in out
    for line in out.splitlines():
        assert not line.lstrip().startswith("::")


@SETTINGS
@given(policy_id=ids, title=text, message=text, extra=text)
def test_text_fits_80_columns_and_has_no_escapes(
    policy_id: str, title: str, message: str, extra: str
) -> None:
    out = TextReporter().render(build(policy_id, title, message, extra))
    out.encode("utf-8")
    assert "\x1b" not in out
    assert "##[" not in out
    for line in out.splitlines():
        if columns(line) > 80:
            # The documented exception: a URL too long for a line, alone after its indent.
            tokens = line.split()
            assert len(tokens) <= 2 and URL.fullmatch(tokens[-1]), line
        assert not line.lstrip().startswith("::")
