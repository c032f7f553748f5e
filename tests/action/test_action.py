"""``action.yml``: its metadata, and its run steps executed with bash as the runner runs them."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import schema_store
import yaml
from action_fixtures import (
    BLOCKED_SCAN,
    NOW,
    PASSING_SCAN,
    REPO,
    ActionEnv,
    dedent,
    git,
    write_tiny_project,
)
from gha_runner import ActionRun, Command, evaluate, parse_command, read_output_file

ACTION = REPO / "action.yml"
SUMMARY_LIMIT = 1024 * 1024
"""GitHub's limit on one step's summary (1 MiB)."""


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def by_level(run: ActionRun, level: str) -> list[Command]:
    return [c for c in run.annotations if c.name == level]


def json_report(run: ActionRun) -> dict[str, Any]:
    path = run.outputs["report-json"]
    assert path, "the action must write the JSON report"
    loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return loaded


def assert_valid_sarif(path: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    assert schema_store.errors("sarif-schema-2.1.0.json", document) == []
    return document


# --------------------------------------------------------------------------- metadata


def test_action_yml_validates_against_the_github_action_schema() -> None:
    assert schema_store.errors("github-action.json", action()) == []


def test_schema_validation_can_fail() -> None:
    """The validator is not vacuous: a composite step without ``shell`` is rejected."""
    broken = action()
    del broken["runs"]["steps"][0]["shell"]
    assert schema_store.errors("github-action.json", broken)


def test_run_scripts_contain_no_expressions() -> None:
    """Inputs reach the shell through ``env:`` only; an expression in a script is pasted into
    its text before bash reads it (script injection)."""
    for step in action()["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]


def test_every_input_is_passed_to_a_step() -> None:
    metadata = action()
    used = " ".join(
        str(value)
        for step in metadata["runs"]["steps"]
        for value in (step.get("env") or {}).values()
    )
    for name in metadata["inputs"]:
        assert f"${{{{ inputs.{name} }}}}" in used, f"input {name} is never used"


def test_every_output_is_a_step_output_the_check_step_writes() -> None:
    metadata = action()
    check = next(s for s in metadata["runs"]["steps"] if s.get("id") == "check")
    assert set(metadata["outputs"]) >= {"decision", "violations", "report-sarif", "report-junit"}
    for name, spec in metadata["outputs"].items():
        assert spec["value"] == f"${{{{ steps.check.outputs.{name} }}}}"
        assert f"set_output {name} " in check["run"], f"output {name} is never written"


# --------------------------------------------------------------------------- the test runner


def test_runner_port_unescapes_like_actions_runner() -> None:
    """The decoder the other tests rely on, against hand-escaped lines."""
    command = parse_command("::error file=a%2Cb%3Ac.json,line=3,title=T%25::x%0Ay%25z::w")
    assert command is not None
    assert command.properties == {"file": "a,b:c.json", "line": "3", "title": "T%"}
    assert command.data == "x\ny%z::w"
    assert parse_command("  ::warning::indented") is not None
    assert parse_command("echo ::error::not at the start") is None
    assert parse_command("::unknown-command::x") is None


def test_output_file_reader_reads_heredocs(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a=1\nb<<EOF\nline 1\nline 2\nEOF\nc=x=y\n", encoding="utf-8")
    assert read_output_file(path) == {"a": "1", "b": "line 1\nline 2", "c": "x=y"}


def test_expressions_outside_context_lookups_are_refused() -> None:
    with pytest.raises(NotImplementedError):
        evaluate("${{ inputs.a || 'x' }}", {"inputs": {"a": ""}})
    assert (
        evaluate(
            "${{ inputs.a }}-${{ steps.s.outputs.b }}",
            {
                "inputs": {"a": "1"},
                "steps": {"s": {"outputs": {"b": "2"}}},
            },
        )
        == "1-2"
    )


# --------------------------------------------------------------------------- install


def test_install_creates_the_actions_own_environment_from_its_path(action_env: ActionEnv) -> None:
    """The session's first run did a real ``pip install`` of the action's checkout."""
    install = action_env.first_run.step("install")
    assert install.exit_code == 0, install.stderr
    assert "already installed" not in install.stdout
    venv = action_env.runner_temp / "compliancegate" / "venv"
    assert install.outputs["bin"] == str(venv / "bin" / "compliancegate")
    assert (venv / ".installed-from").read_text(encoding="utf-8") == str(action_env.checkout)
    # Installed from the action's path as a regular (not editable) package.
    records = list(
        venv.glob("lib/python*/site-packages/compliancegate-*.dist-info/direct_url.json")
    )
    assert len(records) == 1
    origin = json.loads(records[0].read_text(encoding="utf-8"))
    assert origin["url"] == action_env.checkout.as_uri()
    assert not origin.get("dir_info", {}).get("editable", False)
    assert re.search(r"^compliancegate \d+\.\d+\.\d+", install.stdout, re.MULTILINE)
    # The check step ran that installation, not one from the test's own environment.
    check = action_env.first_run.step("check")
    assert check.env["CG_BIN"] == str(venv / "bin" / "compliancegate")


def test_install_is_reused_within_the_same_job(action_env: ActionEnv, workspace: Path) -> None:
    write_tiny_project(workspace, PASSING_SCAN)
    run = action_env.runner(workspace).run({"ledger": "none"})
    install = run.step("install")
    assert install.exit_code == 0
    assert "already installed" in install.stdout
    assert run.step("check").exit_code == 0


def test_install_refuses_an_old_python(
    action_env: ActionEnv, workspace: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "python2"
    fake.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    runner = action_env.runner(workspace)
    runner.runner_temp = tmp_path / "other-job"  # a job without the environment yet
    runner.runner_temp.mkdir()
    run = runner.run({"python": str(fake)})
    assert run.failed
    assert run.step("install").exit_code == 2
    [error] = by_level(run, "error")
    assert "3.11" in error.data


# --------------------------------------------------------------------------- outcomes


def test_compliant_release_passes_with_warnings_and_notices(
    action_env: ActionEnv, workspace: Path
) -> None:
    write_tiny_project(workspace, PASSING_SCAN)
    runner = action_env.runner(workspace)
    runner.base_env.pop("COMPLIANCEGATE_NOW")  # production refuses a replaced clock
    # A production release reads the ledger (break-fix findings): a fresh folder here.
    run = runner.run({"ledger": ".compliancegate/ledger", "environment": "production"})
    assert not run.failed
    assert run.step("check").exit_code == 0
    report = json_report(run)
    assert run.outputs["decision"] == "compliant" == report["decision"]
    assert run.outputs["exit-code"] == "0"
    # Open violations of the warn and audit policies still count; none is waived.
    assert run.outputs["violations"] == "2"
    assert run.outputs["waived-violations"] == "0"
    assert by_level(run, "error") == []
    [warning] = by_level(run, "warning")
    assert warning.properties["title"].startswith("scan-names-tool:")
    assert warning.properties["file"] == "release/scan.json"
    # The audit policy's violation, and the fresh ledger of this first release (ledger-new).
    audited, new_ledger = by_level(run, "notice")
    assert audited.properties["title"].startswith("scan-audited:")
    assert "audit: recorded only" in audited.data
    assert "found no ledger at .compliancegate/ledger" in new_ledger.data
    assert run.summary.startswith("## ✅ compliancegate: compliant")
    sarif = assert_valid_sarif(run.outputs["report-sarif"])
    assert sarif["runs"][0]["automationDetails"]["id"] == "compliancegate/production/4242-1"
    ET.parse(run.outputs["report-junit"])


def test_blocked_release_fails_the_step_after_writing_outputs(
    action_env: ActionEnv, workspace: Path
) -> None:
    write_tiny_project(workspace, BLOCKED_SCAN)
    run = action_env.runner(workspace).run({"ledger": "none"})
    assert run.failed
    assert run.exit_code == 1
    assert run.outputs["decision"] == "blocked"
    assert run.outputs["violations"] == "1"
    report = json_report(run)
    violation = report["results"][0]["violations"][0]
    [error] = by_level(run, "error")
    assert error.properties == {
        "file": "release/scan.json",
        "line": str(violation["location"]["line"]),
        "title": "no-critical-vulns: No critical vulnerability ships",
    }
    assert error.data.splitlines()[0] == "CVE-2026-0001 (critical) in openssl"
    assert "Fix: Upgrade openssl" in error.data
    assert run.summary.startswith("## ⛔ compliancegate: release blocked")
    assert "CVE-2026-0001" in run.summary
    sarif = assert_valid_sarif(run.outputs["report-sarif"])
    [result] = sarif["runs"][0]["results"]
    assert result["level"] == "error"
    assert result["partialFingerprints"]["compliancegateFingerprint/v1"] == violation["fingerprint"]
    junit = ET.parse(run.outputs["report-junit"]).getroot()
    assert junit.get("failures") == "1"


def test_example_release_is_blocked_with_annotations_within_the_limits(
    action_env: ActionEnv, examples_checkout: Path
) -> None:
    """The repository's own example release (``examples/``), gated as a workflow would."""
    examples_workspace = examples_checkout
    run = action_env.runner(examples_workspace).run(
        {"config": "examples/compliancegate.yaml", "ledger": "none"}
    )
    assert run.exit_code == 1
    report = json_report(run)
    assert run.outputs["decision"] == "blocked" == report["decision"]
    counts = report["summary"]
    assert run.outputs["violations"] == str(counts["violations"] - counts["waived_violations"])
    assert run.outputs["waived-violations"] == str(counts["waived_violations"])

    annotations = run.annotations
    levels = [a.name for a in annotations]
    for level in ("error", "warning", "notice"):
        assert levels.count(level) <= 10, level
    # Most severe first: every error before every warning before every notice.
    order = {"error": 0, "warning": 1, "notice": 2}
    assert [order[n] for n in levels] == sorted(order[n] for n in levels)
    blocking = {r["policy"]["id"] for r in report["results"] if r["blocking"]}
    errors = by_level(run, "error")
    assert errors
    expected_errors = sum(
        len([v for v in r["violations"] if not v["waiver"]]) + (r["status"] == "error")
        for r in report["results"]
        if r["blocking"]
    )
    assert len(errors) == min(10, expected_errors)
    for error in errors:
        assert error.properties["title"].split(":")[0] in blocking
        # Every annotated file exists in the repository, so GitHub can place it.
        assert (examples_workspace / error.properties["file"]).is_file(), error.properties
        assert int(error.properties.get("line", "1")) >= 1
    # Waived violations are notices, unless the notice slots ran out (the last slot then
    # says how many annotations were left out).
    notices = by_level(run, "notice")
    truncated = any("not shown" in n.data for n in notices)
    for result in report["results"]:
        for violation in result["violations"]:
            if violation["waiver"] and not truncated:
                waiver_id = violation["waiver"]["id"]
                assert any(f"waived by {waiver_id}" in n.data for n in notices), waiver_id

    summary_bytes = run.summary.encode("utf-8")
    assert run.summary.startswith("## ⛔ compliancegate: release blocked")
    assert len(summary_bytes) <= SUMMARY_LIMIT
    assert_valid_sarif(run.outputs["report-sarif"])


