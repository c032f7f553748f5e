"""``compliancegate register``: validate registers and show what policies cover."""

from __future__ import annotations

from pathlib import Path

import click

from compliancegate.cli.libraries import POLICIES, REGISTERS


@click.group()
def register() -> None:
    """Work with registers of standards."""


@register.command("validate")
@click.argument("paths", nargs=-1, required=True, type=REGISTERS)
@click.option(
    "--policies",
    multiple=True,
    type=POLICIES,
    help="Also check these policies' controls and report coverage gaps.",
)
def validate(paths: tuple[Path, ...], policies: tuple[Path, ...]) -> int:
    """Validate register files (merged): schema, duplicate ids, dates."""
    from compliancegate.cli.policy import report_hidden
    from compliancegate.engine.decision import coverage
    from compliancegate.loading.policies import load_policies
    from compliancegate.loading.register import load_register

    loaded = load_register(paths)
    report_hidden((), loaded)
    controls = sum(len(s.controls) for s in loaded.standards)
    click.echo(
        f"ok: {len(loaded.files)} register file(s), {len(loaded.standards)} standard(s), "
        f"{controls} control(s)"
    )
    if policies:
        policy_set = load_policies(policies, loaded)
        report_hidden(policy_set.hidden, None)
        cov = coverage(loaded, policy_set.policies)
        click.echo(
            f"coverage: {cov.implemented}/{cov.controls} controls implemented by "
            f"{len(policy_set.policies)} policies"
        )
        for gap in cov.gaps:
            control = loaded.control(gap)
            click.echo(f"  gap: {gap} {control.title if control else ''}".rstrip())
    return 0
