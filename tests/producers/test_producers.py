"""The gate on artifacts written by the real producers (see conftest.py): what
``compliancegate parse`` makes of each, and the verdict of ``compliancegate check`` (run as a
subprocess on a release folder) on the failing and the clean sample project, as written, with
keys sorted (``jq -S``) or reversed, padded past 64 KiB and 1 MiB, and as written by the
producers for a large project (the markers of Bandit's SARIF and of cyclonedx-py's SBOM at the
end, past 64 KiB).

Every variant of one project must give the same normalized documents and the same verdict:
a format's detection may depend neither on key order nor on size.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from producer_project import ARTIFACT_FILES, FIXED, VULNERABLE, Build, Producers
from release_variants import GATE_POLICIES, SAMPLE_POLICIES_YAML, pad_json, pad_xml, serialize

from compliancegate.cli import run

pytestmark = pytest.mark.producers

ROOT = Path(__file__).resolve().parents[2]
KIB64 = 64 * 1024

JSON_ARTIFACTS = ("bandit", "ruff", "sbom")
XML_ARTIFACTS = ("junit", "cobertura")


@dataclass(frozen=True)
class Gate:
    """The outcome of one ``compliancegate check`` subprocess."""

    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def result(self, policy: str) -> dict[str, Any]:
        assert self.report is not None, self.stderr
        (found,) = [r for r in self.report["results"] if r["policy"]["id"] == policy]
        return found

    def messages(self, policy: str) -> list[str]:
        return [v["message"] for v in self.result(policy)["violations"]]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLIANCEGATE_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return subprocess.run(
        [sys.executable, "-m", "compliancegate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def parse(path: Path, cwd: Path) -> Any:
    """The document ``compliancegate parse`` prints for ``path`` (relative to ``cwd``), run
    as a subprocess."""
    done = cli("parse", str(path.relative_to(cwd)), cwd=cwd)
    assert done.returncode == 0, f"parse {path.name}: exit {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def parse_in_process(path: Path) -> Any:
    """The same as ``parse``, through click's runner (the many variants stay fast)."""
    with CliRunner().isolation() as (out, err, _):
        code = run(["parse", str(path)])
    assert code == 0, f"parse {path}: exit {code}: {err.getvalue().decode()}"
    return json.loads(out.getvalue())


@pytest.fixture(scope="session")
def documents(build: Callable[[str], Build]) -> Callable[[str], dict[str, Any]]:
    """``documents(variant)``: what ``compliancegate parse`` makes of each artifact as the
    producer wrote it, computed once per variant."""
    cache: dict[str, dict[str, Any]] = {}

    def get(variant: str) -> dict[str, Any]:
        if variant not in cache:
            built = build(variant)
            cache[variant] = {n: parse(p, built.out) for n, p in built.artifacts.items()}
        return cache[variant]

    return get


@pytest.fixture(scope="session")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter policies that fit these artifacts, and the sample's own."""
    folder = tmp_path_factory.mktemp("policies")
    for name in GATE_POLICIES:
        shutil.copy(ROOT / "policies" / name, folder / name)
    (folder / "sample.yaml").write_text(SAMPLE_POLICIES_YAML)
    return folder


def release(root: Path, build: Build, order: str, size: int | None) -> Path:
    """A release folder ``root/release`` holding ``build``'s artifacts under ``reports/``,
    JSON ones re-serialized in ``order`` (``as-written`` keeps the producer's bytes unless
    padded), JSON and XML ones padded to exactly ``size`` bytes when given."""
    reports = root / "release" / "reports"
    reports.mkdir(parents=True)
    for name, source in build.artifacts.items():
        target = reports / source.name
        if name in JSON_ARTIFACTS and (order != "as-written" or size is not None):
            data = json.loads(source.read_text(encoding="utf-8"))
            text = serialize(data, order) if size is None else pad_json(name, data, order, size)
            target.write_text(text, encoding="utf-8")
        elif name in XML_ARTIFACTS and size is not None:
            target.write_bytes(pad_xml(source.read_bytes(), size))
        else:
            shutil.copy(source, target)
    return root / "release"


def gate(root: Path, policies: Path) -> Gate:
    done = cli(
        "check", "release",
        "--policies", str(policies),
        "--register", str(ROOT / "registers"),
        "--ledger", str(root / "ledger"),
        "--report", f"json={root / 'report.json'}",
        cwd=root,
    )  # fmt: skip
    report_file = root / "report.json"
    report = json.loads(report_file.read_text("utf-8")) if report_file.exists() else None
    return Gate(done.returncode, done.stdout, done.stderr, report)


# --- What each producer wrote, as the policies see it -------------------------------------


def test_producers_installed_as_pinned(producers: Producers) -> None:
    assert producers.versions == {
        "cyclonedx-bom": "7.5.0",
        "bandit": "1.9.4",
        "ruff": "0.17.6",
        "coverage": "7.17.5",
        "pytest": "9.2.0",
    }


