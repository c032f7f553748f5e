"""Evidence bundles of a period: run ``python benchmarks/bundle_bench.py`` from the repository
root (``--quick`` for a smoke run of a few seconds).

For each case it builds, in a temporary folder, a project with a signed file ledger and
1,000 recorded runs (one an hour, so six weeks) with the evidence ``check`` keeps for each,
then times ``bundle create --since/--until`` over the whole period and ``bundle verify`` of
the result, each in a fresh ``python -m compliancegate`` process, and prints the wall time
and the peak memory (max RSS of that process, from ``wait4``) of each. The cases:

- digests only (``--digests-only``), 100 and 500 MB of artifacts judged over the period;
- artifacts included, 10, 50 and 100 MB.

Memory must stay flat as the artifacts grow: archiving streams every artifact in 1 MiB
chunks and verification hashes members as it reads them, so only the number of runs, not
the bytes judged, should move the peak.

**The runs.** Each run judges its own build folder, ``builds/NNNN/``: a Trivy report (a
handful of vulnerabilities that come and go, so findings open and resolve) and a CycloneDX
SBOM; the SBOMs share the case's bytes, 60 % spread evenly over the runs and 40 % in the
last run's (one large file, so that a member read whole instead of streamed would show in
the peak). The policies are the starter library's vulnerability and SBOM policies with the
NIST 800-53 register. Every build folder stays on disk as judged, so an including bundle
carries every artifact: the most a period bundle can read.

**How the setup differs from real runs.** Running ``compliancegate check`` 1,000 times would
take far longer than what is measured, so each run calls in this process what the ``check``
command calls (``cli.check._check_and_record``: ``run_check``, then ``record_run`` into the
ledger, signing a head with ``COMPLIANCEGATE_SIGNING_KEY_FILE``; then
``cli.check._keep_evidence``, which calls ``keep_run``) with the run's clock passed as
``CheckOptions(now=...)`` instead of read from the system, and no ``--report`` file (so
``keep_run`` renders the reports it keeps itself). The ledger,
its signed heads and the kept evidence are therefore byte for byte what real runs write; only
the process and the wall clock differ, and neither is read by ``bundle create`` or
``bundle verify``, which are what is timed, each in a fresh process like a real invocation.
The machine's page cache holds the artifacts just written, as it would right after a
pipeline's runs; a cold cache adds disk reads, not memory.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 1, 5, 0, 0, tzinfo=dt.UTC)
MB = 1_000_000
BIG_SHARE = 0.4
"""Share of a case's bytes in the last run's SBOM (one large artifact)."""

CONFIG = """\
apiVersion: compliancegate/v1
kind: Config
ledger: ../ledger
registers: [registers/nist-800-53-r5.yaml]
policies: [policies]
environments:
  production: {production: true}
  staging: {}
"""


@dataclass(frozen=True)
class Case:
    """One measurement: ``runs`` runs judging ``megabytes`` of artifacts in all."""

    mode: str
    """``digests`` (``--digests-only``) or ``full`` (artifacts included)."""
    megabytes: float
    runs: int


@dataclass(frozen=True)
class Measured:
    """One process: wall seconds, peak RSS in MiB, exit status, output."""

    seconds: float
    peak_mib: float
    code: int
    output: str


def component(run: int, index: int) -> str:
    """One CycloneDX component (about 420 bytes), its hash random like a real one's."""
    name = f"lib-{run}-{index}"
    version = f"{index % 17}.{index % 29}.{run % 13}"
    digest = os.urandom(32).hex()
    return (
        f'{{"type":"library","bom-ref":"pkg:npm/{name}@{version}","name":"{name}",'
        f'"version":"{version}","purl":"pkg:npm/{name}@{version}",'
        f'"licenses":[{{"license":{{"id":"MIT"}}}}],'
        f'"hashes":[{{"alg":"SHA-256","content":"{digest}"}}]}}'
    )


