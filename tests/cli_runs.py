"""Running the CLI as a test does: in this process through click's ``CliRunner``
(``compliancegate.cli.run``, which returns the exit code), or as a real
``python -m compliancegate`` subprocess. Shared by the CLI, ledger and packaging tests."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner

from compliancegate.cli import run


@dataclass(frozen=True)
class Outcome:
    """What one CLI run did."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


CliCall = Callable[..., Outcome]


def run_in_process(
    args: Sequence[str],
    env: Mapping[str, str | None] | None = None,
    *,
    clock: dt.datetime | None = None,
) -> Outcome:
    """Run the CLI in this process, output captured; ``clock`` pins the system clock (a
    production release refuses ``COMPLIANCEGATE_NOW``)."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        if clock is None:
            code = run(list(args))
        else:
            with mock.patch("compliancegate.check.wall_clock", lambda: clock):
                code = run(list(args))
    return Outcome(
        code,
        out.getvalue().decode("utf-8", "replace"),
        err.getvalue().decode("utf-8", "replace"),
    )


def run_subprocess(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Outcome:
    """Run ``python -m compliancegate`` in ``cwd`` with NO_COLOR and ``env`` over ours."""
    full_env = dict(os.environ)
    full_env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "compliancegate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
