"""The starter script-injection policies against zizmor's ``template-injection`` audit.

zizmor (https://docs.zizmor.sh, installed from PyPI into a temporary venv) and the starter
GitHub Actions policies run on the same workflows and composite action
(``policies/tests/fixtures/github/injection``); each tool's findings are reduced to the steps
it flags. Every step zizmor flags is flagged by ours (its high-severity ones by the blocking
``gha-no-script-injection``); the steps only ours flag are exactly the documented, deliberate
differences below, so a new zizmor context we miss, or a new false positive of ours, fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gha_gate import gate

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "policies" / "tests" / "fixtures" / "github" / "injection"
BLOCK = "gha-no-script-injection"
WARN = "gha-no-indirect-script-injection"

STRICTER = {
    # zizmor reads the input's declared type; a step cannot see the workflow's triggers, so
    # every inputs.* is flagged (docs/policies.md, "Differences from zizmor").
    (".github/workflows/dispatch.yml", "boolean input"),
    (".github/workflows/dispatch.yml", "choice input"),
    # contains() returns a boolean; the policy does not parse expressions.
    (".github/workflows/issues.yml", "label check"),
    # a static env value: the policy cannot see the workflow's env block, and an env value
    # may also come from $GITHUB_ENV at run time (warn only).
    (".github/workflows/indirect.yml", "static env"),
    # GitHub upper-cases input names, so `Script:` reaches github-script as its script; zizmor
    # matches the input name exactly.
    (".github/workflows/spelling.yml", "script input spelled in another case"),
}
"""Steps our policies flag and zizmor does not, on purpose."""


@pytest.fixture(scope="session")
def zizmor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zizmor executable, installed from PyPI into a fresh venv (skip if it cannot be)."""
    venv = tmp_path_factory.mktemp("zizmor-venv")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        subprocess.run(
            [str(bindir / "python"), "-m", "pip", "install", "-q", "zizmor>=1.9"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        reason = f"zizmor could not be installed from PyPI: {exc}"
        if os.environ.get("CI") == "true":
            # On CI the index is there: an install failure is a failure, not a skip.
            pytest.fail(reason)
        pytest.skip(reason)
    exe = bindir / "zizmor"
    assert exe.exists(), "pip installed zizmor but no zizmor executable"
    return exe


def _step_names(path: Path) -> dict[tuple[str, ...], str]:
    """Each step's route (as zizmor writes it) to its ``name``, read with our own loader."""
    from compliancegate.loading.safe_yaml import load_documents

    [document] = load_documents(path.read_text(), str(path))
    data: Any = document.data
    names: dict[tuple[str, ...], str] = {}
    if "jobs" in data:
        for job_id, job in data["jobs"].items():
            for index, step in enumerate(job.get("steps") or []):
                names[("jobs", job_id, "steps", str(index))] = step["name"]
    else:
        for index, step in enumerate(data["runs"]["steps"]):
            names[("runs", "steps", str(index))] = step["name"]
    return names


def _zizmor_steps(exe: Path, root: Path) -> dict[tuple[str, str], set[str]]:
    """(file, step name) -> zizmor severities of its template-injection findings."""
    found: dict[tuple[str, str], set[str]] = {}
    files = sorted(
        p for p in root.rglob("*.yml") if "workflows" in p.parts or p.name == "action.yml"
    )
    assert len(files) == 8
    for path in files:
        relative = path.relative_to(root).as_posix()
        # One file at a time: given a folder, zizmor skips a file it cannot parse with a
        # warning, which would make this comparison vacuous.
        done = subprocess.run(
            [str(exe), "--offline", "--no-progress", "--format", "json", relative],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode in (0, *range(10, 20)), f"zizmor on {relative}: {done.stderr}"
        names = _step_names(path)
        for finding in json.loads(done.stdout):
            if finding["ident"] != "template-injection":
                continue
            if finding["determinations"]["persona"] != "Regular":
                continue
            for location in finding["locations"]:
                if location["symbolic"]["kind"] != "Hidden":
                    continue
                route = tuple(
                    str(next(iter(part.values())))
                    for part in location["symbolic"]["route"]["route"]
                )
                key = (relative, names[route])
                found.setdefault(key, set()).add(finding["determinations"]["severity"])
    return found


def _our_steps(root: Path) -> dict[tuple[str, str], set[str]]:
    """(file, step name) -> the ids of our policies that flag it."""
    report = gate(root, timeout=300)
    found: dict[tuple[str, str], set[str]] = {}
    for result in report["results"]:
        policy = result["policy"]["id"]
        if policy not in (BLOCK, WARN):
            continue
        assert result["status"] == "fail", result
        for violation in result["violations"]:
            step = violation["message"].split(": step ", 1)[1].split(" expands ", 1)[0]
            found.setdefault((violation["location"]["file"], step), set()).add(policy)
    return found


@pytest.mark.pypi_tools
def test_script_injection_policies_cover_zizmor_template_injection(
    zizmor: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES, root)
    theirs = _zizmor_steps(zizmor, root)
    ours = _our_steps(root)

    assert theirs, "zizmor found nothing: the comparison would prove nothing"
    missed = sorted(set(theirs) - set(ours))
    assert not missed, f"steps zizmor flags and our policies do not: {missed}"
    high_not_blocked = sorted(
        step
        for step, severities in theirs.items()
        if "High" in severities and BLOCK not in ours[step]
    )
    assert not high_not_blocked, f"zizmor high-severity steps only warned about: {high_not_blocked}"
    assert set(ours) - set(theirs) == STRICTER
