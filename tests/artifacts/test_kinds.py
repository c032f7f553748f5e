"""Normalized kinds: combining several files' documents, item identity, severity mapping."""

from __future__ import annotations

import pytest

from compliancegate.artifacts import severity
from compliancegate.artifacts.kinds import KINDS, combine
from compliancegate.model import Artifact


def _vulns(path: str, *ids: str) -> Artifact:
    items = [{"id": i, "package": "p", "version": "1", "target": "t", "source": path} for i in ids]
    return Artifact(path, "trivy", "vulnerabilities", "json", {"vulnerabilities": items})


def test_list_kinds_combine_into_one_document_keeping_each_items_source() -> None:
    (merged,) = combine("vulnerabilities", [_vulns("a.json", "CVE-1"), _vulns("b.json", "CVE-2")])
    assert [v["id"] for v in merged.document["vulnerabilities"]] == ["CVE-1", "CVE-2"]
    assert [v["source"] for v in merged.document["vulnerabilities"]] == ["a.json", "b.json"]
    assert merged.document["sources"] == ["a.json", "b.json"]


def test_tests_sum_counts_and_coverage_recomputes_rates() -> None:
    def doc(kind: str, path: str, document: dict[str, object]) -> Artifact:
        return Artifact(path, "x", kind, "xml", document)

    (tests,) = combine(
        "tests",
        [
            doc("tests", "a.xml", {"tests": 3, "passed": 2, "failures": 1, "cases": [{"n": 1}]}),
            doc("tests", "b.xml", {"tests": 2, "passed": 2, "cases": [{"n": 2}]}),
        ],
    )
    assert (tests.document["tests"], tests.document["passed"], tests.document["failures"]) == (
        5,
        4,
        1,
    )
    assert len(tests.document["cases"]) == 2
    (coverage,) = combine(
        "coverage",
        [
            doc("coverage", "a.xml", {"lines_valid": 100, "lines_covered": 90}),
            doc("coverage", "b.info", {"lines_valid": 300, "lines_covered": 150}),
        ],
    )
    assert coverage.document["line_rate"] == pytest.approx(0.6)
    assert coverage.document["branch_rate"] is None


def test_per_file_kinds_are_not_combined() -> None:
    one = Artifact("a.cdx.json", "cyclonedx", "sbom", "json", {"components": []})
    two = Artifact("b.spdx.json", "spdx", "sbom", "json", {"components": []})
    assert combine("sbom", [one, two]) == [one, two]


def test_item_identity_uses_the_kinds_key_fields() -> None:
    item = {"id": "CVE-1", "package": "p", "version": "1", "target": "t", "title": "changes"}
    assert KINDS["vulnerabilities"].item_key(item) == ["CVE-1", "p", "1"]
    assert KINDS["coverage"].item_key({"line_rate": 1}) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("CRITICAL", "critical"),
        ("High", "high"),
        ("MEDIUM", "moderate"),
        ("Negligible", "low"),
        ("info", "none"),
        ("UNKNOWN", "unknown"),
        ("bogus", "unknown"),
        (None, "unknown"),
    ],
)
def test_severity_words(word: object, expected: str) -> None:
    assert severity.from_word(word) == expected


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (9.8, "critical"),
        (9.0, "critical"),
        (8.9, "high"),
        ("7.0", "high"),
        (6.9, "moderate"),
        (4.0, "moderate"),
        (3.9, "low"),
        (0.1, "low"),
        (0, "none"),
        (11, "unknown"),
        ("x", "unknown"),
        (True, "unknown"),
    ],
)
def test_severity_scores(score: object, expected: str) -> None:
    assert severity.from_score(score) == expected
