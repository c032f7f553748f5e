"""Fixtures for the GitHub Action tests: a checkout of the action, a runner temp folder
shared by the session, and small projects to gate.

The session is one "job" that uses the action several times: the first run installs
compliancegate from the action's checkout into the action's own virtual environment with a
real ``pip install``; later runs find that environment in ``$RUNNER_TEMP`` and reuse it, as
they would in a job that gates twice. ``test_install_*`` check both paths.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from action_fixtures import (
    PASSING_SCAN,
    REPO,
    ActionEnv,
    git,
    ignore_build_files,
    make_runner,
    write_tiny_project,
)


@pytest.fixture(scope="session")
def action_env(tmp_path_factory: pytest.TempPathFactory) -> ActionEnv:
    """Check the action out, then run it once: the run that installs compliancegate."""
    checkout = tmp_path_factory.mktemp("actions") / "compliancegate"
    checkout.mkdir()
    shutil.copy2(REPO / "action.yml", checkout / "action.yml")
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    shutil.copy2(REPO / "README.md", checkout / "README.md")
    for folder in ("src", "policies", "registers"):
        shutil.copytree(REPO / folder, checkout / folder, ignore=ignore_build_files)
    runner_temp = tmp_path_factory.mktemp("runner-temp")
    workspace = tmp_path_factory.mktemp("first-workspace")
    write_tiny_project(workspace, PASSING_SCAN)
    first = make_runner(checkout, workspace, runner_temp).run({"ledger": "none"})
    return ActionEnv(checkout, runner_temp, first)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace (the repository checkout being gated)."""
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def examples_workspace(workspace: Path) -> Path:
    """A workspace holding this repository's example release, policies and registers, not
    (yet) a git checkout."""
    for folder in ("examples", "policies", "registers"):
        shutil.copytree(REPO / folder, workspace / folder, ignore=ignore_build_files)
    return workspace


@pytest.fixture
def examples_checkout(examples_workspace: Path) -> Path:
    """The example workspace as ``actions/checkout`` leaves it: a clone of an ``origin``
    repository (a bare one next to it), with the files committed and pushed."""
    origin = examples_workspace.parent / "origin.git"
    git(
        examples_workspace.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(origin)
    )
    git(examples_workspace, "init", "--quiet", "--initial-branch=main")
    git(examples_workspace, "add", "--all")
    git(examples_workspace, "commit", "--quiet", "--no-gpg-sign", "--message", "release")
    git(examples_workspace, "remote", "add", "origin", str(origin))
    git(examples_workspace, "push", "--quiet", "origin", "main")
    return examples_workspace
