"""Environments are declared: ``--env`` must name one (exact), one of them is production,
policies may not be restricted to names that do not exist, and a run that evaluated nothing
that could block is not compliant (SPEC section 12)."""

from __future__ import annotations

from typing import Any

import pytest

CONFIG = """\
apiVersion: compliancegate/v1
kind: Config
environments:
  production: {production: true}
  staging: {fail_on: high}
"""


def check(cg: Any, *args: str) -> Any:
    return cg("check", "release", "--no-ledger", *args)


@pytest.mark.parametrize(
    "env",
    [
        "Production",
        "PRODUCTION",
        "prod",
        "production ",
        " production",
        "staging",
        "prd",
        "\u0440roduction",
    ],
)
def test_an_undeclared_env_without_a_config_is_exit_2_naming_production(
    gate_project: Any, cg_inprocess: Any, env: str
) -> None:
    outcome = check(cg_inprocess, "--env", env)
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert repr(env) in outcome.stderr and "declared without a config: production" in outcome.stderr
    if env.strip().casefold() == "production" and env.strip() == env:
        assert "did you mean --env production" in outcome.stderr


@pytest.mark.parametrize("env", ["Staging", "stage", "prod", "Production"])
def test_an_undeclared_env_with_a_config_lists_the_declared_ones(
    gate_project: Any, cg: Any, env: str
) -> None:
    gate_project.write("compliancegate.yaml", CONFIG)
    outcome = check(cg, "--env", env)
    assert outcome.code == 2, outcome.output
    assert "compliancegate.yaml: production, staging" in outcome.stderr


@pytest.mark.parametrize(
    ("environments", "line", "fragment"),
    [
        (
            "  a: {production: true}\n  b: {production: true}\n",
            5,
            "a, b are all marked production: true",
        ),
        ("  staging: {}\n  qa: {}\n", 3, "no environment is marked production: true"),
        ("  Prod uction: {}\n", 3, "Prod uction"),
        ("  {}\n", 3, "environments"),
    ],
)
def test_a_config_without_exactly_one_production_is_exit_2_with_the_line(
    gate_project: Any, cg_inprocess: Any, environments: str, line: int, fragment: str
) -> None:
    text = "apiVersion: compliancegate/v1\nkind: Config\nenvironments:\n" + environments
    if environments.strip() == "{}":
        text = "apiVersion: compliancegate/v1\nkind: Config\nenvironments: {}\n"
    gate_project.write("compliancegate.yaml", text)
    outcome = check(cg_inprocess)
    assert outcome.code == 2, outcome.output
    assert f"compliancegate.yaml:{line}" in outcome.stderr, outcome.stderr
    assert fragment in outcome.stderr


def test_a_policy_restricted_to_undeclared_environments_only_is_exit_2(
    gate_project: Any, cg: Any, gate_snippets: Any
) -> None:
    """A misspelled restriction would switch the policy off everywhere."""
    text = gate_project.root.joinpath("policies/gate.yaml").read_text(encoding="utf-8")
    gate_project.write("policies/gate.yaml", text.replace("[production]", "[prodution]"))
    outcome = check(cg)
    assert outcome.code == 2, outcome.output
    assert "policies/gate.yaml" in outcome.stderr and "prod-scan-signed" in outcome.stderr
    assert "prodution" in outcome.stderr and "could never apply" in outcome.stderr


def test_a_policy_also_naming_an_undeclared_environment_gets_a_notice(
    gate_project: Any, cg_inprocess: Any
) -> None:
    text = gate_project.root.joinpath("policies/gate.yaml").read_text(encoding="utf-8")
    gate_project.write("policies/gate.yaml", text.replace("[production]", "[production, stagin]"))
    outcome = check(cg_inprocess, "--format", "json")
    assert outcome.code == 0, outcome.output
    (notice,) = [n for n in outcome.json()["notices"] if n["code"] == "undeclared-environment"]
    assert "stagin" in notice["message"] and notice["file"] == "policies/gate.yaml"


ONLY_PRODUCTION_AND_WARN = """\
apiVersion: compliancegate/v1
kind: Policy
id: prod-scan-signed
title: Production scans are signed
controls: [tiny-std:VULN-1]
severity: high
enforcement: block
environments: [production]
input: {glob: "**/scan.json"}
rule: {path: signed, op: equals, value: true}
---
apiVersion: compliancegate/v1
kind: Policy
id: scan-names-tool
title: The scan names its tool
controls: [tiny-std:VULN-1]
severity: critical
enforcement: warn
input: {glob: "**/scan.json"}
rule: {path: tool, op: exists}
"""


@pytest.mark.parametrize(
    "args",
    [
        ("--env", "staging"),  # the only block policy is not applicable
        ("--env", "staging", "--fail-on", "critical"),
        ("--fail-on", "critical"),  # the block policy is below the line
    ],
)
def test_a_run_that_evaluated_nothing_that_could_block_is_exit_2(
    gate_project: Any, cg: Any, args: tuple[str, ...]
) -> None:
    gate_project.write("compliancegate.yaml", CONFIG.replace("{fail_on: high}", "{}"))
    gate_project.write("policies/gate.yaml", ONLY_PRODUCTION_AND_WARN)
    outcome = check(cg, *args, "--format", "json")
    assert outcome.code == 2, outcome.output
    document = outcome.json()
    assert document["decision"] == "error"
    assert "nothing-evaluated" in [n["code"] for n in document["notices"]]
    text = check(cg, *args)
    assert text.code == 2 and "nothing-evaluated" in text.stdout


def test_init_declares_production_and_its_commented_settings_load(
    gate_project: Any, cg_inprocess: Any
) -> None:
    from compliancegate.cli.init import render
    from compliancegate.loading.config import load_config

    assert cg_inprocess("init").code == 0
    config = load_config(gate_project.root / "compliancegate.yaml")
    assert config.declared == ("production", "staging") and config.production == "production"
    assert config.break_fix_enforced and config.environment is None
    uncommented = (
        render(copied=False)
        .replace("# break_fix:", "break_fix:")
        .replace("# environment: staging", "environment: staging")
    )
    gate_project.write("other.yaml", uncommented)
    other = load_config(gate_project.root / "other.yaml")
    assert not other.break_fix_enforced and other.environment == "staging"


def test_an_empty_env_is_refused_not_read_as_no_env(gate_project: Any, cg_inprocess: Any) -> None:
    """``--env "$DEPLOY_ENV"`` with the variable unset must not become a run without --env."""
    outcome = check(cg_inprocess, "--env", "")
    assert outcome.code == 2, outcome.output
    assert "--env is empty" in outcome.stderr and "production" in outcome.stderr
