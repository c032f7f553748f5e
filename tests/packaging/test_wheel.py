"""A new user's first minutes: ``pip install compliancegate`` into a fresh virtual environment,
``compliancegate init`` and ``compliancegate check`` in a folder holding only their evidence.
Everything runs the installed console script by subprocess, far from this checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from installed_wheel import REPO, Installed, clean_env

TRIVY = REPO / "tests" / "fixtures" / "vulns" / "trivy-alpine-39.json"


def library_files(kind: str) -> set[str]:
    root = REPO / kind
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_holds_every_file_of_the_starter_library(installed: Installed) -> None:
    names = installed.wheel_names()
    for kind in ("policies", "registers"):
        files = library_files(kind)
        assert files, kind
        shipped = {
            n.removeprefix(f"compliancegate/starter/{kind}/")
            for n in names
            if n.startswith(f"compliancegate/starter/{kind}/")
        }
        assert shipped == files, files ^ shipped
    # And the schemas every loader needs.
    assert "compliancegate/loading/schemas/config.schema.json" in names
    assert "compliancegate/reporters/schemas/check-report.schema.json" in names
    # NIST's OSCAL schemas, for validating OSCAL documents offline (docs/oscal.md).
    assert "compliancegate/oscal/schemas/oscal_assessment-results_schema.json" in names
    assert "compliancegate/oscal/schemas/oscal_poam_schema.json" in names
    assert "compliancegate/oscal/schemas/SOURCES.md" in names


def test_the_installed_package_writes_and_validates_oscal(
    installed: Installed, tmp_path: Path
) -> None:
    """From the wheel alone (its schemas, its pinned ``regex``): the run's assessment results
    validate, and a broken one does not."""
    project = _project(tmp_path)
    args = ["check", "--no-ledger", "--policies", "builtin:starter", "--format", "oscal"]
    args += ["--register", "builtin:starter"]
    done = installed.run(args, project)
    assert done.returncode in (0, 1), done.stderr
    check = (
        "import json, sys\n"
        "from compliancegate.oscal.validation import validate_oscal\n"
        "document = json.load(sys.stdin)\n"
        "assert validate_oscal(document) == [], validate_oscal(document)\n"
        "document['assessment-results']['uuid'] = 'nope'\n"
        "print(validate_oscal(document))\n"
    )
    validated = subprocess.run(
        [str(installed.bin / "python"), "-c", check],
        input=done.stdout,
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert validated.returncode == 0, validated.stderr
    assert "$.assessment-results.uuid" in validated.stdout


def test_the_installed_package_is_the_one_run(installed: Installed, tmp_path: Path) -> None:
    python = installed.bin / "python"
    where = subprocess.run(
        [str(python), "-c", "import compliancegate; print(compliancegate.__file__)"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.venv), where
    assert not Path(where).resolve().is_relative_to(REPO)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir(parents=True)
    shutil.copy(TRIVY, project / "trivy.json")
    return project


def _statuses(stdout: str) -> dict[str, str]:
    report = json.loads(stdout)
    assert report["summary"]["error"] == 0, report["summary"]
    return {r["policy"]["id"]: r["status"] for r in report["results"]}


def test_init_then_check_right_after_install(installed: Installed, tmp_path: Path) -> None:
    project = _project(tmp_path)
    init = installed.run(["init"], project)
    assert init.returncode == 0, init.stderr
    check = installed.run(["check", "--no-ledger", "--format", "json"], project)
    # Decided, not "no such register file": blocked by the report's critical findings and
    # the evidence a new project does not have yet.
    assert check.returncode == 1, check.stderr
    statuses = _statuses(check.stdout)
    assert statuses["vuln-no-critical"] == "fail"
    assert len(statuses) >= 40
    text = installed.run(["check"], project)
    assert text.returncode == 1
    assert "BLOCKED" in text.stdout
    assert "no-register" not in text.stdout
    # The run was recorded in the default ledger, which verifies.
    assert installed.run(["ledger", "verify"], project).returncode == 0
    # Every command the README shows for the library works on the built-in one.
    for args in (
        ["policy", "validate", "builtin:starter", "--register", "builtin:starter"],
        ["register", "validate", "builtin:starter", "--policies", "builtin:starter"],
    ):
        done = installed.run(args, project)
        assert done.returncode == 0, done.stdout + done.stderr


def test_init_copy_right_after_install(installed: Installed, tmp_path: Path) -> None:
    project = _project(tmp_path)
    reference = _project(tmp_path / "reference")
    assert installed.run(["init"], reference).returncode == 0
    expected = installed.run(["check", "--no-ledger", "--format", "json"], reference)

    init = installed.run(["init", "--copy"], project)
    assert init.returncode == 0, init.stderr
    assert {
        p.relative_to(project / "policies").as_posix()
        for p in (project / "policies").rglob("*")
        if p.is_file()
    } == library_files("policies")
    check = installed.run(["check", "--no-ledger", "--format", "json"], project)
    assert check.returncode == expected.returncode == 1, check.stderr
    assert _statuses(check.stdout) == _statuses(expected.stdout)
    tested = installed.run(["policy", "test", "policies"], project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