def write_sbom(path: Path, run: int, size: int) -> int:
    """A CycloneDX 1.6 SBOM of about ``size`` bytes (at least one component); its size."""
    head = (
        '{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,'
        f'"serialNumber":"urn:uuid:00000000-0000-4000-8000-{run:012d}",'
        '"metadata":{"component":{"type":"application","name":"bench-app"}},"components":['
    )
    written = 0
    with path.open("w", encoding="ascii") as out:
        out.write(head)
        written += len(head)
        index = 0
        while index == 0 or written < size - 2:
            text = ("," if index else "") + component(run, index)
            out.write(text)
            written += len(text)
            index += 1
        out.write("]}")
    return written + 2


def write_trivy(path: Path, run: int) -> int:
    """A Trivy report with five vulnerabilities from a window that moves every day, and a
    critical one in one run of 48, so findings open, resolve and sometimes block."""
    vulns = [
        {
            "VulnerabilityID": f"CVE-2026-{run // 24 + k:05d}",
            "PkgName": f"pkg-{(run // 24 + k) % 97}",
            "InstalledVersion": "1.0.0",
            "FixedVersion": "1.0.1" if k % 2 else "",
            "Severity": "HIGH" if k == 0 else "MEDIUM",
        }
        for k in range(5)
    ]
    if run % 48 == 7:
        vulns.append(
            {
                "VulnerabilityID": f"CVE-2025-{run:05d}",
                "PkgName": "openssl",
                "InstalledVersion": "3.0.0",
                "FixedVersion": "3.0.1",
                "Severity": "CRITICAL",
            }
        )
    report = {
        "SchemaVersion": 2,
        "ArtifactName": f"registry.example/app:{run}",
        "ArtifactType": "container_image",
        "Results": [
            {"Target": "app", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vulns}
        ],
    }
    data = json.dumps(report, indent=2)
    path.write_text(data, encoding="ascii")
    return len(data)


