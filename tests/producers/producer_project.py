"""The sample Python project of the producer tests and how the real producers from PyPI are
run over it: Bandit and Ruff (SARIF),
pytest (JUnit XML) under coverage.py (Cobertura XML and lcov, branch coverage on), and
cyclonedx-py (a CycloneDX SBOM of the pinned requirements).

The project comes in variants: ``failing`` (a Bandit error, a Ruff error, a failing test and
a vulnerable pinned dependency) and ``clean`` (none of these), each also ``large`` (hundreds
of modules and pins), whose Bandit SARIF and SBOM are past 64 KiB with their format markers
at the end, as the real tools write them.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PRODUCERS = (
    "cyclonedx-bom==7.5.0",
    "bandit[sarif]==1.9.4",
    "ruff==0.17.6",
    "coverage==7.17.5",
    "pytest==9.2.0",
)
"""Exact releases, so a new release of a producer changes this line, not a test's verdict."""

LARGE_MODULES = 240
"""Generated modules of a large project: Bandit's SARIF holds per-file metrics for each, which
puts its ``version`` and ``$schema`` (written last) past 64 KiB."""

LARGE_PINS = 200
"""Extra pinned requirements of a large project: cyclonedx-py writes ``bomFormat`` last,
after every component, so it lands past 64 KiB."""

VARIANTS = ("failing", "clean", "large-failing", "large-clean")

VULNERABLE = ("requests", "2.19.1")
"""A pin with a published vulnerability: CVE-2018-18074, fixed in requests 2.20.0."""
FIXED = ("requests", "2.32.3")

_STRIPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTEST_ADDOPTS")


@dataclass(frozen=True)
class Producers:
    """The virtual environment holding the producers, and their installed versions."""

    venv: Path
    versions: dict[str, str]

    def tool(self, name: str) -> str:
        """The path of the console script ``name`` in the producers' environment."""
        return str(self.venv / "bin" / name)


@dataclass(frozen=True)
class Build:
    """One sample project and the artifacts the producers wrote for it (in ``out``)."""

    variant: str
    project: Path
    out: Path
    exit_codes: dict[str, int]

    @property
    def artifacts(self) -> dict[str, Path]:
        """Logical name (``bandit``, ``ruff``, ``junit``, ``cobertura``, ``lcov``, ``sbom``)
        to the file the producer wrote."""
        return {name: self.out / file for name, file in ARTIFACT_FILES.items()}


ARTIFACT_FILES = {
    "bandit": "bandit.sarif",
    "ruff": "ruff.sarif",
    "junit": "junit.xml",
    "cobertura": "coverage.xml",
    "lcov": "coverage.lcov",
    "sbom": "sbom.cdx.json",
}