def test_ledger_on_a_branch_of_the_repository(
    action_env: ActionEnv, examples_checkout: Path
) -> None:
    """The README's set-up: ``ledger: git:.#compliance-ledger`` pushes the run to a branch
    of the repository's origin."""
    run = action_env.runner(examples_checkout).run(
        {"config": "examples/compliancegate.yaml", "ledger": "git:.#compliance-ledger"}
    )
    assert run.exit_code == 1
    report = json_report(run)
    assert report["run"]["ledger"] == "git:.#compliance-ledger"
    assert not [n for n in report["notices"] if n["code"].startswith("ledger")], report["notices"]
    origin = examples_checkout.parent / "origin.git"
    records = git(origin, "show", "compliance-ledger:records.jsonl")
    assert "4242-1" in records


def test_blocking_policy_that_cannot_be_evaluated_fails_closed(
    action_env: ActionEnv, examples_workspace: Path
) -> None:
    """A truncated scanner report leaves the vulnerability policies unevaluated: exit 2,
    with every report still written."""
    trivy = examples_workspace / "examples/release/artifacts/trivy.json"
    trivy.write_text(trivy.read_text()[:200])
    run = action_env.runner(examples_workspace).run(
        {"config": "examples/compliancegate.yaml", "ledger": "none"}
    )
    assert run.exit_code == 2
    report = json_report(run)
    assert run.outputs["decision"] == "error" == report["decision"]
    errored = [r for r in report["results"] if r["status"] == "error"]
    assert errored
    assert run.summary.startswith("## ⚠️ compliancegate: error, evaluation incomplete")
    sarif = assert_valid_sarif(run.outputs["report-sarif"])
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 2
    notes = invocation["toolExecutionNotifications"]
    assert {n["associatedRule"]["id"] for n in notes} == {r["policy"]["id"] for r in errored}
    unevaluated = [a for a in run.annotations if "could not be evaluated" in a.data]
    assert unevaluated


