"""``compliancegate check``: the gate step. Exit 0 compliant, 1 blocked, 2 could not decide."""

from __future__ import annotations

from pathlib import Path

import click

from compliancegate.cli.output import stdout_is_tty, use_color, write_file
from compliancegate.errors import UsageError
from compliancegate.model import Decision, Severity
from compliancegate.reporters import REPORTERS, get_reporter

EXIT_CODES = {Decision.COMPLIANT: 0, Decision.BLOCKED: 1, Decision.ERROR: 2}


def _report_target(value: str) -> tuple[str, Path]:
    fmt, sep, target = value.partition("=")
    if not sep or not fmt or not target:
        raise UsageError(f"--report {value!r}: expected FORMAT=FILE, e.g. junit=reports/gate.xml")
    get_reporter(fmt)
    return fmt, Path(target)


def _ledger(value: str | None) -> str | None:
    if value is not None and value.startswith("git:") and "#" not in value:
        raise UsageError(
            f"--ledger {value!r}: a git ledger is git:URL#BRANCH, e.g. git:.#compliance-ledger"
        )
    return value


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./compliancegate.yaml when present).",
)
@click.option(
    "--policies",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy file or folder (repeatable; default: config, then ./policies).",
)
@click.option(
    "--register",
    "registers",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Register file or folder (repeatable; default: config, then ./registers).",
)
@click.option("--waivers", type=click.Path(path_type=Path, dir_okay=False), help="Waivers file.")
@click.option("--env", "environment", help="Deployment environment, e.g. production.")
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    help="Lowest severity of a failing block policy that blocks (default: low).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
    help="Format written to stdout (or --output).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the --format output to this file instead of stdout.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT=FILE",
    help="Also write FORMAT to FILE (repeatable).",
)
@click.option("--ledger", help="Ledger location: a folder, or git:URL#BRANCH.")
@click.option("--no-ledger", is_flag=True, help="Do not record this run.")
@click.option("--run-id", help="Identifier of this run (default: a random UUID).")
def check(
    paths: tuple[Path, ...],
    config: Path | None,
    policies: tuple[Path, ...],
    registers: tuple[Path, ...],
    waivers: Path | None,
    environment: str | None,
    fail_on: str | None,
    fmt: str,
    output: Path | None,
    reports: tuple[str, ...],
    ledger: str | None,
    no_ledger: bool,
    run_id: str | None,
) -> int:
    """Evaluate the policies against the artifacts under PATHS (default: the config's paths,
    else the current folder) and decide whether the release may ship."""
    from compliancegate.check import CheckOptions, resolve, run_check

    if ledger and no_ledger:
        raise UsageError("--ledger and --no-ledger contradict each other")
    targets = [_report_target(r) for r in reports]
    options = CheckOptions(
        paths=paths,
        config=config,
        policies=policies,
        registers=registers,
        waivers=waivers,
        environment=environment,
        fail_on=Severity(fail_on) if fail_on else None,
        ledger=_ledger(ledger),
        no_ledger=no_ledger,
        run_id=run_id,
    )
    settings = resolve(options)
    report = run_check(options, settings)
    # Reports named in the config are written too, flags first so they win on a clash.
    seen = {path.resolve() for _, path in targets}
    for name, path in settings.reports:
        if path.resolve() not in seen:
            targets.append((get_reporter(name).name, path))
    # Render everything before writing anything, so a failure leaves no partial set.
    rendered = [(path, get_reporter(name).render(report)) for name, path in targets]
    reporter = get_reporter(fmt)
    color = output is None and use_color(stdout_is_tty())
    main_text = reporter.render(report, color=color)
    for path, text in rendered:
        write_file(path, text)
    if output is not None:
        write_file(output, main_text)
    else:
        click.echo(main_text, nl=not main_text.endswith("\n"), color=color)
    return EXIT_CODES[report.decision]
