"""Fixtures for the bundle tests: a real ledger history (staging and production runs,
breaks, fixes, a waiver, a breach) signed with a key, in a project that is the working
directory, with hermetic git and a state directory of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ledger_project import Project

from compliancegate.signing.keys import generate


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system configuration; the state directory (where runs keep their
    evidence) outside every test project."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("COMPLIANCEGATE_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in (
        "XDG_STATE_HOME",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GITHUB_RUN_ID",
        "CI_PIPELINE_ID",
        "BUILD_TAG",
        "COMPLIANCEGATE_ACTOR",
        "COMPLIANCEGATE_SIGNING_KEY",
        "COMPLIANCEGATE_SIGNING_KEY_FILE",
        "COMPLIANCEGATE_NOW",
    ):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def state() -> Path:
    """The state directory of the test (``COMPLIANCEGATE_STATE_DIR``)."""
    return Path(os.environ["COMPLIANCEGATE_STATE_DIR"])


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A folder outside the project with ``signing.key`` and ``signing.key.pub``, and
    ``other.key`` (a key the auditor does not trust)."""
    folder = tmp_path / "keys"
    folder.mkdir()
    generate(folder / "signing.key")
    generate(folder / "other.key")
    return folder


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A clean project in ``tmp_path/project``, which is the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return Project(root).setup()
