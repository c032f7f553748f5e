"""Evidence sidecars: ``NAME.evidence.yaml`` describing ``NAME``; the SHA-256 is checked, a
mismatch or a missing file is an error naming both files and ends every policy reading it in
``error`` (never a pass); the sidecar's schema; detection; hostile sidecars."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_corpus import detected, gate, parse, read_hostile

from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Decision, InputSpec, Status

Write = Callable[[str, "str | bytes"], Path]

REPORT = b"%PDF-1.7 penetration test report, final\n"
REPORT_SHA256 = hashlib.sha256(REPORT).hexdigest()


def sidecar(sha256: str = REPORT_SHA256, extra: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        # Annual penetration test, delivered by the assessor.
        type: penetration-test
        collected_at: 2026-03-01
        expires: "2027-03-01T00:00:00Z"
        source: Example Assessors LLC, engagement 2026-PT-07
        sha256: {sha256}
        attested_by: ciso@example.com
        """
        )
        + extra
    )


@pytest.fixture
def evidence(artifact_file: Write) -> Path:
    """``evidence/pentest.pdf`` and its sidecar ``evidence/pentest.pdf.evidence.yaml``."""
    artifact_file("evidence/pentest.pdf", REPORT)
    return artifact_file("evidence/pentest.pdf.evidence.yaml", sidecar())


def test_matching_evidence(evidence: Path) -> None:
    (artifact,) = parse(evidence, "evidence", "evidence/pentest.pdf.evidence.yaml")
    assert artifact.kind == "evidence"
    assert artifact.document == {
        "type": "penetration-test",
        "collected_at": "2026-03-01",  # dates stay ISO strings
        "expires": "2027-03-01T00:00:00Z",
        "source": "Example Assessors LLC, engagement 2026-PT-07",
        "sha256": REPORT_SHA256,
        "attested_by": "ciso@example.com",
        "file": "evidence/pentest.pdf",
        "sha256_verified": True,
    }
    assert artifact.line == 2


def test_uppercase_digest_and_optional_fields(artifact_file: Write) -> None:
    artifact_file("scan.json", REPORT)
    path = artifact_file(
        "scan.json.evidence.yml",
        "type: vulnerability-scan\ncollected_at: 2026-01-02T03:04\n"
        f"sha256: {REPORT_SHA256.upper()}\n",
    )
    (artifact,) = parse(path, "evidence")
    assert artifact.document["sha256"] == REPORT_SHA256
    assert (artifact.document["expires"], artifact.document["attested_by"]) == (None, None)
    assert artifact.document["file"] == "scan.json"


def test_changed_file_is_an_error_naming_both(evidence: Path) -> None:
    (evidence.parent / "pentest.pdf").write_bytes(REPORT + b"edited\n")
    with pytest.raises(ArtifactError) as caught:
        parse(evidence, "evidence", "evidence/pentest.pdf.evidence.yaml")
    error = caught.value
    assert error.file == "evidence/pentest.pdf.evidence.yaml"
    assert error.line == 6  # the sha256 line
    assert "evidence changed since it was attested" in error.message
    assert "evidence/pentest.pdf has SHA-256" in error.message
    assert REPORT_SHA256 in error.message


def test_missing_file_is_an_error_naming_both(evidence: Path) -> None:
    (evidence.parent / "pentest.pdf").unlink()
    with pytest.raises(ArtifactError) as caught:
        parse(evidence, "evidence", "evidence/pentest.pdf.evidence.yaml")
    assert caught.value.file == "evidence/pentest.pdf.evidence.yaml"
    assert (
        "evidence/pentest.pdf, described by evidence/pentest.pdf.evidence.yaml, does not exist"
        in caught.value.message
    )


def test_described_folder_is_an_error(artifact_file: Write) -> None:
    artifact_file("reports/keep", "x")
    path = artifact_file("reports.evidence.yaml", sidecar())
    with pytest.raises(ArtifactError) as caught:
        parse(path, "evidence")
    assert "is a directory" in caught.value.message


