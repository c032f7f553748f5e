"""Start-up and gate timings: run ``python benchmarks/bench.py`` from the repository root.

Prints the median wall time of ``python -c pass``, ``compliancegate --version`` (target:
within 1.5x of bare Python) and a ``check`` of ``examples/``, each over repeated runs in
fresh processes, plus the ratio. Exit status 1 when the start-up target is missed, so the
script can gate a performance job; the test suite never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TARGET = 1.5


def timed(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """(median, min) wall time in milliseconds of ``command`` over ``runs`` fresh processes."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            check=False,
        )
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40, help="runs per start-up measurement")
    parser.add_argument("--check-runs", type=int, default=10, help="runs of the example check")
    args = parser.parse_args()

    env = dict(os.environ, NO_COLOR="1", COMPLIANCEGATE_NOW="2026-11-21T12:00:00Z")
    script = shutil.which("compliancegate") or str(Path(sys.executable).parent / "compliancegate")
    # Warm the OS caches once so the first sample is not an outlier.
    subprocess.run([script, "--version"], stdout=subprocess.DEVNULL, env=env, check=False)

    bare, bare_min = timed([sys.executable, "-c", "pass"], args.runs, env)
    version, version_min = timed([script, "--version"], args.runs, env)
    check_cmd = [script, "check", "--config", "examples/compliancegate.yaml", "--no-ledger"]
    check, check_min = timed(check_cmd, args.check_runs, env)
    ratio = version / bare

    print(f"python -c pass               median {bare:7.1f} ms  min {bare_min:7.1f} ms")
    print(f"compliancegate --version     median {version:7.1f} ms  min {version_min:7.1f} ms")
    print(f"check examples/              median {check:7.1f} ms  min {check_min:7.1f} ms")
    verdict = "ok" if ratio <= STARTUP_TARGET else "MISSED"
    print(f"--version / bare python      {ratio:.2f}x (target <= {STARTUP_TARGET}x: {verdict})")
    return 0 if ratio <= STARTUP_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
