"""Fixtures for the ledger tests: a gated project as the working directory, a bare git
repository as the shared remote, and hermetic git (no user or system configuration)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ledger_project import Project, git


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git reads no user or system configuration, and nothing leaks in from the CI job."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    # The ledgers' queues and caches: outside every test project, and found by the tests.
    monkeypatch.setenv("COMPLIANCEGATE_STATE_DIR", str(home / "state"))
    for variable in ("XDG_STATE_HOME", "COMPLIANCEGATE_LEDGER_RETRY_SECONDS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "USER", "GITHUB_ACTOR"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_TAG", "COMPLIANCEGATE_ACTOR"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A clean project in ``tmp_path/project``, which is the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return Project(root).setup()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """An empty bare repository: the shared store's remote."""
    path = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(path), cwd=tmp_path)
    return path


@pytest.fixture
def state() -> Path:
    """The state directory every store of the test uses (``COMPLIANCEGATE_STATE_DIR``)."""
    return Path(os.environ["COMPLIANCEGATE_STATE_DIR"])
