"""``compliancegate init`` and ``builtin:`` references: a config that works in a folder holding
nothing but the release's evidence, with the starter library built in or copied beside it.

The same path through a wheel installed into a fresh virtual environment is in
``tests/packaging``."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cli_runs import CliCall, run_in_process, run_subprocess
from compliancegate.loading.builtin import library_root

REPO = Path(__file__).resolve().parents[2]
TRIVY = REPO / "tests" / "fixtures" / "vulns" / "trivy-alpine-39.json"


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder (the working directory) with one scanner report in it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COMPLIANCEGATE_NOW", "2026-11-21T12:00:00Z")
    shutil.copy(TRIVY, tmp_path / "trivy.json")
    return tmp_path


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["policy"]["id"]: r["status"] for r in report["results"]}


def repo_files(folder: str) -> set[str]:
    root = REPO / folder
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_package_links_to_the_repository_starter_library() -> None:
    # One library, not two copies that drift apart: the package's starter/ is the
    # repository's policies/ and registers/.
    for kind in ("policies", "registers"):
        assert (library_root() / kind).resolve() == (REPO / kind).resolve()


@pytest.mark.parametrize("runner", ["clirunner", "subprocess"])
def test_init_then_check_in_an_empty_folder(fresh: Path, runner: str) -> None:
    def cg(*args: str) -> Any:
        if runner == "clirunner":
            return run_in_process(args)
        return run_subprocess(args, fresh)

    assert cg("init").code == 0
    text = (fresh / "compliancegate.yaml").read_text(encoding="utf-8")
    assert "policies: [builtin:starter]" in text
    assert "registers: [builtin:starter]" in text
    outcome = cg("check", "--no-ledger", "--format", "json")
    # Blocked (the report has critical vulnerabilities and most evidence is missing), and
    # decided: no error, every starter policy loaded, the register found.
    assert outcome.code == 1, outcome.output
    report = outcome.json()
    assert report["decision"] == "blocked"
    assert report["summary"]["error"] == 0
    assert report["summary"]["policies"] >= 40
    assert statuses(report)["vuln-no-critical"] == "fail"
    assert all(n["code"] != "no-register" for n in report["notices"])
    assert report["coverage"]["controls"] > 0
    # The staging environment of the template applies too.
    assert cg("check", "--no-ledger", "--env", "staging").code in (0, 1)


def test_init_copy_writes_the_starter_library_and_gives_the_same_verdict(
    fresh: Path, cg: CliCall
) -> None:
    builtin = fresh / "builtin"
    builtin.mkdir()
    shutil.copy(TRIVY, builtin / "trivy.json")
    assert cg("init", "--path", "builtin/compliancegate.yaml").code == 0
    config = "builtin/compliancegate.yaml"
    reference = cg("check", "--config", config, "--no-ledger", "--format", "json")

    outcome = cg("init", "--copy")
    assert outcome.code == 0, outcome.output
    # Every file of the library, tests and fixtures included, byte for byte.
    for kind in ("policies", "registers"):
        assert repo_files(kind) == {
            p.relative_to(fresh / kind).as_posix() for p in (fresh / kind).rglob("*") if p.is_file()
        }
        for name in repo_files(kind):
            assert filecmp.cmp(REPO / kind / name, fresh / kind / name, shallow=False), name
    text = (fresh / "compliancegate.yaml").read_text(encoding="utf-8")
    assert "policies: [policies]" in text
    assert "exclude: [policies, registers]" in text
    result = cg("check", "--no-ledger", "--format", "json", ".")
    assert result.code == reference.code == 1, result.output
    # The starter's test fixtures are not read as this release's evidence (the builtin/
    # folder is, here, and holds the same report).
    assert statuses(result.json()) == statuses(reference.json())
    assert "policies/tests/" not in result.stdout
    # The copy's own tests pass, and the README's commands work on it.
    tested = cg("policy", "test", "policies")
    assert tested.code == 0, tested.output
    assert cg("policy", "validate", "policies", "--register", "registers").code == 0
    assert cg("register", "validate", "registers", "--policies", "policies").code == 0


def test_init_copy_refuses_to_overwrite_and_writes_nothing(fresh: Path, cg: CliCall) -> None:
    (fresh / "registers").mkdir()
    mine = fresh / "registers" / "nist-800-53-r5.yaml"
    mine.write_text("# my edited register\n", encoding="utf-8")
    outcome = cg("init", "--copy")
    assert outcome.code == 2
    assert "registers/nist-800-53-r5.yaml" in outcome.stderr
    assert "--force" in outcome.stderr
    assert mine.read_text(encoding="utf-8") == "# my edited register\n"
    assert not (fresh / "policies").exists()
    assert not (fresh / "compliancegate.yaml").exists()


def test_init_copy_force_overwrites_starter_files_only(fresh: Path) -> None:
    (fresh / "policies").mkdir()
    own = fresh / "policies" / "own.yaml"
    own.write_text("# my own policy\n", encoding="utf-8")
    (fresh / "policies" / "sbom.yaml").write_text("# edited\n", encoding="utf-8")
    outside = fresh / "outside.txt"
    outside.write_text("keep\n", encoding="utf-8")
    (fresh / "policies" / "git.yaml").symlink_to(outside)
    assert run_in_process(["init", "--copy", "--force"]).code == 0
    assert own.read_text(encoding="utf-8") == "# my own policy\n"
    assert filecmp.cmp(REPO / "policies" / "sbom.yaml", fresh / "policies" / "sbom.yaml")
    # A link at a starter file's place is replaced, never written through.
    assert not (fresh / "policies" / "git.yaml").is_symlink()
    assert outside.read_text(encoding="utf-8") == "keep\n"


def test_builtin_references_work_in_every_command(fresh: Path, cg: CliCall) -> None:
    validated = cg("policy", "validate", "builtin:starter", "--register", "builtin:starter")
    assert validated.code == 0, validated.output
    registered = cg("register", "validate", "builtin:starter", "--policies", "builtin:starter")
    assert registered.code == 0, registered.output
    # One file of the library.
    one = cg(
        "check",
        "--policies",
        "builtin:starter/vulnerabilities.yaml",
        "--register",
        "builtin:starter/nist-800-53-r5.yaml",
        "--no-ledger",
        "--format",
        "json",
    )
    assert one.code == 1, one.output
    assert set(statuses(one.json())) == {r for r in statuses(one.json()) if r.startswith("vuln-")}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("builtin:nope", "unknown built-in library 'builtin:nope'"),
        ("builtin:", "unknown built-in library"),
        ("builtin:starter/no-such.yaml", "have no 'no-such.yaml'"),
        ("builtin:starter/../registers", "by its path inside the library"),
        ("builtin:starter//etc/passwd", "by its path inside the library"),
        ("builtin:starter/..", "by its path inside the library"),
    ],
)
def test_bad_builtin_flags_exit_2(fresh: Path, cg: CliCall, value: str, message: str) -> None:
    outcome = cg("check", "--policies", value, "--no-ledger")
    assert outcome.code == 2
    assert message in outcome.stderr
    assert "Traceback" not in outcome.stderr


@pytest.mark.parametrize("where", ["top", "environment"])
def test_bad_builtin_in_config_names_the_file_and_line(
    fresh: Path, cg: CliCall, where: str
) -> None:
    if where == "top":
        text = (
            "apiVersion: compliancegate/v1\nkind: Config\n"
            "policies:\n  - builtin:starter\n  - builtin:startr\n"
        )
        line = 5
    else:
        text = (
            "apiVersion: compliancegate/v1\nkind: Config\npolicies: [builtin:starter]\n"
            "environments:\n  production:\n    registers: [builtin:starter/x.yaml]\n"
        )
        line = 6
    (fresh / "compliancegate.yaml").write_text(text, encoding="utf-8")
    outcome = cg("check", "--no-ledger")
    assert outcome.code == 2
    assert f"compliancegate.yaml:{line}:" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_builtin_in_environment_settings(fresh: Path, cg: CliCall) -> None:
    (fresh / "compliancegate.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Config\n"
        "policies: [builtin:starter/vulnerabilities.yaml]\nregisters: [builtin:starter]\n"
        "environments:\n  production: {}\n"
        "  staging: {policies: [builtin:starter/sbom.yaml]}\n",
        encoding="utf-8",
    )
    staging = cg("check", "--no-ledger", "--env", "staging", "--format", "json")
    assert staging.code in (0, 1), staging.output
    assert all(p.startswith("sbom-") for p in statuses(staging.json()))
    # A production release runs on the real clock (it refuses COMPLIANCEGATE_NOW) and reads
    # a ledger (the starter register has a break-fix clause).
    production = cg(
        "check",
        "--ledger",
        "audit-ledger",
        "--env",
        "production",
        "--format",
        "json",
        env={"COMPLIANCEGATE_NOW": ""},
    )
    assert production.code in (0, 1), production.output
    assert all(p.startswith("vuln-") for p in statuses(production.json()))


def test_a_rerun_does_not_read_the_last_runs_reports_as_evidence(fresh: Path, cg: CliCall) -> None:
    """A kept workspace (a persistent CI agent, a laptop): the JUnit report of the gate
    itself once made ``tests-executed`` pass, and its SARIF added findings."""
    assert cg("init").code == 0
    args = [
        "check",
        "--no-ledger",
        "--format",
        "json",
        "--report",
        "junit=reports/compliancegate.xml",
        "--report",
        "sarif=reports/compliancegate.sarif",
        "--report",
        "json=out/report.json",
        "--report",
        "markdown=out/summary.md",
    ]
    first = cg(*args)
    assert first.code == 1, first.output
    assert (fresh / "reports" / "compliancegate.xml").is_file()
    for _ in range(2):
        again = cg(*args)
        assert again.code == first.code
        assert statuses(again.json()) == statuses(first.json())
        assert again.json()["summary"] == first.json()["summary"]
    assert statuses(first.json())["tests-executed"] != "pass"
    # --output too (the reports above are another run's now: out of the way).
    shutil.rmtree(fresh / "reports")
    junit = ("check", "--no-ledger", "--format", "junit", "--output", "gate.xml")
    assert cg(*junit).code == 1
    assert cg(*junit, "--report", "json=out/again.json").code == 1
    again = json.loads((fresh / "out" / "again.json").read_text(encoding="utf-8"))
    assert statuses(again)["tests-executed"] != "pass"


def test_check_without_config_or_policies_points_at_init(fresh: Path, cg: CliCall) -> None:
    outcome = cg("check", "--no-ledger")
    assert outcome.code == 2
    assert "no policies to evaluate" in outcome.stderr
    assert "compliancegate init" in outcome.stderr


def test_init_copy_where_a_folder_is_a_file_exits_2(fresh: Path, cg: CliCall) -> None:
    (fresh / "policies").write_text("not a folder\n", encoding="utf-8")
    outcome = cg("init", "--copy", "--force")
    assert outcome.code == 2, outcome.output
    assert "policies" in outcome.stderr
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr


def test_a_report_path_linked_to_the_evidence_does_not_hide_it(fresh: Path, cg: CliCall) -> None:
    """Reports are left out by where they are written, not by what a link there leads to:
    a planted ``reports/gate.sarif -> ../trivy.json`` must not drop the scanner's report."""
    assert cg("init").code == 0
    (fresh / "reports").mkdir()
    (fresh / "reports" / "gate.sarif").symlink_to(fresh / "trivy.json")
    outcome = cg("check", "--no-ledger", "--format", "json", "--report", "sarif=reports/gate.sarif")
    assert outcome.code != 0
    if outcome.code == 1:
        (result,) = (
            r for r in outcome.json()["results"] if r["policy"]["id"] == "vuln-no-critical"
        )
        # Failed on the report's own findings, not for missing evidence.
        assert any("CVE-" in v["message"] for v in result["violations"]), result