def test_failing_project_documents(
    build: Callable[[str], Build], documents: Callable[[str], dict[str, Any]]
) -> None:
    built = build("failing")
    assert built.exit_codes == {"bandit": 1, "ruff": 1, "pytest": 1}
    docs = documents("failing")

    bandit = {f["rule_id"]: f for f in docs["bandit"]["findings"]}
    assert bandit["B602"] | {"message": None} == {
        "tool": "Bandit",
        "rule_id": "B602",
        "level": "error",
        "message": None,
        "file": "src/sampleapp/core.py",
        "line": 16,
        "fingerprint": None,
        "security_severity": None,
        "suppressed": False,
        "source": "bandit.sarif",
    }
    assert "shell=True" in bandit["B602"]["message"]
    assert bandit["B404"]["level"] == "note"  # import subprocess: low severity
    assert docs["bandit"]["sources"] == ["bandit.sarif"]

    (ruff,) = docs["ruff"]["findings"]
    assert (ruff["tool"], ruff["rule_id"], ruff["level"], ruff["line"]) == (
        "ruff", "F401", "error", 1,
    )  # fmt: skip
    assert ruff["message"] == "`os` imported but unused"
    # Ruff writes absolute file:// URIs; they are kept as written (docs/artifacts.md).
    assert ruff["file"] == (built.project / "src/sampleapp/core.py").as_uri()

    junit = docs["junit"]
    assert {k: junit[k] for k in ("tests", "passed", "failures", "errors", "skipped")} == {
        "tests": 4, "passed": 3, "failures": 1, "errors": 0, "skipped": 0,
    }  # fmt: skip
    (failed,) = [c for c in junit["cases"] if c["status"] == "failed"]
    assert (failed["name"], failed["classname"], failed["file"], failed["line"]) == (
        "test_positive", "tests.test_core", "tests/test_core.py", 13,
    )  # fmt: skip
    assert failed["message"].startswith("AssertionError: assert 'positive' == 'negative'")

    # Both of coverage.py's reports measure the same run: src/ only, branches on.
    for name in ("cobertura", "lcov"):
        doc = docs[name]
        assert (doc["lines_valid"], doc["lines_covered"]) == (12, 12), name
        assert (doc["branches_valid"], doc["branches_covered"]) == (4, 4), name
        assert doc["line_rate"] == 1.0 and doc["branch_rate"] == 1.0, name
    # Cobertura's paths are relative to its <source> (src), lcov's to the working directory.
    cobertura_files = {f["path"]: f["lines_valid"] for f in docs["cobertura"]["files"]}
    assert cobertura_files["sampleapp/core.py"] == 12
    lcov_files = {f["path"]: f["lines_valid"] for f in docs["lcov"]["files"]}
    assert lcov_files["src/sampleapp/core.py"] == 12

    sbom = docs["sbom"]
    assert (sbom["format"], sbom["spec_version"], sbom["name"]) == (
        "cyclonedx", "1.6", "sampleapp",
    )  # fmt: skip
    components = {c["name"]: c for c in sbom["components"]}
    assert components["requests"] | {"source": None} == {
        "name": "requests",
        "version": VULNERABLE[1],
        "purl": f"pkg:pypi/requests@{VULNERABLE[1]}",
        "type": "library",
        "licenses": [],
        "supplier": None,
        "hashes": {},
        "source": None,
    }
    assert set(components) == {"requests", "click"}


def test_clean_project_documents(
    build: Callable[[str], Build], documents: Callable[[str], dict[str, Any]]
) -> None:
    built = build("clean")
    assert built.exit_codes == {"bandit": 1, "ruff": 0, "pytest": 0}
    docs = documents("clean")
    bandit = docs["bandit"]["findings"]
    # subprocess without a shell: low-severity notes only.
    assert sorted((f["rule_id"], f["level"]) for f in bandit) == [
        ("B404", "note"), ("B603", "note"),
    ]  # fmt: skip
    assert docs["ruff"] == {"findings": [], "sources": ["ruff.sarif"]}
    junit = docs["junit"]
    assert (junit["tests"], junit["passed"]) == (4, 4)
    sbom = docs["sbom"]
    assert {(c["name"], c["version"]) for c in sbom["components"]} == {FIXED, ("click", "8.1.7")}


@pytest.mark.parametrize("variant", ["large-failing", "large-clean"])
def test_large_outputs_put_their_markers_past_64_kib(
    build: Callable[[str], Build], variant: str
) -> None:
    """The premise of the large variants: as the producers write them, Bandit's SARIF
    names its version and schema, and cyclonedx-py's SBOM its format, only past 64 KiB."""
    built = build(variant)
    bandit = built.artifacts["bandit"].read_bytes()
    assert bandit.rindex(b'"version": "2.1.0"') > KIB64
    assert bandit.rindex(b'"$schema"') > KIB64
    sbom = built.artifacts["sbom"].read_bytes()
    assert sbom.index(b'"bomFormat"') > KIB64
    assert sbom.index(b'"specVersion"') > KIB64