def test_gate_that_cannot_decide_fails_with_exit_2_and_says_why(
    action_env: ActionEnv, workspace: Path
) -> None:
    write_tiny_project(workspace, PASSING_SCAN)
    run = action_env.runner(workspace).run({"policies": "no-such-policies", "ledger": "none"})
    assert run.exit_code == 2
    assert run.outputs["decision"] == "error"
    assert run.outputs["exit-code"] == "2"
    assert run.outputs["violations"] == ""
    assert run.outputs["report-sarif"] == ""
    assert run.outputs["report-json"] == ""
    assert run.summary.startswith("## ⚠️ compliancegate could not run (exit code 2)")
    assert "no-such-policies" in run.summary
    assert "no-such-policies" in run.step("check").stdout


def test_error_text_is_printed_inert(action_env: ActionEnv, workspace: Path) -> None:
    """The CLI's error names the bad file; a name forged as a workflow command stays text."""
    write_tiny_project(workspace, PASSING_SCAN)
    forged = "missing.yaml\n::error title=forged::forged annotation"
    run = action_env.runner(workspace).run({"config": forged, "ledger": "none"})
    assert run.exit_code == 2
    stdout = run.step("check").stdout
    assert "::error title=forged::forged annotation" in stdout
    assert all(c.properties.get("title") != "forged" for c in run.annotations)
    assert re.search(r"<pre>[^<]*forged annotation[^<]*</pre>", run.summary)


