"""``--format oscal``: the run's assessment results, valid against NIST's schema whatever
the artifacts say, one observation per evaluated policy, one finding per violated control,
and the same report always the same bytes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_factory import HOSTILE, STARTED_AT, make_policy, make_report, make_result, mixed_report

from compliancegate.model import CheckReport, Status
from compliancegate.oscal.assessment import assessment_results
from compliancegate.oscal.validation import validate_oscal
from compliancegate.reporters.oscal import OscalReporter


def render(report: CheckReport) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OscalReporter().render(report))
    return document


def props(node: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in node.get("props", []) if p["name"] == name]


def test_the_mixed_report_maps_policies_to_observations_and_controls_to_findings() -> None:
    document = render(mixed_report())
    assert validate_oscal(document) == []
    (result,) = document["assessment-results"]["results"]
    observed = [props(o, "policy")[0] for o in result["observations"]]
    # Every policy but the one not applicable in this run.
    assert observed == [
        "no-critical-vulnerabilities",
        "sbom-licenses",
        "tests-pass",
        "signed-commits",
        "coverage-80",
    ]
    # Failed and errored policies break their controls; the waived one breaks none.
    findings = {props(f, "control")[0]: f for f in result["findings"]}
    assert set(findings) == {
        "iso-27001:A.5.32",
        "nist-800-53-r5:CM-10",
        "nist-800-53-r5:RA-5",
        "nist-800-53-r5:SA-11",
        "nist-800-53-r5:SI-2",
    }
    assert findings["nist-800-53-r5:SI-2"]["target"] == {
        "type": "objective-id",
        "target-id": "si-2_obj",
        "status": {"state": "not-satisfied"},
    }
    uuids = {o["uuid"]: props(o, "policy")[0] for o in result["observations"]}
    related = findings["nist-800-53-r5:SI-2"]["related-observations"]
    assert [uuids[r["observation-uuid"]] for r in related] == ["no-critical-vulnerabilities"]
    # Without a register, the reviewed controls are those the policies map to.
    reviewed = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert {c["control-id"] for c in reviewed} >= {"si-2", "ra-5", "cm-10", "a.5.32", "l2"}
    assert props(result, "decision") == [str(mixed_report().decision)]
    assert "expired-waiver" in result["remarks"]


def test_a_run_that_evaluated_nothing_still_validates() -> None:
    document = render(make_report([]))
    assert validate_oscal(document) == []
    (result,) = document["assessment-results"]["results"]
    assert result["reviewed-controls"]["control-selections"] == [{"include-all": {}}]
    assert "observations" not in result and "findings" not in result


def test_hostile_text_everywhere_still_validates() -> None:
    text = OscalReporter().render(mixed_report(HOSTILE))
    assert "\x1b" not in text and "##[" not in text and "\u202e" not in text
    assert validate_oscal(json.loads(text)) == []


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from("\n\r\t \u2028"),
    max_size=30,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(message=_TEXT, title=_TEXT, run_id=_TEXT, control=_TEXT, path=_TEXT)
def test_any_text_in_any_field_gives_a_valid_document(
    message: str, title: str, run_id: str, control: str, path: str
) -> None:
    policy = make_policy(title=title, controls=(f"std:{control}", "nist-800-53-r5:AC-2(1)"))
    from report_factory import make_violation

    violation = make_violation(policy, message=message, file=path or None)
    result = make_result(policy, Status.FAIL, [violation], blocking=True, artifacts=(path,))
    report = make_report([result], run_id=run_id)
    document = assessment_results([report], digests={path: "ab" * 32})
    assert validate_oscal(document) == [], document


def test_the_same_report_gives_the_same_bytes_and_another_run_other_uuids() -> None:
    report = mixed_report()
    first = OscalReporter().render(report)
    assert OscalReporter().render(mixed_report()) == first
    other = dataclasses.replace(report, run_id="run-2")
    second = json.loads(OscalReporter().render(other))
    uuids = {r["uuid"] for r in json.loads(first)["assessment-results"]["results"]}
    assert not uuids & {r["uuid"] for r in second["assessment-results"]["results"]}


def test_several_runs_are_one_result_each_sharing_evidence() -> None:
    runs = [dataclasses.replace(mixed_report(), run_id=f"run-{n}") for n in range(3)]
    document = assessment_results(runs, digests={"reports/trivy.json": "cd" * 32})
    assert validate_oscal(document) == []
    root = document["assessment-results"]
    assert [props(r, "run-id")[0] for r in root["results"]] == ["run-0", "run-1", "run-2"]
    artifacts = [r for r in root["back-matter"]["resources"] if r["title"] == "reports/trivy.json"]
    assert len(artifacts) == 1
    assert artifacts[0]["rlinks"][0]["hashes"][0]["value"] == "cd" * 32
    with pytest.raises(ValueError, match="at least one run"):
        assessment_results([])


def test_the_reporter_hashes_the_files_it_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular file gets its SHA-256; a missing file, a folder and a FIFO are named
    without one (and the FIFO is never opened for reading, which would block)."""
    import os

    monkeypatch.chdir(tmp_path)
    Path("scan.json").write_bytes(b'{"x": 1}')
    Path("folder").mkdir()
    os.mkfifo("pipe")
    paths = ("scan.json", "gone.json", "folder", "pipe")
    report = make_report([make_result(make_policy(), Status.PASS, artifacts=paths)])
    (result,) = render(report)["assessment-results"]["results"]
    evidence = {
        props(e, "path")[0]: props(e, "sha256")
        for e in result["observations"][0]["relevant-evidence"]
    }
    assert evidence == {
        "scan.json": [hashlib.sha256(b'{"x": 1}').hexdigest()],
        "gone.json": [],
        "folder": [],
        "pipe": [],
    }
    assert render(report)["assessment-results"]["metadata"]["last-modified"] == (
        STARTED_AT.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def test_the_digest_is_of_the_bytes_the_run_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed between the evaluation and the report (a later pipeline step, a racing
    process) must not lend its new digest to the evidence of what was judged."""
    from compliancegate.check import CheckOptions, run_check

    monkeypatch.chdir(tmp_path)
    Path("policies").mkdir()
    Path("policies/p.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Policy\nid: scan-ok\ntitle: t\ncontrols: []\n"
        "severity: high\nenforcement: block\ninput: {glob: 'release/scan.json'}\n"
        "rule: {path: ok, op: equals, value: true}\n",
        encoding="utf-8",
    )
    Path("release").mkdir()
    judged = b'{"ok": true}'
    Path("release/scan.json").write_bytes(judged)
    report = run_check(
        CheckOptions(paths=(Path("release"),), policies=(Path("policies"),), no_ledger=True)
    )
    assert dict(report.artifact_digests) == {
        "release/scan.json": hashlib.sha256(judged).hexdigest()
    }
    Path("release/scan.json").write_bytes(b'{"ok": false, "swapped": "after the run"}')
    (result,) = render(report)["assessment-results"]["results"]
    (evidence,) = result["observations"][0]["relevant-evidence"]
    assert props(evidence, "sha256") == [hashlib.sha256(judged).hexdigest()]


MARKUP = ("title", "description", "statement", "remarks")
"""OSCAL's markup-line and markup-multiline fields (props are plain strings, kept as-is)."""


def _markup(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in MARKUP and isinstance(v, str)]
        return own + [s for v in node.values() for s in _markup(v)]
    if isinstance(node, list):
        return [s for v in node for s in _markup(v)]
    return []


def test_hostile_markup_stays_inert_in_markup_fields() -> None:
    """GRC tools render OSCAL's markup fields as Markdown: an artifact's raw HTML, links,
    images and code spans reach them escaped."""
    hostile = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) `code` ![i](http://x)"
    document = render(mixed_report(hostile))
    assert validate_oscal(document) == []
    (result,) = document["assessment-results"]["results"]
    markup = [
        *(o["title"] for o in result["observations"]),
        *(o["description"] for o in result["observations"]),
        result["remarks"],
    ]
    for text in markup:
        # No raw HTML, and no "](" or "`" that a backslash does not escape.
        assert "<" not in text and not re.search(r"(?<!\\)(\]\(|`)", text), text
    assert any("&lt;img src=x onerror=alert(1)&gt;" in t for t in markup)
    assert any("\\[click\\](javascript:alert(1))" in t for t in markup)


def test_the_poam_of_hostile_findings_is_inert_and_valid() -> None:
    import datetime as dt

    from compliancegate.ledger.clocks import Clock
    from compliancegate.ledger.records import RecordKind
    from compliancegate.ledger.state import (
        Finding,
        FindingEvent,
        FindingId,
        FindingStatus,
        LedgerState,
    )
    from compliancegate.model import Severity
    from compliancegate.oscal.poam import poam

    hostile = "<script>x</script> [a](javascript:1)\n\u202e"
    at = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    clock = Clock("security-incident", ("security-incident",), Severity.HIGH, at, None, at)
    events = tuple(
        FindingEvent(n, at, kind, hostile, hostile, hostile)
        for n, kind in enumerate((RecordKind.OPENED, RecordKind.ACKED, RecordKind.PLANNED), 1)
    )
    finding = Finding(
        FindingId("0123456789abcdef"),
        hostile,
        1,
        False,
        hostile,
        hostile,
        (hostile,),
        Severity.HIGH,
        "raw",
        hostile,
        3,
        clock,
        FindingStatus.OPEN,
        at,
        hostile,
        None,
        None,
        None,
        at,
        at,
        events,
        (),
    )
    state = LedgerState(at, 3, "0" * 64, {finding.id: finding}, ())
    document = poam(state)
    assert validate_oscal(document) == []
    risk = document["plan-of-action-and-milestones"]["risks"][0]
    assert risk["status"] == "remediating"
    texts = _markup(document)
    assert len(texts) > 10
    for text in texts:
        assert "<" not in text and not re.search(r"(?<!\\)\]\(", text), text
