"""``compliancegate check``: exit codes, thresholds, enforcement, environments, config,
waivers and outputs, each run both in-process (CliRunner) and as a subprocess."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# --------------------------------------------------------------------------- helpers


def check(cg: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    """``check release --no-ledger ARGS``."""
    return cg("check", "release", "--no-ledger", *args, env=env)


def results_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["policy"]["id"]: r for r in document["results"]}


def assert_clean_failure(outcome: Any) -> None:
    """Exit 2 with a message and never a traceback."""
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert outcome.stderr.strip(), "exit 2 must say why on stderr"


# --------------------------------------------------------------------------- exit codes


def test_compliant_release_exits_0(gate_project: Any, cg: Any) -> None:
    outcome = check(cg)
    assert outcome.code == 0, outcome.output
    assert "COMPLIANT" in outcome.stdout
    assert "Traceback" not in outcome.output


def test_critical_vulnerability_blocks_with_exit_1(
    gate_project: Any, cg: Any, gate_snippets: Any
) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg)
    assert outcome.code == 1, outcome.output
    assert "BLOCKED" in outcome.stdout
    assert "CVE-2026-0001 (critical) in openssl" in outcome.stdout
    assert "no-critical-vulns" in outcome.stdout
    assert "Traceback" not in outcome.output


def test_bad_flag_exits_2(gate_project: Any, cg: Any) -> None:
    outcome = check(cg, "--no-such-flag")
    assert_clean_failure(outcome)
    assert "--no-such-flag" in outcome.stderr


def test_bad_choice_for_fail_on_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    outcome = check(cg, "--fail-on", "severe")
    assert_clean_failure(outcome)
    assert "severe" in outcome.stderr


def test_missing_policy_directory_exits_2_naming_it(gate_project: Any, cg: Any) -> None:
    outcome = check(cg, "--policies", "no-such-policies")
    assert_clean_failure(outcome)
    assert "no-such-policies" in outcome.stderr


def test_invalid_policy_names_file_line_and_policy_id(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "policies/broken.yaml",
        "apiVersion: compliancegate/v1\n"
        "kind: Policy\n"
        "id: broken-op\n"
        "title: Uses an op that does not exist\n"
        "controls: [tiny-std:CFG-1]\n"
        "severity: low\n"
        "input: json\n"
        "rule: {path: a, op: is_shiny, value: true}\n",
    )
    outcome = check(cg)
    assert_clean_failure(outcome)
    assert "policies/broken.yaml:8" in outcome.stderr
    assert "broken-op" in outcome.stderr
    assert "is_shiny" in outcome.stderr


def test_unknown_key_in_policy_names_key_and_line(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write(
        "policies/typo.yaml",
        "apiVersion: compliancegate/v1\n"
        "kind: Policy\n"
        "id: typo-policy\n"
        "title: Typo\n"
        "controls: [tiny-std:CFG-1]\n"
        "severity: low\n"
        "input: json\n"
        "enforcment: warn\n"
        "rule: {path: a, op: exists}\n",
    )
    outcome = check(cg)
    assert_clean_failure(outcome)
    assert "policies/typo.yaml:8" in outcome.stderr
    assert "typo-policy" in outcome.stderr
    assert "enforcment" in outcome.stderr


def test_invalid_register_exits_2_naming_it(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "registers/broken.yaml",
        "apiVersion: compliancegate/v1\nkind: Register\nmetadata: {name: broken}\nstandards: 7\n",
    )
    outcome = check(cg)
    assert_clean_failure(outcome)
    assert "registers/broken.yaml" in outcome.stderr


def test_unknown_control_exits_2_naming_policy_and_control(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "policies/orphan.yaml",
        "apiVersion: compliancegate/v1\n"
        "kind: Policy\n"
        "id: orphan\n"
        "title: Names a control the register lacks\n"
        "controls: [tiny-std:NOPE-9]\n"
        "severity: low\n"
        "input: json\n"
        "rule: {path: a, op: exists}\n",
    )
    outcome = check(cg)
    assert_clean_failure(outcome)
    assert "tiny-std:NOPE-9" in outcome.stderr
    assert "orphan" in outcome.stderr
    assert "policies/orphan.yaml:5" in outcome.stderr


def test_missing_artifact_path_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    outcome = cg("check", "no-such-release", "--no-ledger")
    assert_clean_failure(outcome)
    assert "no-such-release" in outcome.stderr


def test_no_traceback_for_internal_errors_unless_debug(
    gate_project: Any, cg_inprocess: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compliancegate.check

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(compliancegate.check, "run_check", explode)
    outcome = cg_inprocess("check", "release", "--no-ledger")
    assert outcome.code == 2
    assert "Traceback" not in outcome.output
    assert "internal error" in outcome.stderr and "kaboom" in outcome.stderr
    debug = cg_inprocess("--debug", "check", "release", "--no-ledger")
    assert debug.code == 2
    assert "Traceback" in debug.stderr and "kaboom" in debug.stderr


_EXPLODING_MAIN = """
import sys
import compliancegate.check
def explode(*args, **kwargs):
    raise RuntimeError("kaboom")