def test_hostile_text_survives_escaping(action_env: ActionEnv, workspace: Path) -> None:
    """Newlines, percent signs, colons and commas, in the message and in the file name, come
    out of the runner's unescaping exactly as they went in."""
    write_tiny_project(workspace, PASSING_SCAN)
    (workspace / "policies" / "hostile.yaml").write_text(
        dedent(
            """\
            apiVersion: compliancegate/v1
            kind: Policy
            id: names-are-plain
            title: "Names are plain: no %, no commas"
            controls: [tiny-std:CFG-1]
            severity: high
            enforcement: block
            input: {glob: "**/*,odd:name.json"}
            rule:
              for_each: "items[]"
              assert: {path: name, op: matches, value: "^[a-z]+$"}
            key: name
            message: "item {item.name} is not plain"
            """
        ),
        encoding="utf-8",
    )
    name = "line one\nline two\r\n100% done: a,b ::error::fake %0A %25 , : ##[error]x"
    odd = workspace / "release" / "data,odd:name.json"
    odd.write_text(json.dumps({"items": [{"name": name}]}), encoding="utf-8")
    run = action_env.runner(workspace).run({"ledger": "none"})
    assert run.exit_code == 1
    [error] = by_level(run, "error")
    assert error.properties["file"] == "release/data,odd:name.json"
    assert error.properties["title"] == "names-are-plain: Names are plain: no %, no commas"
    expected = "item " + name.replace("\r\n", "\n").replace("##[", "\uff03[") + " is not plain"
    assert error.data.startswith(expected + "\n")
    # No forged command came out of the message.
    assert [c.name for c in run.annotations].count("error") == 1


def test_inputs_are_data_never_code(action_env: ActionEnv, workspace: Path) -> None:
    write_tiny_project(workspace, PASSING_SCAN)
    environment = 'prod"; touch "$GITHUB_WORKSPACE/pwned-env"; echo "'
    run_id = "$(touch${IFS}pwned-run-id)`touch${IFS}pwned-backtick`"
    run = action_env.runner(workspace).run(
        {"environment": environment, "extra-args": f"--run-id {run_id}", "ledger": "none"}
    )
    assert list(workspace.glob("pwned*")) == []
    # Not a declared environment: refused, with the name quoted as data.
    assert run.exit_code == 2, run.step("check").stdout
    assert repr(environment) in run.step("check").stdout + run.step("check").stderr
    run = action_env.runner(workspace).run({"extra-args": f"--run-id {run_id}", "ledger": "none"})
    assert list(workspace.glob("pwned*")) == []
    assert run.exit_code == 0, run.step("check").stdout
    assert json_report(run)["run"]["id"] == run_id


