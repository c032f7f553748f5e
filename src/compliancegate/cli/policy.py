"""``compliancegate policy``: validate policies and run their tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from compliancegate.cli.libraries import POLICIES, REGISTERS

if TYPE_CHECKING:
    from compliancegate.model import Register


def report_hidden(policies: tuple[Path, ...], register: Register | None) -> None:
    """A note on stderr for every hidden YAML file that was not read."""
    from compliancegate.loading.files import hidden_message

    for path in policies:
        click.echo(f"note: {hidden_message(path, 'policy')}", err=True)
    for name in register.hidden if register else ():
        click.echo(f"note: {hidden_message(Path(name), 'register')}", err=True)


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
    report_hidden(loaded.hidden, register)
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
    from compliancegate.check import NOW_VARIABLE, current_time
    from compliancegate.policytest import run_policy_tests

    if current_time()[1]:
        click.echo(f"note: {NOW_VARIABLE} replaces the clock of cases without now:", err=True)
    outcome = run_policy_tests(paths)
    report_hidden(outcome.hidden, None)
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
