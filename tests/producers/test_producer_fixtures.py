"""The producers' own output, copied into tests/fixtures (see SOURCES.md there), read without
the producers' environment: what each format makes of it, and that detection finds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from producer_project import unavailable

from compliancegate.artifacts.registry import detect, formats_for, get_format
from compliancegate.artifacts.source import Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KIB64 = 64 * 1024


def fixture(relative: str) -> Path:
    return FIXTURES / relative


def document(relative: str, format_name: str) -> dict[str, Any]:
    """The normalized document of the fixture ``relative`` read as ``format_name``."""
    fmt = get_format(format_name)
    assert fmt is not None, format_name
    (artifact,) = fmt.parse(Source(fixture(relative), relative))
    result: dict[str, Any] = json.loads(json.dumps(artifact.document))
    return result


def by_id(items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    (found,) = [i for i in items if all(i.get(k) == v for k, v in fields.items())]
    return found


def detected(path: Path) -> str | None:
    fmt = detect(Source(path, path.name))
    return fmt.name if fmt is not None else None


def claimed(path: Path) -> list[str]:
    return [f.name for f in formats_for(Source(path, path.name))]


def test_bandit_sarif() -> None:
    doc = document("sarif/bandit-1.9.4.sarif", "sarif")
    b602 = by_id(doc["findings"], rule_id="B602")
    assert (b602["tool"], b602["level"], b602["file"], b602["line"]) == (
        "Bandit", "error", "src/sampleapp/core.py", 16,
    )  # fmt: skip
    assert by_id(doc["findings"], rule_id="B404")["level"] == "note"


def test_ruff_sarif() -> None:
    (f401,) = document("sarif/ruff-0.17.6.sarif", "sarif")["findings"]
    assert (f401["tool"], f401["rule_id"], f401["level"], f401["line"]) == (
        "ruff", "F401", "error", 1,
    )  # fmt: skip
    assert f401["file"] == "file:///tmp/sampleapp/small/project/src/sampleapp/core.py"


def test_cyclonedx_py_sbom() -> None:
    doc = document("sbom/cyclonedx-py-7.5.0-requirements.cdx.json", "cyclonedx")
    assert (doc["format"], doc["spec_version"], doc["name"]) == ("cyclonedx", "1.6", "sampleapp")
    requests = by_id(doc["components"], name="requests")
    assert (requests["version"], requests["purl"]) == ("2.19.1", "pkg:pypi/requests@2.19.1")


def test_pytest_junit() -> None:
    doc = document("junit/pytest-9.2.0.xml", "junit")
    assert (doc["tests"], doc["passed"], doc["failures"]) == (4, 3, 1)
    failed = by_id(doc["cases"], status="failed")
    assert (failed["name"], failed["file"], failed["line"]) == (
        "test_positive", "tests/test_core.py", 13,
    )  # fmt: skip


def test_coveragepy_cobertura_and_lcov_agree() -> None:
    cobertura = document("coverage/coveragepy-7.17.5-branch.cobertura.xml", "cobertura")
    lcov = document("coverage/coveragepy-7.17.5-branch.info", "lcov")
    keys = ("line_rate", "branch_rate", "lines_valid", "lines_covered", "branches_valid",
            "branches_covered")  # fmt: skip
    assert {k: cobertura[k] for k in keys} == {k: lcov[k] for k in keys} == {
        "line_rate": 1.0, "branch_rate": 1.0, "lines_valid": 12, "lines_covered": 12,
        "branches_valid": 4, "branches_covered": 4,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("sarif/bandit-1.9.4.sarif", "sarif"),
        ("sarif/ruff-0.17.6.sarif", "sarif"),
        ("sarif/bandit-1.9.4-240-files.sarif", "sarif"),
        ("sbom/cyclonedx-py-7.5.0-requirements.cdx.json", "cyclonedx"),
        ("sbom/cyclonedx-py-7.5.0-202-pins.cdx.json", "cyclonedx"),
        ("junit/pytest-9.2.0.xml", "junit"),
        ("coverage/coveragepy-7.17.5-branch.cobertura.xml", "cobertura"),
        ("coverage/coveragepy-7.17.5-branch.info", "lcov"),
    ],
)
def test_detected_as_written(relative: str, expected: str) -> None:
    path = fixture(relative)
    assert detected(path) == expected
    assert claimed(path)[0] == expected


@pytest.mark.parametrize(
    ("relative", "marker"),
    [
        ("sarif/bandit-1.9.4-240-files.sarif", b'"$schema"'),
        ("sbom/cyclonedx-py-7.5.0-202-pins.cdx.json", b'"bomFormat"'),
    ],
)
def test_large_outputs_have_their_markers_past_64_kib(relative: str, marker: bytes) -> None:
    """The premise of the large fixtures: the producer wrote its format marker last."""
    assert fixture(relative).read_bytes().index(marker) > KIB64


def test_large_outputs_read_whole() -> None:
    sarif = document("sarif/bandit-1.9.4-240-files.sarif", "sarif")
    assert {f["rule_id"] for f in sarif["findings"]} == {"B404", "B602"}
    sbom = document("sbom/cyclonedx-py-7.5.0-202-pins.cdx.json", "cyclonedx")
    assert len(sbom["components"]) == 202


@pytest.mark.parametrize("ci", ["true", "TRUE", "1", "yes"])
def test_no_index_fails_in_ci(ci: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true and the producers cannot be"):
        unavailable("pip install exited 1: No matching distribution found for bandit", ci)


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_no_index_skips_elsewhere_with_the_reason(ci: str | None) -> None:
    with pytest.raises(pytest.skip.Exception, match="No matching distribution found for bandit"):
        unavailable("pip install exited 1: No matching distribution found for bandit", ci)