compliancegate.check.run_check = explode
from compliancegate.__main__ import main
sys.exit(main())
"""


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_in_a_subprocess(gate_project: Any, debug: bool) -> None:
    import os
    import subprocess
    import sys

    args = ["--debug"] if debug else []
    done = subprocess.run(
        [sys.executable, "-c", _EXPLODING_MAIN, *args, "check", "release", "--no-ledger"],
        cwd=gate_project.root,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2  # exit 1 would tell the pipeline the release is blocked
    assert "kaboom" in done.stderr
    assert ("Traceback" in done.stderr) is debug


def test_standalone_click_invocation_keeps_exit_codes(
    gate_project: Any, gate_snippets: Any
) -> None:
    # CliRunner().invoke(cli) runs click in standalone mode, which would drop the returned
    # exit code (a blocked release exiting 0 is the worst bug a gate can have).
    from click.testing import CliRunner

    from compliancegate.cli import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["check", "release", "--no-ledger"]).exit_code == 0
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    blocked = runner.invoke(cli, ["check", "release", "--no-ledger"])
    assert blocked.exit_code == 1, blocked.output
    bad = runner.invoke(cli, ["check", "release", "--policies", "nope"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output


# --------------------------------------------------------------------------- fail-on, enforcement


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("low", 1), ("moderate", 1), ("high", 0), ("critical", 0)],
)
def test_fail_on_threshold_with_a_moderate_failure(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any, fail_on: str, expected: int
) -> None:
    cg = cg_inprocess
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    outcome = check(cg, "--fail-on", fail_on)
    assert outcome.code == expected, outcome.output
    assert "container web uses nginx:latest" in outcome.stdout


@pytest.mark.parametrize("fail_on", ["low", "critical"])
def test_critical_failure_blocks_at_every_threshold(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any, fail_on: str
) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    assert check(cg, "--fail-on", fail_on).code == 1


def test_warn_and_audit_policies_never_block(gate_project: Any, cg: Any) -> None:
    gate_project.write_scan(tool=None, audited=False)
    outcome = check(cg, "--format", "json")
    assert outcome.code == 0, outcome.output
    document = outcome.json()
    assert document["decision"] == "compliant"
    results = results_by_id(document)
    for policy_id in ("scan-names-tool", "scan-audited"):
        assert results[policy_id]["status"] == "fail"
        assert results[policy_id]["blocking"] is False


# --------------------------------------------------------------------------- environments


def test_without_env_production_policies_apply_but_it_is_not_a_release(
    gate_project: Any, cg_inprocess: Any
) -> None:
    """No --env evaluates production's policies (skipping them would fail open), but the
    run does not claim to be a production release."""
    cg = cg_inprocess
    gate_project.write_scan(signed=False)
    outcome = check(cg, "--format", "json")
    assert outcome.code == 1, outcome.output
    document = outcome.json()
    assert results_by_id(document)["prod-scan-signed"]["status"] == "fail"
    assert document["run"]["environment"] == "production"
    assert "not-a-release" in [n["code"] for n in document["notices"]]


ENVIRONMENTS = """\
apiVersion: compliancegate/v1
kind: Config
environments:
  production: {production: true}
  staging: {}
break_fix: {enforce: false}
"""


@pytest.mark.parametrize(("env", "expected"), [("production", 1), ("staging", 0)])
def test_env_flag_selects_environment_policies(
    gate_project: Any, cg: Any, env: str, expected: int
) -> None:
    gate_project.write("compliancegate.yaml", ENVIRONMENTS)
    gate_project.write_scan(signed=False)
    # Production refuses COMPLIANCEGATE_NOW: the subprocess run uses the real clock.
    real_clock = {"COMPLIANCEGATE_NOW": ""} if env == "production" else None
    outcome = check(cg, "--env", env, "--format", "json", env=real_clock)
    assert outcome.code == expected, outcome.output
    status = results_by_id(outcome.json())["prod-scan-signed"]["status"]
    assert status == ("fail" if env == "production" else "not_applicable")


# --------------------------------------------------------------------------- config file

CONFIG = """\
apiVersion: compliancegate/v1
kind: Config
policies: [policies]
registers: [registers]
paths: [release]
fail_on: high
environment: staging
environments:
  production: {fail_on: low}
  staging: {}
