"""Fixtures of the producer tests: the real producers from PyPI, installed once per session
into their own virtual environment, and the sample project built with them
(producer_project.py).

Installing needs the package index. When pip cannot reach it the tests are skipped with the
reason, except in CI (``CI=true``), where they fail: CI must never go green without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from producer_project import (
    PRODUCERS,
    VARIANTS,
    Build,
    Producers,
    build_project,
    producer_env,
    unavailable,
)


@pytest.fixture(scope="session")
def producers(tmp_path_factory: pytest.TempPathFactory) -> Producers:
    """A virtual environment with the pinned producers, built once per session."""
    venv = tmp_path_factory.mktemp("producers") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    try:
        done = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--timeout", "60", "--retries", "2", *PRODUCERS],
            env=producer_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        unavailable("pip install did not finish in 900 s", os.environ.get("CI"))
        raise
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING:")]
        problem = f"pip install exited {done.returncode}: " + " | ".join(lines[-5:])
        unavailable(problem, os.environ.get("CI"))
    listed = subprocess.run(
        [python, "-c", "import importlib.metadata as m, sys; "
         "[print(n, m.version(n)) for n in sys.argv[1:]]",
         "cyclonedx-bom", "bandit", "ruff", "coverage", "pytest"],
        capture_output=True, text=True, check=True, env=producer_env(),
    )  # fmt: skip
    versions = dict(line.split(" ", 1) for line in listed.stdout.splitlines())
    return Producers(venv, versions)


@pytest.fixture(scope="session")
def build(producers: Producers, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Build]:
    """``build(variant)``: the artifacts of the sample project ``variant`` (``failing``,
    ``clean``, ``large-failing``, ``large-clean``). All four are built once per session, side
    by side (the producers mostly wait on process start-up and disk)."""
    roots = {variant: tmp_path_factory.mktemp(variant) for variant in VARIANTS}
    with ThreadPoolExecutor(max_workers=len(VARIANTS)) as pool:
        futures = {v: pool.submit(build_project, producers, roots[v], v) for v in VARIANTS}
        built = {variant: future.result() for variant, future in futures.items()}
    return built.__getitem__
