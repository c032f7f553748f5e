"""Ledger timings: run ``python benchmarks/ledger_bench.py`` from the repository root.

Two measurements, each at three sizes so that the growth can be read off:

- deriving the state of every finding from a file ledger of 25,000 to 100,000 records
  (read, verify the chain, replay: what ``findings list`` and every ``check`` do);
- appending one run that opens 2,500 to 10,000 findings (plan, chain, write, fsync).

Each line gives the wall time (median of ``--repeat`` runs, without tracing) and the peak
memory allocated by Python during one more run under ``tracemalloc``. The test suite never
asserts on time.

``--check`` measures instead what the ledger adds to a whole ``compliancegate check``
process (the example release, staging and production): with a file ledger of 100,000
records (``--check-records``) against an empty one, each run a fresh process. The first run
on the big ledger builds the derived-state cache (a replay from the first record); the
following ones read it and replay only the records after its head.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.clocks import Clock
from compliancegate.ledger.files import EMPTY_HEAD, LedgerFolder
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.operations import ObservedViolation, RunOp, new_op_id
from compliancegate.ledger.state import StateBuilder
from compliancegate.model import Severity

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CLOCK = Clock("security-incident", ("security-incident",), Severity.HIGH, START)


def violation(n: int) -> ObservedViolation:
    """One failing item, as a scanner finding would give."""
    return ObservedViolation(
        fingerprint=f"{n:064x}",
        policy="no-critical-vulnerabilities",
        controls=("nist-800-53-r5:SI-2", "nist-800-53-r5:RA-5"),
        severity=Severity.CRITICAL,
        message=f"CVE-2026-{n:05d} (critical) in package-{n % 997}@1.{n % 13}.0",
        kind="vulnerabilities",
        file="reports/trivy.json",
        line=None,
        waiver=None,
        waiver_expires=None,
        clock=CLOCK,
    )


def run(n: int, failing: range) -> RunOp:
    """Run number ``n``, finding the items in ``failing``."""
    return RunOp(
        op=new_op_id(),
        at=START + dt.timedelta(minutes=n),
        run_id=f"run-{n}",
        environment="staging",
        commit=f"{n:040x}",
        branch="main",
        pipeline=f"github:{n}",
        decision="blocked",
        fail_on="low",
        tool_version="bench",
        policies=24,
        evaluated=("no-critical-vulnerabilities",),
        violations=tuple(violation(i) for i in failing),
    )


def build_ledger(folder: Path, records: int) -> int:
    """A ledger of about ``records`` records: each run opens 5 findings and resolves the 5
    the run before it opened (11 records a run). Written in one append."""
    state = StateBuilder()
    ops = [run(n, range(5 * n, 5 * n + 5)) for n in range(records // 11 + 1)]
    batch = build_batch(state, EMPTY_HEAD.chain, (), ops)
    files = LedgerFolder(folder)
    with files.lock():
        files.write(EMPTY_HEAD, batch.linked)
    return len(batch.linked.records)


def measure(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median seconds over ``repeat`` runs, peak MiB of one traced run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


ROOT = Path(__file__).resolve().parent.parent


def timed_check(ledger: Path, state: Path, environment: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one ``compliancegate check`` process on the
    example release: CPU time suffers less from a loaded machine."""
    env = {**os.environ, "COMPLIANCEGATE_STATE_DIR": str(state), "NO_COLOR": "1"}
    env.pop("COMPLIANCEGATE_NOW", None)
    command = [
        sys.executable, "-m", "compliancegate", "check",
        "--config", str(ROOT / "examples" / "compliancegate.yaml"),
        "--env", environment, "--ledger", str(ledger), "--format", "json",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    trouble = (b'"ledger-error"', b'"ledger-pending"', b'"ledger-rewritten"')
    if done.returncode not in (0, 1) or any(code in done.stdout for code in trouble):
        raise SystemExit(f"check failed ({done.returncode}): {done.stdout[-400:]!r}")
    return elapsed, cpu


def check_overhead(records: int, repeat: int) -> None:
    """``check`` with a ledger of ``records`` records against an empty one (see above)."""
    print(f"check of the example release: a ledger of {records:,} records against an empty one")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        big = tmp / "big"
        count = build_ledger(big, records)
        for environment in ("staging", "production"):
            state = tmp / f"state-big-{environment}"
            first, _ = timed_check(big, state, environment)
            # Interleaved, on a shared machine: each pair sees about the same load.
            pairs = []
            for n in range(repeat):
                empty = tmp / f"empty-{environment}-{n}"
                base = timed_check(empty, tmp / f"state-{environment}-{n}", environment)
                pairs.append((base, timed_check(big, state, environment)))
                shutil.rmtree(empty)
            for what, index in (("wall", 0), ("cpu", 1)):
                base = statistics.median(p[0][index] for p in pairs)
                loaded = statistics.median(p[1][index] for p in pairs)
                added = statistics.median(p[1][index] - p[0][index] for p in pairs)
                print(
                    f"  {environment:<10} {what:<4} empty {base:6.3f} s   {count:,} records "
                    f"{loaded:6.3f} s (median difference {added:+.3f} s)"
                )
            print(
                f"  {environment:<10} first run on the big ledger, building the cache {first:.2f} s"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--check", action="store_true", help="measure check (see above)")
    parser.add_argument("--check-records", type=int, default=100_000)
    args = parser.parse_args()
    now = START + dt.timedelta(days=400)
    if args.check:
        check_overhead(args.check_records, args.repeat)
        return 0

    print("derive finding state from a file ledger (read, verify, replay)")
    for size in (25_000, 50_000, 100_000):
        size = int(size * args.scale)
        with tempfile.TemporaryDirectory() as tmp:
            count = build_ledger(Path(tmp), size)
            store = FileStore(Path(tmp))
            seconds, peak = measure(lambda store=store: store.snapshot(now), args.repeat)
            print(
                f"  {count:>9,} records   {seconds:7.3f} s   {seconds / count * 1e6:6.1f} us/record"
                f"   peak {peak:7.1f} MiB"
            )

    print("append one run that opens N findings (plan, chain, write, fsync)")
    for size in (2_500, 5_000, 10_000):
        size = int(size * args.scale)
        op = run(0, range(size))
        times = []
        peak = 0.0
        for attempt in range(args.repeat + 1):
            with tempfile.TemporaryDirectory() as tmp:
                store = FileStore(Path(tmp))
                if attempt == args.repeat:
                    tracemalloc.start()
                start = time.perf_counter()
                outcome = store.commit([op])
                elapsed = time.perf_counter() - start
                if attempt == args.repeat:
                    peak = tracemalloc.get_traced_memory()[1] / 2**20
                    tracemalloc.stop()
                else:
                    times.append(elapsed)
                assert outcome.records == size + 1
        seconds = statistics.median(times)
        print(
            f"  {size:>9,} findings  {seconds:7.3f} s   {seconds / size * 1e6:6.1f} us/finding"
            f"  peak {peak:7.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
