"""Tests of the starter policies in ``policies/`` against real inputs and real tools."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml, so that the marker travels with these tests.
    config.addinivalue_line(
        "markers",
        "pypi_tools: installs a tool from PyPI into a temporary venv and runs it; part of the "
        "default run; skipped only when the install fails, failed instead when CI=true",
    )
