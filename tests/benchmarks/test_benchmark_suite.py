"""The benchmark suite runs, compares verdicts and measures each process on its own.

Smoke sizes only (seconds), and no assertion on time: these prove that ``benchmarks/run.py``
works without the ``bench`` extra (peers reported as skipped), that a verdict that differs
from compliancegate's fails the run, and that a peak-memory figure is the measured process's
own, never its parent's high-water mark.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )


def without_peers(tmp_path: Path) -> dict[str, str]:
    """An environment in which the Rego engines fail to import, installed or not."""
    shadow = tmp_path / "shadow"
    for name in ("opa_eval", "regopy"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    import os

    return dict(os.environ, PYTHONPATH=str(shadow))


def test_run_py_gate_suite_checks_verdicts_and_skips_missing_peers(tmp_path: Path) -> None:
    done = run(
        str(BENCH / "run.py"), "--quick", "--", "--case", "trivy:150x4", "--case", "sbom:120x3",
        "--case", "junit:150x3", env=without_peers(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for label in ("trivy 150 x 4", "sbom 120 x 3", "junit 150 x 3"):
        assert f"- {label}: floor: equal" in out
    assert "regorus: skipped (not installed" in out
    assert "rego-cpp: skipped (not installed" in out
    assert "n/a (Rego engines read JSON; JUnit is XML)" in out
    assert "| cg / regorus | cg / rego-cpp | cg / floor |" in out
    assert "gate" in out.splitlines()[-1] and out.splitlines()[-1].endswith("ok")


def test_results_file_has_the_machine_and_the_table(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = run(
        str(BENCH / "gate_bench.py"), "--case", "trivy:100x3", "--repeat", "1",
        "--engines", "compliancegate,floor", "--results", str(results), "--note", "2 cores",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = results.read_text()
    assert "- CPU: " in text and "- Python 3." in text and "- Note: 2 cores" in text
    assert "| trivy 100 x 3 |" in text


@pytest.mark.parametrize("kind", ["trivy", "sbom", "junit"])
def test_the_three_rule_sets_agree_on_generated_inputs(tmp_path: Path, kind: str) -> None:
    """compliancegate's policies and the floor's hand-written loop deny the same items, on
    inputs where the rules deny some items and let most through."""
    case = tmp_path / kind
    made = run(str(BENCH / "gate_inputs.py"), str(case), "--kind", kind, "--items", "2000",
               "--policies", "7")  # fmt: skip
    assert made.returncode == 0, made.stderr
    gate = run(
        "-m", "compliancegate", "check", "--config", str(case / "compliancegate.yaml"),
        "--no-ledger", "--format", "json", "--output", str(case / "compliancegate.json"),
    )  # fmt: skip
    assert gate.returncode == 1, gate.stdout + gate.stderr
    floor = run(str(BENCH / "peer_floor.py"), str(case), str(case / "floor.json"))
    assert floor.returncode == 0, floor.stderr
    verdicts = run(str(BENCH / "gate_verdicts.py"), str(case), "floor")
    answer = json.loads(verdicts.stdout)
    assert answer["engines"] == {"floor": "equal"}
    report = json.loads((case / "compliancegate.json").read_text())
    counts = [len(result["violations"]) for result in report["results"]]
    assert sum(counts) == answer["violations"] > 0
    assert all(count < 2000 for count in counts)


def test_a_different_verdict_is_reported_and_fails(tmp_path: Path) -> None:
    case = tmp_path / "case"
    assert run(str(BENCH / "gate_inputs.py"), str(case), "--items", "300").returncode == 0
    gate = run(
        "-m", "compliancegate", "check", "--config", str(case / "compliancegate.yaml"),
        "--no-ledger", "--format", "json", "--output", str(case / "compliancegate.json"),
    )  # fmt: skip
    assert gate.returncode == 1
    assert run(str(BENCH / "peer_floor.py"), str(case), str(case / "floor.json")).returncode == 0
    floor = json.loads((case / "floor.json").read_text())
    # One denied item dropped, one invented: each side's difference is counted.
    (case / "dropped.json").write_text(json.dumps(floor[1:]))
    (case / "invented.json").write_text(json.dumps([*floor, "bench-000|CVE-0|x|1"]))
    answer = json.loads(run(str(BENCH / "gate_verdicts.py"), str(case), "dropped",
                            "invented").stdout)  # fmt: skip
    assert answer["engines"]["dropped"].startswith("DIFFERENT: 1 only compliancegate, 0 only")
    assert answer["engines"]["invented"].startswith("DIFFERENT: 0 only compliancegate, 1 only")


def test_parse_bench_peak_memory_is_the_childs_own(tmp_path: Path) -> None:
    """The parent holds 300 MiB when it starts the measured child: the child's figure is its
    own (tens of MiB for a small report), not the parent's high-water mark."""
    if not Path("/proc/self/status").exists():
        pytest.skip("VmHWM is Linux's; elsewhere the figure is ru_maxrss")
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(BENCH)!r})
        import parse_bench
        from pathlib import Path
        ballast = bytearray(300 * 2**20)
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1
        path = Path({str(tmp_path / "trivy.json")!r})
        path.write_text(json.dumps(parse_bench.trivy(200)))
        print(parse_bench.measure(path, "vulnerabilities", repeats=1)["rss_kib"])
        """
    )
    done = run("-c", script)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 150 * 1024


def test_measured_processes_may_use_bytecode_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """With PYTHONDONTWRITEBYTECODE set (as in some sandboxes), every timed check would
    compile the package from source again: a cost no installed wheel pays."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.syspath_prepend(str(BENCH))
    import gate_bench

    env = gate_bench.child_environment()
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["COMPLIANCEGATE_NOW"] == "2026-11-21T12:00:00Z"


def test_ledger_cap_bench_runs_at_smoke_size() -> None:
    """The million-violation benchmark, at a few hundred: every run finishes (the small
    input exits 1, its policies fail), and the ledger is bounded by the cap."""
    done = run(str(BENCH / "ledger_cap_bench.py"), "--items", "300", "--policies", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not finish" not in done.stdout
    for label in ("big run, empty ledger", "small run again, on a small ledger"):
        assert label in done.stdout
    assert "600 violations" in done.stdout