def test_described_file_over_the_size_limit(evidence: Path) -> None:
    source = Source(evidence, "pentest.pdf.evidence.yaml", max_bytes=len(REPORT) - 1)
    from compliancegate.artifacts.evidence import FORMAT

    with pytest.raises(ArtifactError) as caught:
        FORMAT.parse(source)
    assert "larger than the" in caught.value.message


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        (sidecar(extra="notes: great\n"), "unknown key 'notes'", 8),
        (sidecar(sha256="abc"), "sha256", 6),
        (
            sidecar().replace("collected_at: 2026-03-01", "collected_at: 2026-02-30"),
            "not a valid date",
            3,
        ),
        (
            sidecar().replace("collected_at: 2026-03-01", "collected_at: last week"),
            "collected_at",
            3,
        ),
        (sidecar().replace("type: penetration-test\n", ""), "'type' is a required property", 2),
        (
            sidecar().replace("attested_by: ciso@example.com", "attested_by: [a, b]"),
            "attested_by",
            7,
        ),
        ("type: x\n---\ntype: y\n", "expected one evidence document, found 2", None),
        ("- type: x\n", "not of type 'object'", 1),
        ("type: [unclosed\n", "", None),
    ],
)
def test_invalid_sidecars(artifact_file: Write, text: str, problem: str, line: int | None) -> None:
    artifact_file("pentest.pdf", REPORT)
    path = artifact_file("pentest.pdf.evidence.yaml", text)
    with pytest.raises(ArtifactError) as caught:
        parse(path, "evidence")
    assert caught.value.file == "pentest.pdf.evidence.yaml"
    assert problem in caught.value.message
    if line is not None:
        assert caught.value.line == line


def test_detection(artifact_file: Write, evidence: Path) -> None:
    assert detected(evidence) == "evidence"
    # No sha256 yet: still claimed (and refused by the schema), not read as plain YAML.
    assert detected(artifact_file("a.txt.evidence.yaml", "type: x\n")) == "evidence"
    # Named like a sidecar, but not one: claimed, and refused by parse naming the file
    # (tests/artifacts/test_evidence_styles.py); a sidecar's keys under another name.
    assert detected(artifact_file("b.evidence.yaml", "name: something else\n")) == "evidence"
    assert detected(artifact_file("evidence.yaml", sidecar())) == "yaml"
    assert detected(artifact_file(".evidence.yaml", sidecar())) == "yaml"


# --------------------------------------------------------------------------- through a gate

FRESH_PENTEST = """\
apiVersion: compliancegate/v1
kind: Policy
id: pentest-fresh
title: A penetration test was collected within the last year
controls: [nist-800-53-r5:CA-8]
severity: high
enforcement: block
input: evidence
rule:
  all:
    - {path: type, op: equals, value: penetration-test}
    - {path: collected_at, op: newer_than, value: 365d}
message: "{item.type} {item.file} collected {item.collected_at}"
"""


def run_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Status, Decision, str]:
    monkeypatch.chdir(tmp_path)
    report = gate(
        tmp_path,
        FRESH_PENTEST,
        [tmp_path / "evidence"],
        now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )
    (result,) = report.results
    return result.status, report.decision, result.error or ""


def test_gate_passes_on_matching_evidence(
    tmp_path: Path, evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_gate(tmp_path, monkeypatch) == (Status.PASS, Decision.COMPLIANT, "")


def test_gate_errors_on_changed_evidence(
    tmp_path: Path, evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (evidence.parent / "pentest.pdf").write_bytes(b"a different report")
    status, decision, error = run_gate(tmp_path, monkeypatch)
    assert (status, decision) == (Status.ERROR, Decision.ERROR)  # blocks; never a pass
    assert "evidence/pentest.pdf.evidence.yaml" in error
    assert "evidence changed since it was attested" in error


def test_gate_errors_on_missing_evidence_file(
    tmp_path: Path, evidence: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (evidence.parent / "pentest.pdf").unlink()
    status, decision, error = run_gate(tmp_path, monkeypatch)
    assert (status, decision) == (Status.ERROR, Decision.ERROR)
    assert "evidence/pentest.pdf, described by" in error


def test_each_sidecar_is_its_own_document(
    tmp_path: Path, evidence: Path, artifact_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    review = b"user,ok\n"
    artifact_file("evidence/review.csv", review)
    artifact_file(
        "evidence/review.csv.evidence.yaml",
        "type: access-review\ncollected_at: 2026-05-01\n"
        f"sha256: {hashlib.sha256(review).hexdigest()}\n",
    )
    selection = ArtifactStore([Path("evidence")]).select(InputSpec(kind="evidence"))
    assert selection.errors == ()
    assert sorted(a.document["file"] for a in selection.artifacts) == [
        "evidence/pentest.pdf",
        "evidence/review.csv",
    ]


# --------------------------------------------------------------------------- hostile input


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1024))
def test_arbitrary_sidecar_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.bin").write_bytes(REPORT)
    path = folder / "x.bin.evidence.yaml"
    path.write_bytes(data)
    read_hostile(path, "evidence")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.dictionaries(
        st.sampled_from(["type", "collected_at", "expires", "source", "sha256", "attested_by"]),
        st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.just(REPORT_SHA256),
            st.sampled_from(["2026-01-01", "2026-13-01", "2026-01-01T25:00:00Z", "9999-12-31"]),
        ),
    )
)
def test_arbitrary_sidecar_values(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, object]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.bin").write_bytes(REPORT)
    path = folder / "x.bin.evidence.yaml"
    path.write_text(json.dumps(values), encoding="utf-8")  # JSON is YAML
    read_hostile(path, "evidence")
