"""Hostile values through ``compliancegate check`` in a subprocess: each fails its own item,
the rest of the run is evaluated, every report is written, and the exit code is never 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compliancegate.reporters import REPORTERS

POLICIES = {
    "score": """\
input: {glob: "scores*"}
rule:
  for_each: items
  assert: {not: {path: score, op: gt, value: 7}}
message: "{item.name} scores too high"
""",
    "versions": """\
input: {glob: "versions.json"}
rule:
  for_each: packages
  assert: {path: version, op: version_gte, value: "2.0"}
message: "{item.name} {item.version} is too old"
""",
    "names": """\
input: {glob: "names.json"}
rule:
  for_each: items
  assert: {path: ok, op: equals, value: true}
message: "{item.name} is not ok"
""",
    "clean": """\
input: {glob: "clean.json"}
rule: {path: ok, op: equals, value: true}
""",
}


def run_check(
    tmp_path: Path, files: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict]:
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, body in POLICIES.items():
        (policies / f"{name}.yaml").write_text(
            "apiVersion: compliancegate/v1\nkind: Policy\ncontrols: []\nseverity: high\n"
            f"id: {name}\ntitle: {name}\n{body}"
        )
    release = tmp_path / "release"
    release.mkdir()
    for name, text in files.items():
        (release / name).write_text(text)
    reports = tmp_path / "reports"
    args = [sys.executable, "-m", "compliancegate", "check", "release", "--policies", "policies"]
    args += ["--no-ledger"]
    for name, reporter in sorted(REPORTERS.items()):
        args += ["--report", f"{name}={reports / ('gate-' + name + reporter.suffix)}"]
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    for name, reporter in REPORTERS.items():
        assert (reports / f"gate-{name}{reporter.suffix}").stat().st_size > 0, name
    report = json.loads((reports / "gate-json.json").read_text(encoding="utf-8"))
    return done, {r["policy"]["id"]: r for r in report["results"]}


SCORES = (
    '{"items": [{"name": "big", "score": %s}, {"name": "nan", "score": %s},'
    ' {"name": "low", "score": 1}]}'
)


@pytest.mark.parametrize("digits", [309, 400, 4000])
@pytest.mark.parametrize("bad", ["NaN", "Infinity", '"NaN"', '"inf"'])
def test_huge_numbers_nan_and_long_versions_fail_only_their_items(
    tmp_path: Path, digits: int, bad: str
) -> None:
    versions = {
        "packages": [
            {"name": "old", "version": "1.0"},
            {"name": "bomb", "version": "1." + "0" * 5000},
            {"name": "new", "version": "3.0"},
        ]
    }
    files = {
        "scores.json": SCORES % ("9" * digits, bad),
        "versions.json": json.dumps(versions),
        "names.json": '{"items": [{"name": "a\\ud800b", "ok": false}]}',
        "clean.json": '{"ok": true}',
    }
    done, results = run_check(tmp_path, files)
    assert done.returncode == 2, done.stdout + done.stderr
    score = results["score"]
    if bad in ("NaN", "Infinity"):
        # The JSON reader may refuse the document outright, or read the value and let the
        # engine refuse it; both name the file, neither passes.
        assert score["status"] == "error" and "scores.json" in score["error"]
    else:
        assert score["status"] == "error"
        assert score["error"].startswith("release/scores.json: items[1]: score is ")
        assert [v["message"] for v in score["violations"]] == ["big scores too high"]
    version = results["versions"]
    assert version["status"] == "error"
    assert version["error"].startswith(
        "release/versions.json: packages[1]: version is a version longer than 256 characters"
    )
    assert [v["message"] for v in version["violations"]] == ["old 1.0 is too old"]
    assert results["names"]["status"] == "fail"
    assert results["names"]["violations"][0]["message"] == "a\ufffdb is not ok"
    assert results["clean"]["status"] == "pass"


@pytest.mark.parametrize("depth", [50, 150, 100_000])
def test_deep_documents_are_never_a_pass(tmp_path: Path, depth: int) -> None:
    deep = '{"items": [{"name": "deep", "score": ' + "[" * depth + "1" + "]" * depth + "}]}"
    done, results = run_check(tmp_path, {"scores.json": deep, "clean.json": '{"ok": true}'})
    score = results["score"]
    assert score["status"] == "error"
    assert "scores.json" in score["error"]
    assert done.returncode == 2
    assert results["clean"]["status"] == "pass"
