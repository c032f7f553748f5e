"""The benchmark suite: ``python benchmarks/run.py [--suite NAME ...] [--quick]`` from the
repository root.

Suites (default: ``gate``; ``--suite all`` runs every one, in this order):

- ``gate``: compliancegate ``check`` against regorus, rego-cpp and the parse floor on
  generated Trivy, CycloneDX and JUnit inputs (``gate_bench.py``; writes RESULTS.md);
- ``startup``: ``compliancegate --version`` against bare Python, and ``check`` of examples/
  (``bench.py``);
- ``parse``: detection, parse and normalization of large SBOMs and Trivy reports
  (``parse_bench.py``);
- ``workflow``: the script-injection policies on hostile workflows (``workflow_bench.py``);
- ``ledger``: recording runs and replaying a long ledger (``ledger_bench.py``,
  ``ledger_history_bench.py``), and a run of a million violations and the runs after it
  (``ledger_cap_bench.py``);
- ``bundle``: evidence bundle archives (``bundle_archive_bench.py``, and ``bundle_bench.py``
  where it exists).

Every script stays runnable alone; this runs each in its own process (so one suite's memory
never shows in another's figures) and ends with a line per suite. ``--quick`` runs each at
small sizes in a few seconds (a smoke run, no RESULTS.md); options after ``--`` go to the gate
suite (``python benchmarks/run.py -- --case trivy:100000x50``). Exit status 1 when a suite
fails or misses its own target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# suite: [(script, full-size arguments, --quick arguments)]
SUITES: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "gate": [("gate_bench.py", [], ["--quick"])],
    "startup": [("bench.py", [], ["--runs", "5", "--check-runs", "2"])],
    "parse": [("parse_bench.py", [], ["--scale", "0.02"])],
    "workflow": [("workflow_bench.py", [], ["--repeat", "1"])],
    "ledger": [
        ("ledger_bench.py", [], ["--repeat", "1", "--scale", "0.01"]),
        ("ledger_bench.py", ["--check", "--repeat", "7"], ["--check", "--check-records", "2000"]),
        ("ledger_history_bench.py", [], ["--sizes", "100,200,400"]),
        ("ledger_cap_bench.py", [], ["--items", "500", "--policies", "2"]),
    ],
    "bundle": [
        ("bundle_archive_bench.py", [], ["--megabytes", "4", "--small", "500"]),
        ("bundle_bench.py", [], ["--quick"]),
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite", dest="suites", action="append", choices=[*SUITES, "all"],
        help="suite to run (repeatable; default gate)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("gate_args", nargs="*", help="after --: options of gate_bench.py")
    args = parser.parse_args(argv)
    names = args.suites or ["gate"]
    if "all" in names:
        names = list(SUITES)
    # Bytecode caches allowed: an installed wheel ships compiled, and with
    # PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every timed process would compile
    # compliancegate from source again.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    outcomes = []
    for name in dict.fromkeys(names):
        status = 0
        started = time.perf_counter()
        for script, full, quick in SUITES[name]:
            if not (HERE / script).exists():
                # A suite script another branch adds (bundle_bench.py) joins once merged.
                continue
            extra = args.gate_args if script == "gate_bench.py" else []
            command = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
            print(f"== {name}: {' '.join(command[1:] + extra)}", flush=True)
            done = subprocess.run([*command, *extra], env=environment, check=False)
            status = status or done.returncode
        outcomes.append((name, status, time.perf_counter() - started))
    print()
    for name, status, seconds in outcomes:
        verdict = "ok" if status == 0 else f"FAILED or target missed (exit {status})"
        print(f"{name:9} {seconds:7.1f} s  {verdict}")
    return 1 if any(status for _, status, _ in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
