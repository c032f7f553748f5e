"""The README's GitLab job and plain-CI step work as written: their script lines run, by
bash, in a project made with ``compliancegate init`` (a clone of a bare ``origin``, as a CI
runner checks it out), with compliancegate installed from this checkout's wheel.

Only the install lines are replaced, by the session's virtual environment (installing is
what ``test_wheel.py`` tests); they are checked first: the venv lives outside the checkout
(one inside is searched for evidence) and the pinned version is this one. The GitLab server
is the bare repository, reached through git's ``url.<base>.insteadOf``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from installed_wheel import REPO, Installed, clean_env
from packaging.specifiers import SpecifierSet

from compliancegate import __version__
from compliancegate.artifacts.selection import DEFAULT_EXCLUDES

README = REPO / "README.md"
TRIVY = REPO / "tests" / "fixtures" / "vulns" / "trivy-alpine-39.json"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_VENV = re.compile(r"^python3? -m venv (\S+)$")
_PIP = re.compile(r"^(\S+)/bin/pip\"? install (?:--\S+ )*(\S+)$")
_ASSIGN = re.compile(r'^(\w+)="\$\(mktemp -d\)[^"]*"$')
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def block_after(marker: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(marker)
    lang, body = next((m.group(1), m.group(2)) for m in _FENCE.finditer(text, start))
    assert lang == language, (marker, lang)
    return body


def gitlab_job() -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load(block_after("**GitLab CI.**", "yaml"))
    (job,) = jobs.values()
    return job


def plain_ci_lines() -> list[str]:
    return [
        line for line in block_after("**Any other CI.**", "sh").replace("\\\n", " ").splitlines()
    ]


@dataclass(frozen=True)
class Prepared:
    script: str
    venv_dirs: tuple[str, ...]
    specs: tuple[str, ...]


def prepare(lines: list[str], venv: Path) -> Prepared:
    """The script with its install steps replaced by ``venv``, and what they named."""
    kept: list[str] = []
    dirs: list[str] = []
    specs: list[str] = []
    for line in lines:
        parts = []
        for part in line.split(" && "):
            command = part.strip()
            if match := _ASSIGN.match(command):
                parts.append(f"{match.group(1)}={shlex.quote(str(venv))}")
            elif match := _VENV.match(command):
                dirs.append(match.group(1).strip('"'))
            elif match := _PIP.match(command):
                specs.append(match.group(2).strip("\"'"))
            else:
                parts.append(command)
        if parts:
            kept.append(" && ".join(parts))
    script = "\n".join(kept)
    for folder in dirs:
        if not folder.startswith("$"):
            script = script.replace(f"{folder}/bin/", f"{venv}/bin/")
    return Prepared(script, tuple(dirs), tuple(specs))


def check_install_steps(prepared: Prepared) -> None:
    assert prepared.venv_dirs and prepared.specs
    for folder in prepared.venv_dirs:
        # Outside the checkout (absolute, or a mktemp variable), or a folder never searched.
        inside = not folder.startswith(("/", "$"))
        assert not inside or folder.split("/")[0] in DEFAULT_EXCLUDES, folder
    for spec in prepared.specs:
        name, _, specifier = spec.partition("=")
        assert name == "compliancegate", spec
        assert SpecifierSet("=" + specifier).contains(__version__), (spec, __version__)


@dataclass(frozen=True)
class Checkout:
    root: Path
    origin: Path


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=clean_env(**GIT_ENV),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def checkout(installed: Installed, tmp_path: Path) -> Checkout:
    """A project made with ``compliancegate init`` and one scanner report, pushed to a bare
    ``origin``, then cloned as a runner does (detached at the commit)."""
    work = tmp_path / "work"
    work.mkdir()
    assert installed.run(["init"], work).returncode == 0
    shutil.copy(TRIVY, work / "trivy.json")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "--no-gpg-sign", "-m", "release")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "--quiet", "origin", "main")
    job = tmp_path / "job"
    git(tmp_path, "clone", "--quiet", str(origin), str(job))
    git(job, "checkout", "--quiet", "--detach")
    return Checkout(job, origin)


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -eo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_blocked_and_reported(done: subprocess.CompletedProcess[str], root: Path) -> None:
    # Blocked by the report's critical vulnerabilities and the evidence a new project does
    # not have: a decision (1), not "could not decide" (2).
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BLOCKED" in done.stdout
    junit = ElementTree.parse(root / "reports" / "compliancegate.xml").getroot()
    assert junit.tag == "testsuites"
    sarif = json.loads((root / "reports" / "compliancegate.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"]


def test_gitlab_job_runs_as_written(installed: Installed, checkout: Checkout) -> None:
    job = gitlab_job()
    assert job["image"].startswith("python:")
    prepared = prepare([*job["before_script"], *job["script"]], installed.venv)
    check_install_steps(prepared)
    token = "glpat-test-token"
    push_url = f"https://ledger:{token}@gitlab.example.test/acme/payments.git"
    env = clean_env(
        CI_SERVER_HOST="gitlab.example.test",
        CI_PROJECT_PATH="acme/payments",
        LEDGER_TOKEN=token,
        CI_PIPELINE_ID="101",
        CI_JOB_ID="7",
        CI_COMMIT_REF_NAME="main",
        # The GitLab server: the job's push URL leads to the bare repository.
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.{checkout.origin}.insteadOf",
        GIT_CONFIG_VALUE_0=push_url,
    )
    done = run_script(prepared.script, checkout.root, env)
    assert_blocked_and_reported(done, checkout.root)
    assert (
        json.loads((checkout.root / "reports" / "compliancegate.json").read_text())["decision"]
        == "blocked"
    )
    assert git(checkout.root, "config", "remote.origin.pushurl").strip() == push_url
    # The run reached the shared ledger on origin, under the pipeline's run id.
    shown = git(checkout.origin, "log", "--format=%s", "compliance-ledger")
    assert shown.strip(), "the ledger branch was pushed"
    # (git grep exits 1, failing the call, when no record has the id)
    assert git(checkout.origin, "grep", "-l", '"101-7"', "compliance-ledger").strip()
    # The job again (a retried pipeline): the same decision.
    again = run_script(prepared.script, checkout.root, env)
    assert again.returncode == done.returncode
    assert "ledger-pending" not in again.stdout


def test_plain_ci_step_runs_as_written(installed: Installed, checkout: Checkout) -> None:
    prepared = prepare(plain_ci_lines(), installed.venv)
    check_install_steps(prepared)
    env = clean_env()
    done = run_script(prepared.script, checkout.root, env)
    assert_blocked_and_reported(done, checkout.root)
    assert git(checkout.origin, "rev-parse", "--verify", "compliance-ledger").strip()
    # A persistent agent runs the step again in the same workspace: the last run's reports
    # are not read as this run's evidence.
    first = (checkout.root / "reports" / "compliancegate.sarif").read_text(encoding="utf-8")
    again = run_script(prepared.script, checkout.root, env)
    assert again.returncode == done.returncode
    second = (checkout.root / "reports" / "compliancegate.sarif").read_text(encoding="utf-8")
    rules = [
        {r["ruleId"] for r in json.loads(text)["runs"][0]["results"]} for text in (first, second)
    ]
    # What the second run adds is the ledger's break-fix rule (the first run's findings are
    # open, and this is production), nothing read from reports/.
    assert rules[1] - rules[0] <= {"compliancegate:break-fix"}, rules
    assert "reports/" not in json.dumps(json.loads(second)["runs"][0]["results"])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('python3 -m venv .cg && .cg/bin/pip install --quiet "compliancegate==0.1.*"', ".cg"),
        ('python3 -m venv /tmp/x && /tmp/x/bin/pip install "compliancegate==9.9.*"', "9.9"),
        ('python3 -m venv /tmp/x && /tmp/x/bin/pip install "git+https://x/y@v1"', "git+"),
    ],
)
def test_the_install_check_catches_what_it_should(line: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(problem)):
        check_install_steps(prepare([line], Path("/venv")))