def test_paths_one_per_line_and_report_file_inputs(action_env: ActionEnv, workspace: Path) -> None:
    write_tiny_project(workspace, BLOCKED_SCAN)
    (workspace / "release" / "scan.json").rename(workspace / "release dir.json")
    (workspace / "release").rmdir()
    (workspace / "other").mkdir()
    (workspace / "other" / "scan.json").write_text(json.dumps(PASSING_SCAN), encoding="utf-8")
    run = action_env.runner(workspace).run(
        {
            "paths": "  other  \n\nrelease dir.json\n",
            "sarif-file": "reports/gate.sarif",
            "junit-file": "reports/gate.xml",
            "ledger": "none",
        }
    )
    report = json_report(run)
    assert report["run"]["paths"] == ["other", "release dir.json"]
    assert run.outputs["report-sarif"] == "reports/gate.sarif"
    assert run.outputs["report-junit"] == "reports/gate.xml"
    assert_valid_sarif(str(workspace / "reports" / "gate.sarif"))
    assert (workspace / "reports" / "gate.xml").is_file()


def test_annotations_can_be_turned_off(action_env: ActionEnv, workspace: Path) -> None:
    write_tiny_project(workspace, BLOCKED_SCAN)
    run = action_env.runner(workspace).run({"annotations": "false", "ledger": "none"})
    assert run.exit_code == 1
    assert run.annotations == []
    assert "BLOCKED: blocked by 1 policy" in run.step("check").stdout
    assert run.outputs["decision"] == "blocked"


def test_run_id_defaults_to_the_workflow_run(action_env: ActionEnv, workspace: Path) -> None:
    write_tiny_project(workspace, PASSING_SCAN)
    run = action_env.runner(workspace).run({"ledger": "none"})
    assert json_report(run)["run"]["id"] == "4242-1"
    assert json_report(run)["run"]["started_at"] == NOW


# --------------------------------------------------------------------------- evidence bundles


def test_bundle_input_writes_a_bundle_that_verifies(
    action_env: ActionEnv, workspace: Path, tmp_path: Path
) -> None:
    """``bundle: true`` with the signing key in the job's environment (from a secret): the
    ``bundle`` output names this run's signed bundle, which verifies with the public key."""
    from compliancegate.bundle.verify import verify_bundle
    from compliancegate.signing.keys import generate, load_public

    write_tiny_project(workspace, BLOCKED_SCAN)
    keys = tmp_path / "keys"
    keys.mkdir()
    generate(keys / "signing.key")
    runner = action_env.runner(workspace)
    runner.base_env["COMPLIANCEGATE_SIGNING_KEY"] = (keys / "signing.key").read_text()
    run = runner.run({"ledger": str(tmp_path / "ledger"), "bundle": "true"})
    assert run.step("check").exit_code == 1  # blocked, and the bundle still made
    path = run.outputs["bundle"]
    assert path and Path(path).is_file(), run.step("check").stdout
    outcome = verify_bundle(Path(path), [load_public(keys / "signing.key.pub")])
    assert outcome.ok, outcome.problems
    assert outcome.manifest is not None
    assert outcome.manifest["scope"] == {"run": "4242-1"}


def test_a_bundle_that_cannot_be_made_fails_the_step(
    action_env: ActionEnv, workspace: Path, tmp_path: Path
) -> None:
    """No signing key: the release was compliant, but the evidence asked for is missing, so
    the step fails closed with exit 2 and says why; the bundle output is empty."""
    write_tiny_project(workspace, PASSING_SCAN)
    run = action_env.runner(workspace).run({"ledger": str(tmp_path / "ledger"), "bundle": "true"})
    assert run.step("check").exit_code == 2
    assert run.outputs["bundle"] == ""
    assert run.outputs["decision"] == "compliant"
    assert "no signing key" in run.step("check").stdout
    assert any("evidence bundle could not be made" in c.data for c in by_level(run, "error"))
