"""A wheel of this checkout, built with ``pip wheel . --no-deps`` and installed into a fresh
virtual environment once per session, for tests that run compliancegate as a user who
installed it does: from a folder holding nothing of this repository.

Tests here are marked ``packaging``; CI runs them with the rest of the suite (``python -m
pytest``), and ``-m packaging`` runs them alone. Building needs setuptools from the package
index, as ``pip install .`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from installed_wheel import Installed, build_installed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.packaging)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel of this checkout, installed once per session."""
    return build_installed(tmp_path_factory.mktemp("packaging"))
