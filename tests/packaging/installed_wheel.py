"""compliancegate built as a wheel from a copy of this checkout and installed into a virtual
environment of its own, as a user installs it; used by the tests in this folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_ITEMS = ("pyproject.toml", "README.md", "src", "policies", "registers")
"""What a wheel is built from (everything else of the checkout stays out of the copy)."""


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {
        n
        for n in names
        if n in ("__pycache__", "build", "dist", ".venv") or n.endswith(".egg-info")
    }


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: nothing pointing Python at this checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "COMPLIANCEGATE_"))
        and k not in ("VIRTUAL_ENV", "PYTEST_ADDOPTS")
    }
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


@dataclass(frozen=True)
class Installed:
    """compliancegate installed from its wheel into a virtual environment of its own."""

    venv: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def run(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed ``compliancegate`` console script in ``cwd``."""
        return subprocess.run(
            [str(self.bin / "compliancegate"), *args],
            cwd=cwd,
            env=env or clean_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )


def build_installed(base: Path) -> Installed:
    """Build the wheel from a copy of this checkout under ``base`` (so the build leaves
    nothing in it), then install it, with its dependencies, into a new virtual environment."""
    source = base / "source"
    source.mkdir()
    for item in SOURCE_ITEMS:
        origin = REPO / item
        if origin.is_dir():
            # symlinks=True: the package's starter/ links stay links, as in a git checkout.
            shutil.copytree(origin, source / item, symlinks=True, ignore=_ignore)
        else:
            shutil.copy2(origin, source / item)
    dist = base / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("compliancegate-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    done = subprocess.run(
        [*pip, "--python", str(python), "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.rmtree(source)
    return Installed(venv, wheel)