@contextlib.contextmanager
def inside(folder: Path, environ: dict[str, str]) -> Iterator[None]:
    """Work in ``folder`` with ``environ`` set, as a ``check`` there would."""
    saved_cwd = Path.cwd()
    saved_env = dict(os.environ)
    os.chdir(folder)
    os.environ.update(environ)
    for variable in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_TAG", "COMPLIANCEGATE_NOW"):
        os.environ.pop(variable, None)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def build(top: Path, case: Case) -> tuple[dict[str, str], int]:
    """The project of ``case`` under ``top`` with its runs recorded; the environment the
    bundle commands need, and the bytes of artifacts judged."""
    from compliancegate.check import CheckOptions, resolve
    from compliancegate.cli.check import _check_and_record, _keep_evidence
    from compliancegate.signing.keys import generate

    project = top / "project"
    (project / "policies").mkdir(parents=True)
    (project / "registers").mkdir()
    (project / "compliancegate.yaml").write_text(CONFIG, encoding="utf-8")
    for name in ("vulnerabilities.yaml", "sbom.yaml"):
        shutil.copy(ROOT / "policies" / name, project / "policies" / name)
    shutil.copy(ROOT / "registers" / "nist-800-53-r5.yaml", project / "registers")
    generate(top / "signing.key")
    environ = {
        "HOME": str(top / "home"),
        "COMPLIANCEGATE_STATE_DIR": str(top / "state"),
        "COMPLIANCEGATE_SIGNING_KEY_FILE": str(top / "signing.key"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
    }
    total = int(case.megabytes * MB)
    big = int(total * BIG_SHARE)
    spread = (total - big) // case.runs
    judged = 0
    with inside(project, environ):
        for n in range(1, case.runs + 1):
            folder = project / "builds" / f"{n:04d}"
            folder.mkdir(parents=True)
            judged += write_trivy(folder / "trivy.json", n)
            size = spread + (big if n == case.runs else 0)
            judged += write_sbom(folder / "sbom.cdx.json", n, size)
            options = CheckOptions(
                paths=(Path("builds") / f"{n:04d}",),
                environment="production" if n % 24 == 0 else "staging",
                run_id=f"run-{n:04d}",
                now=START + dt.timedelta(hours=n),
            )
            report = _check_and_record(options, resolve(options))
            problems = [x for x in report.notices if x.code.startswith("ledger")]
            problems.append(_keep_evidence(report, {}))
            if any(problems):
                raise SystemExit(f"run {n}: {problems}")
    return environ, judged


_LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and writes its peak RSS. The peak is taken by this small process, not by
the benchmark: a child forked from a large process starts with that process's RSS as its
peak, which exec does not reset, and ``getrusage(RUSAGE_CHILDREN)`` is the maximum over
every child so far, so one large case would hide a smaller one after it."""


def measure(args: list[str], cwd: Path, environ: dict[str, str]) -> Measured:
    """Run ``python -m compliancegate ARGS`` in a fresh process: its wall time and peak RSS."""
    env = {**os.environ, **environ}
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp, "peak")
        command = [sys.executable, "-c", _LAUNCHER, str(peak_file)]
        command += [sys.executable, "-m", "compliancegate", *args]
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        elapsed = time.perf_counter() - started
        peak_raw = int(peak_file.read_text())
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = peak_raw / (2**10 if sys.platform == "darwin" else 1) / 2**10
    return Measured(elapsed, peak, done.returncode, done.stdout.decode("utf-8", "replace"))


def run_case(case: Case) -> tuple[int, int, Measured, Measured]:
    """Build ``case`` and bundle it: (bytes judged, bundle bytes, create, verify)."""
    with tempfile.TemporaryDirectory(prefix="bundle-bench-") as tmp:
        top = Path(tmp)
        started = time.perf_counter()
        environ, judged = build(top, case)
        print(
            f"  ({case.mode} {case.megabytes:g} MB: {case.runs} runs recorded in "
            f"{time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        until = START + dt.timedelta(hours=case.runs + 1)
        bundle = top / "period.tar.gz"
        args = ["bundle", "create", "--since", "2026-01-01", "--until", until.isoformat()]
        args += ["-o", str(bundle)]
        if case.mode == "digests":
            args.append("--digests-only")
        created = measure(args, top / "project", environ)
        if created.code != 0:
            raise SystemExit(f"bundle create failed:\n{created.output}")
        pub = str(top / "signing.key.pub")
        verified = measure(["bundle", "verify", str(bundle), "--pubkey", pub], top, environ)
        if verified.code != 0:
            raise SystemExit(f"bundle verify failed:\n{verified.output}")
        return judged, bundle.stat().st_size, created, verified


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 runs, a few MB: a smoke run")
    parser.add_argument("--runs", type=int, help="runs in the period (default 1,000)")
    parser.add_argument(
        "--case",
        action="append",
        metavar="MODE:MB",
        help="only this case, e.g. full:50 or digests:500 (repeatable)",
    )
    args = parser.parse_args()
    if args.quick:
        runs = args.runs or 40
        cases = [Case("digests", mb, runs) for mb in (2, 8)]
        cases += [Case("full", mb, runs) for mb in (1, 4)]
    else:
        runs = args.runs or 1000
        cases = [Case("digests", mb, runs) for mb in (100, 500)]
        cases += [Case("full", mb, runs) for mb in (10, 50, 100)]
    if args.case:
        cases = []
        for text in args.case:
            mode, _, size = text.partition(":")
            if mode not in ("digests", "full") or not size.replace(".", "", 1).isdigit():
                parser.error(f"--case {text!r}: expected digests:MB or full:MB")
            cases.append(Case(mode, float(size), runs))
    baseline = measure(["--version"], ROOT, {})
    print(
        f"python -m compliancegate --version: {baseline.seconds:.2f} s, "
        f"peak {baseline.peak_mib:.0f} MiB"
    )
    print(
        f"{'artifacts':<10} {'judged':>9} {'runs':>5} {'bundle':>9} "
        f"{'create':>8} {'peak':>8} {'verify':>8} {'peak':>8}"
    )
    for case in cases:
        judged, size, created, verified = run_case(case)
        mode = "digests" if case.mode == "digests" else "included"
        print(
            f"{mode:<10} {judged / MB:>6.1f} MB {case.runs:>5} {size / MB:>6.1f} MB "
            f"{created.seconds:>6.1f} s {created.peak_mib:>4.0f} MiB "
            f"{verified.seconds:>6.1f} s {verified.peak_mib:>4.0f} MiB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