@pytest.mark.parametrize("variant", ["large-failing", "large-clean"])
def test_large_outputs_parse_as_their_formats(build: Callable[[str], Build], variant: str) -> None:
    built = build(variant)
    bandit = parse(built.artifacts["bandit"], built.out)
    assert isinstance(bandit, dict) and "findings" in bandit, "Bandit SARIF read as raw JSON"
    rules = {f["rule_id"] for f in bandit["findings"]}
    assert rules == ({"B404", "B602"} if variant == "large-failing" else {"B404", "B603"})
    sbom = parse(built.artifacts["sbom"], built.out)
    assert isinstance(sbom, dict) and sbom.get("format") == "cyclonedx", "SBOM read as raw JSON"
    assert len(sbom["components"]) == 202
    junit = parse(built.artifacts["junit"], built.out)
    assert junit["tests"] == 244


# --- The verdicts ---------------------------------------------------------------------------

ORDERS = ("as-written", "sorted", "reversed")
SIZES = (None, KIB64 - 1, KIB64 + 1, KIB64 + 512, 1024 * 1024 + 1)
"""Padded file sizes: just inside the first 64 KiB, just past it (the markers written last
still inside), past it with the markers too, past 1 MiB."""

CASES = [
    pytest.param(variant, order, size, id=f"{variant}-{order}-{size or 'unpadded'}")
    for variant in ("failing", "clean")
    for order in ORDERS
    for size in SIZES
] + [
    pytest.param(variant, order, None, id=f"{variant}-{order}")
    for variant in ("large-failing", "large-clean")
    for order in ORDERS
]


@pytest.mark.parametrize(("variant", "order", "size"), CASES)
def test_gate_verdict(
    build: Callable[[str], Build],
    documents: Callable[[str], dict[str, Any]],
    policies: Path,
    tmp_path: Path,
    variant: str,
    order: str,
    size: int | None,
) -> None:
    built = build(variant)
    folder = release(tmp_path, built, order, size)
    reports = folder / "reports"
    if size is not None:
        for name in (*JSON_ARTIFACTS, *XML_ARTIFACTS):
            assert (reports / ARTIFACT_FILES[name]).stat().st_size == size, name

    # Every file reads as the same normalized document as the producer's own bytes.
    originals = documents(variant)
    for name, original in built.artifacts.items():
        variant_doc = parse_in_process(reports / original.name)
        assert _without_sources(variant_doc) == _without_sources(originals[name]), name

    result = gate(tmp_path, policies)
    assert result.report is not None, result.stderr
    assert "Traceback" not in result.stderr
    statuses = {r["policy"]["id"]: r["status"] for r in result.report["results"]}
    if variant.endswith("clean"):
        assert result.code == 0, result.stdout + result.stderr
        assert result.report["decision"] == "compliant"
        assert {p: s for p, s in statuses.items() if s != "pass"} == {
            "sbom-components-licensed": "fail",  # warn: requirements carry no license
        }
        return
    assert result.code == 1, result.stdout + result.stderr
    assert result.report["decision"] == "blocked"
    assert {p: s for p, s in statuses.items() if s != "pass"} == {
        "findings-no-sarif-errors": "fail",
        "tests-all-passed": "fail",
        "sample-no-vulnerable-pins": "fail",
        "sbom-components-licensed": "fail",
    }
    findings = result.messages("findings-no-sarif-errors")
    assert [m.split(" at ")[0] for m in findings] == ["Bandit B602", "ruff F401"]
    for text in ("Bandit B602 at src/sampleapp/core.py:16", "ruff F401", "test_positive"):
        assert text in result.stdout
    assert result.messages("sample-no-vulnerable-pins") == [
        f"requests@{VULNERABLE[1]} is affected by CVE-2018-18074 (fixed in 2.20.0)"
    ]
    (case,) = result.result("tests-all-passed")["violations"]
    assert case["location"] == {"file": "tests/test_core.py", "line": 13}


def _without_sources(doc: Any) -> Any:
    """``doc`` without its ``source``/``sources`` (the file name, which the variants keep,
    but whose folder differs)."""
    if isinstance(doc, dict):
        return {k: _without_sources(v) for k, v in doc.items() if k not in ("source", "sources")}
    if isinstance(doc, list):
        return [_without_sources(v) for v in doc]
    return doc


def test_ruff_uri_is_the_project_file(build: Callable[[str], Build]) -> None:
    """Ruff's file:// URI names the real file (so a relative-path fix has its anchor)."""
    built = build("failing")
    uri = json.loads(built.artifacts["ruff"].read_text())["runs"][0]["results"][0]
    location = uri["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert re.fullmatch(r"file:///.+/src/sampleapp/core\.py", location)
