"""Run the starter GitHub Actions policies over a folder, as a user would: a real
``python -m compliancegate check`` subprocess, bounded by a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies" / "github-actions.yaml"


def gate(root: Path, *, timeout: float) -> dict[str, Any]:
    """The JSON report of ``check`` on ``root`` (which must be blocked: exit 1)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compliancegate",
            "check",
            ".",
            "--policies",
            str(POLICIES),
            "--no-ledger",
            "--format",
            "json",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COMPLIANCEGATE_NOW": "2026-11-21T12:00:00Z"},
    )
    assert done.returncode == 1, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report
