"""``compliancegate policy``: validate policies and run their tests."""

from __future__ import annotations

from pathlib import Path

import click

from compliancegate.cli.libraries import POLICIES, REGISTERS


@click.group()
def policy() -> None:
    """Work with policies."""


@policy.command("validate")
@click.argument("paths", nargs=-1, required=True, type=POLICIES)
@click.option(
    "--register",
    "registers",
    multiple=True,
    type=REGISTERS,
    help="Check every policy's controls against this register.",
)
def validate(paths: tuple[Path, ...], registers: tuple[Path, ...]) -> int:
    """Validate policy files: schema, ids, controls, paths, regexes, durations, templates."""
    from compliancegate.loading.policies import load_policies
    from compliancegate.loading.register import load_register

    register = load_register(registers) if registers else None
    loaded = load_policies(paths, register)
    click.echo(
        f"ok: {len(loaded.policies)} policies valid"
        + ("" if register else " (controls not checked: no --register)")
    )
    return 0


@policy.command("test")
@click.argument("paths", nargs=-1, required=True, type=POLICIES)
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test(paths: tuple[Path, ...], verbose: bool) -> int:
    """Run the PolicyTest cases found beside the policies; exit 1 if any fails."""
    from compliancegate.policytest import run_policy_tests

    outcome = run_policy_tests(paths)
    for case in outcome.cases:
        if case.passed and not verbose:
            continue
        mark = "PASS" if case.passed else "FAIL"
        click.echo(f"{mark} {case.policy} :: {case.name}  ({case.file})")
        for line in case.problems:
            click.echo(f"     {line}")
    for policy_id in outcome.untested:
        click.echo(f"note: policy {policy_id} has no test cases")
    passed = sum(1 for c in outcome.cases if c.passed)
    failed = len(outcome.cases) - passed
    click.echo(f"policy tests: {passed} passed, {failed} failed")
    return 1 if failed else 0