"""


def test_config_in_cwd_is_picked_up(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    assert cg("check", "--no-ledger").code == 1  # no config: default fail_on low
    gate_project.write("compliancegate.yaml", CONFIG)
    outcome = cg("check", "--no-ledger", "--format", "json")
    assert outcome.code == 0, outcome.output  # config: fail_on high, the failure is moderate
    document = outcome.json()
    assert document["run"]["fail_on"] == "high"
    assert document["run"]["environment"] == "staging"  # the config's environment:
    assert document["run"]["paths"] == ["release"]


def test_flags_override_config(gate_project: Any, cg_inprocess: Any, gate_snippets: Any) -> None:
    cg = cg_inprocess
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    gate_project.write("compliancegate.yaml", CONFIG)
    assert cg("check", "--no-ledger", "--fail-on", "low").code == 1
    # An environment's settings override the config's; the flag overrides both.
    assert cg("check", "--env", "production").code == 1
    # The moderate finding is now an open break-fix finding, but below --fail-on: it
    # follows its policy's decision and does not block.
    assert cg("check", "--env", "production", "--fail-on", "high").code == 0


def test_explicit_config_flag(gate_project: Any, cg_inprocess: Any, gate_snippets: Any) -> None:
    cg = cg_inprocess
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    gate_project.write(
        "ci/gate.yaml",
        CONFIG.replace("[policies]", "[../policies]")
        .replace("[registers]", "[../registers]")
        .replace("[release]", "[../release]"),
    )
    outcome = cg("check", "--no-ledger", "--config", "ci/gate.yaml", "--format", "json")
    assert outcome.code == 0, outcome.output
    assert outcome.json()["run"]["fail_on"] == "high"
    assert cg("check", "--config", "ci/gate.yaml", "--env", "production").code == 1


def test_unknown_environment_in_config_exits_2(gate_project: Any, cg: Any) -> None:
    gate_project.write("compliancegate.yaml", CONFIG)
    outcome = cg("check", "--no-ledger", "--env", "qa")
    assert_clean_failure(outcome)
    assert "qa" in outcome.stderr
    gate_project.write(
        "compliancegate.yaml", CONFIG.replace("environment: staging", "environment: qa")
    )
    outcome = cg("check", "--no-ledger")
    assert_clean_failure(outcome)
    assert "qa" in outcome.stderr


def test_missing_explicit_config_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    outcome = cg("check", "--no-ledger", "--config", "nowhere.yaml")
    assert_clean_failure(outcome)
    assert "nowhere.yaml" in outcome.stderr


def test_invalid_config_exits_2_with_line(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write("compliancegate.yaml", CONFIG + "fail_onn: low\n")
    outcome = cg("check", "--no-ledger")
    assert_clean_failure(outcome)
    assert "compliancegate.yaml:11" in outcome.stderr
    assert "fail_onn" in outcome.stderr


# --------------------------------------------------------------------------- waivers


def test_valid_waiver_waives_and_is_shown(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    gate_project.write("waivers.yaml", gate_snippets.waivers("2026-12-31"))
    outcome = check(cg, "--waivers", "waivers.yaml")
    assert outcome.code == 0, outcome.output
    assert "WAIVED" in outcome.stdout
    assert "w-openssl" in outcome.stdout
    assert "CVE-2026-0001" in outcome.stdout  # waived violations are shown, never silent
    document = check(cg, "--waivers", "waivers.yaml", "--format", "json").json()
    result = results_by_id(document)["no-critical-vulns"]
    assert result["status"] == "waived"
    assert result["violations"][0]["waiver"]["id"] == "w-openssl"


def test_waiver_matching_another_item_does_not_apply(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any
) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    gate_project.write("waivers.yaml", gate_snippets.waivers("2026-12-31", package="zlib"))
    assert check(cg, "--waivers", "waivers.yaml").code == 1


def test_expired_waiver_does_not_apply_and_is_reported(
    gate_project: Any, cg: Any, gate_snippets: Any
) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    gate_project.write("waivers.yaml", gate_snippets.waivers("2026-11-20"))
    outcome = check(cg, "--waivers", "waivers.yaml")
    assert outcome.code == 1, outcome.output
    assert "w-openssl" in outcome.stdout
    assert "expired" in outcome.stdout
    document = check(cg, "--waivers", "waivers.yaml", "--format", "json").json()
    assert results_by_id(document)["no-critical-vulns"]["status"] == "fail"
    assert any(n["code"] == "waiver-expired" for n in document["notices"])


def test_waiver_is_valid_through_its_expiry_day(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any
) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    gate_project.write("waivers.yaml", gate_snippets.waivers("2026-11-21"))
    assert check(cg, "--waivers", "waivers.yaml").code == 0
    later = {"COMPLIANCEGATE_NOW": "2026-11-22T00:00:01Z"}
    assert check(cg, "--waivers", "waivers.yaml", env=later).code == 1


def test_invalid_waivers_file_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write(
        "waivers.yaml",
        "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n"
        "  - {policy: no-critical-vulns, reason: r, approved_by: me}\n",
    )
    outcome = check(cg, "--waivers", "waivers.yaml")
    assert_clean_failure(outcome)
    assert "waivers.yaml" in outcome.stderr
    assert "expires" in outcome.stderr


# --------------------------------------------------------------------------- formats and files


def test_json_format_parses(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg, "--format", "json")
    assert outcome.code == 1
    document = outcome.json()
    assert document["decision"] == "blocked"
    result = results_by_id(document)["no-critical-vulns"]
    assert result["status"] == "fail"
    assert result["blocking"] is True
    violation = result["violations"][0]
    assert violation["message"] == "CVE-2026-0001 (critical) in openssl"
    assert violation["location"]["file"] == "release/scan.json"
    assert violation["controls"] == ["tiny-std:VULN-1"]
    assert re.fullmatch(r"[0-9a-f]{64}", violation["fingerprint"])


def test_fingerprints_are_stable_across_runs(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any
) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])

    def fingerprints() -> list[str]:
        document = check(cg, "--format", "json").json()
        return [v["fingerprint"] for r in document["results"] for v in r["violations"]]

    first = fingerprints()
    assert first
    assert fingerprints() == first


def test_reports_are_written_in_one_run(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg, "--report", "junit=out/gate.xml", "--report", "json=out/gate.json")
    assert outcome.code == 1, outcome.output
    assert "BLOCKED" in outcome.stdout  # the main format still goes to stdout
    document = json.loads((gate_project.root / "out/gate.json").read_text(encoding="utf-8"))
    assert document["decision"] == "blocked"
    tree = ET.parse(gate_project.root / "out/gate.xml")
    names = {case.get("name", "") for case in tree.iter("testcase")}
    assert any("no-critical-vulns" in name for name in names)
    assert any(True for _ in tree.iter("failure"))


def test_bad_report_argument_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    for bad in ("junit", "nosuch=out.txt", "=x.json"):
        outcome = check(cg, "--report", bad)
        assert_clean_failure(outcome)
    assert not (gate_project.root / "out.txt").exists()


def test_output_writes_the_main_format_to_a_file(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any
) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg, "--format", "json", "--output", "out/main.json")
    assert outcome.code == 1
    assert outcome.stdout.strip() == ""
    written = json.loads((gate_project.root / "out/main.json").read_text(encoding="utf-8"))
    assert written["decision"] == "blocked"


@pytest.mark.parametrize(
    "breakage",
    ["--policies=missing-dir", "--register=missing.yaml", "--waivers=missing.yaml"],
)
def test_output_not_created_when_the_run_fails_to_load(
    gate_project: Any, cg: Any, breakage: str
) -> None:
    outcome = check(cg, "--output", "out/main.txt", "--report", "json=out/side.json", breakage)
    assert_clean_failure(outcome)
    assert not (gate_project.root / "out/main.txt").exists()
    assert not (gate_project.root / "out/side.json").exists()
    assert not (gate_project.root / "out").exists() or not any(
        (gate_project.root / "out").iterdir()
    )


def test_no_ansi_escapes_when_not_a_tty(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg, env={"NO_COLOR": ""})
    assert outcome.code == 1
    assert "\x1b[" not in outcome.output


def test_no_color_wins_over_a_tty(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compliancegate.cli.check as check_command

    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    monkeypatch.setattr(check_command, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = cg_inprocess("check", "release", "--no-ledger")
    assert plain.code == 1
    assert not ANSI.search(plain.output)
    # Sanity: the same run on a TTY without NO_COLOR is coloured, so the check above can fail.
    monkeypatch.delenv("NO_COLOR")
    coloured = cg_inprocess("check", "release", "--no-ledger")
    assert ANSI.search(coloured.stdout)
    assert ANSI.sub("", coloured.stdout).count("BLOCKED") == plain.stdout.count("BLOCKED")


def test_markdown_format(gate_project: Any, cg_inprocess: Any, gate_snippets: Any) -> None:
    cg = cg_inprocess
    gate_project.write_scan(vulnerabilities=[gate_snippets.critical_vuln])
    outcome = check(cg, "--format", "markdown")
    assert outcome.code == 1
    assert "no-critical-vulns" in outcome.stdout
    assert "|" in outcome.stdout


# --------------------------------------------------------------------------- missing evidence


def test_missing_required_evidence_is_a_failure(gate_project: Any, cg: Any) -> None:
    (gate_project.root / "release/scan.json").unlink()
    outcome = check(cg, "--format", "json")
    assert outcome.code == 1, outcome.output
    document = outcome.json()
    assert document["decision"] == "blocked"
    result = results_by_id(document)["no-critical-vulns"]
    assert result["status"] == "fail"
    assert "missing evidence" in result["violations"][0]["message"]
    # The optional YAML policy still runs; warn/audit policies fail without blocking.
    assert results_by_id(document)["images-pinned"]["status"] == "pass"
    text = check(cg)
    assert text.code == 1
    assert "missing evidence" in text.stdout


def test_optional_input_without_artifacts_is_not_applicable(
    gate_project: Any, cg_inprocess: Any
) -> None:
    cg = cg_inprocess
    (gate_project.root / "release/deploy.yaml").unlink()
    outcome = check(cg, "--format", "json")
    assert outcome.code == 0, outcome.output
    assert results_by_id(outcome.json())["images-pinned"]["status"] == "not_applicable"


# --------------------------------------------------------------------------- starter content


def test_example_release_is_blocked(cg_subprocess: Any) -> None:
    root = Path(__file__).resolve().parents[2]
    config = root / "examples" / "compliancegate.yaml"
    if not config.is_file():
        pytest.skip("examples/compliancegate.yaml is not there yet")
    outcome = cg_subprocess(
        ["check", "--config", "examples/compliancegate.yaml", "--no-ledger", "--format", "json"],
        root,
        {"COMPLIANCEGATE_NOW": "2026-11-21T12:00:00Z"},
    )
    assert outcome.code == 1, outcome.output
    assert "Traceback" not in outcome.output
    document = outcome.json()
    assert document["decision"] == "blocked"
    assert any(r["blocking"] for r in document["results"])


def test_bad_report_targets_are_refused_before_the_run_is_recorded(
    gate_project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from compliancegate.cli import run

    root = gate_project.root
    (root / "adir").mkdir()
    code = run(["check", "release", "--report", "json=a.json", "--report", "junit=adir"])
    assert code == 2
    assert "adir: it is a directory" in capsys.readouterr().err
    assert not (root / "a.json").exists()
    assert not (root / ".compliancegate").exists()


def test_output_into_a_fifo_writes_through_it_instead_of_replacing_it(
    gate_project: Any,
) -> None:
    import os
    import stat
    import threading

    from compliancegate.cli import run

    fifo = gate_project.root / "out.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    run(["check", "release", "--no-ledger", "--format", "json", "--output", str(fifo)])
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert '"kind": "CheckReport"' in received[0]


# --------------------------------------------------------------------------- garbage collector


@pytest.mark.parametrize("broken", [False, True])
def test_the_cyclic_collector_is_paused_for_the_run_and_restored(
    gate_project: Any, cg_inprocess: Any, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    # Paused while policies are evaluated (a third of the CPU of a run with a million
    # violations went to rescanning what reference counting frees), and on again after,
    # also when the run ends in exit 2: a test process or an embedding keeps its collector.
    import gc

    import compliancegate.check
    from compliancegate.errors import CompliancegateError

    seen: list[bool] = []
    run_check = compliancegate.check.run_check

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        if broken:
            raise CompliancegateError("broken on purpose")
        return run_check(*args, **kwargs)

    monkeypatch.setattr(compliancegate.check, "run_check", spy)
    assert gc.isenabled()
    outcome = check(cg_inprocess)
    assert seen == [False]
    assert gc.isenabled()
    assert outcome.code == (2 if broken else 0), outcome.output