def producer_env() -> dict[str, str]:
    """The environment the producers run in: this session's, without what would make them
    import this project's packages or pick up this pytest's options."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    env = {k: v for k, v in env.items() if not k.startswith(("COMPLIANCEGATE_", "COVERAGE_"))}
    env["NO_COLOR"] = "1"
    return env


def unavailable(reason: str, ci: str | None) -> None:
    """Stop a test whose producers cannot be installed: a failure when ``ci`` (the ``CI``
    variable) says this is CI (``true`` as CI sets it, or ``1``/``yes``), else a skip that
    gives the reason."""
    if (ci or "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true and the producers cannot be installed: {reason}", pytrace=False)
    pytest.skip(f"the producers cannot be installed (no package index?): {reason}")


def write_project(root: Path, *, clean: bool, large: bool) -> None:
    """Write the sample project: a package under ``src/``, its tests and its pinned
    requirements, configured as a real project configures coverage, pytest and ruff."""
    package = root / "src" / "sampleapp"
    (package / "generated").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "sampleapp"
            version = "1.4.2"
            description = "A sample application gated by compliancegate's producer tests"
            license = "MIT"
            requires-python = ">=3.11"

            [tool.pytest.ini_options]
            pythonpath = ["src"]
            testpaths = ["tests"]

            [tool.coverage.run]
            branch = true
            source = ["src"]

            [tool.ruff]
            line-length = 100
            """
        )
    )
    (package / "__init__.py").write_text('"""A sample application."""\n')
    (package / "generated" / "__init__.py").write_text('"""Generated modules."""\n')
    if clean:
        core = """\
            import subprocess
            import sys


            def classify(n):
                if n < 0:
                    return "negative"
                if n == 0:
                    return "zero"
                return "positive"


            def run(code):
                return subprocess.call([sys.executable, "-c", code])
            """
    else:
        # Ruff F401 (an unused import, level error) on line 1; Bandit B602 (shell=True with a
        # variable command: high severity, level error) on line 16.
        core = """\
            import os
            import subprocess
            import sys


            def classify(n):
                if n < 0:
                    return "negative"
                if n == 0:
                    return "zero"
                return "positive"


            def run(code):
                command = sys.executable + " -c " + code
                return subprocess.call(command, shell=True)
            """
    (package / "core.py").write_text(textwrap.dedent(core))
    expected_positive = "positive" if clean else "negative"
    (root / "tests" / "test_core.py").write_text(
        textwrap.dedent(
            f"""\
            from sampleapp.core import classify, run


            def test_negative():
                assert classify(-1) == "negative"


            def test_zero():
                assert classify(0) == "zero"


            def test_positive():
                assert classify(5) == "{expected_positive}"


            def test_run():
                assert run("pass") == 0
            """
        )
    )
    pin = FIXED if clean else VULNERABLE
    requirements = ["# Pinned runtime dependencies", f"{pin[0]}=={pin[1]}", "click==8.1.7"]
    if large:
        for n in range(LARGE_MODULES):
            (package / "generated" / f"mod_{n:03d}.py").write_text(
                f'"""Generated module {n}."""\n\n\ndef value():\n    return {n}\n'
            )
        (root / "tests" / "test_generated.py").write_text(
            textwrap.dedent(
                f"""\
                import importlib

                import pytest


                @pytest.mark.parametrize("n", range({LARGE_MODULES}))
                def test_generated(n):
                    module = importlib.import_module(f"sampleapp.generated.mod_{{n:03d}}")
                    assert module.value() == n
                """
            )
        )
        requirements += [f"sampleapp-plugin-{n:03d}==1.{n}.0" for n in range(LARGE_PINS)]
    (root / "requirements.txt").write_text("\n".join(requirements) + "\n")


def _run(producers: Producers, project: Path, args: list[str], allowed: tuple[int, ...]) -> int:
    done = subprocess.run(
        args,
        cwd=project,
        env=producer_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode not in allowed:
        pytest.fail(
            f"{' '.join(args)} exited {done.returncode} in {project}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}",
            pytrace=False,
        )
    return done.returncode


def build_project(producers: Producers, root: Path, variant: str) -> Build:
    """Write the project of ``variant`` under ``root`` and run every producer on it."""
    clean = variant.endswith("clean")
    project = root / "project"
    out = root / "out"
    out.mkdir(parents=True)
    write_project(project, clean=clean, large=variant.startswith("large"))
    files = {name: str(out / file) for name, file in ARTIFACT_FILES.items()}
    codes: dict[str, int] = {}
    # Bandit and ruff exit 1 when they report something; pytest exits 1 when a test fails.
    codes["bandit"] = _run(
        producers, project,
        [producers.tool("bandit"), "-r", "src", "-f", "sarif", "-o", files["bandit"]], (0, 1),
    )  # fmt: skip
    codes["ruff"] = _run(
        producers, project,
        [producers.tool("ruff"), "check", "--no-cache", "--output-format", "sarif",
         "-o", files["ruff"], "src", "tests"],
        (0, 1),
    )  # fmt: skip
    codes["pytest"] = _run(
        producers, project,
        [producers.tool("coverage"), "run", "-m", "pytest", "-p", "no:cacheprovider",
         f"--junitxml={files['junit']}"],
        (0, 1),
    )  # fmt: skip
    _run(producers, project, [producers.tool("coverage"), "xml", "-o", files["cobertura"]], (0,))
    _run(producers, project, [producers.tool("coverage"), "lcov", "-o", files["lcov"]], (0,))
    _run(
        producers, project,
        [producers.tool("cyclonedx-py"), "requirements", "--pyproject", "pyproject.toml",
         "-o", files["sbom"], "requirements.txt"],
        (0,),
    )  # fmt: skip
    return Build(variant, project, out, codes)
