"""``compliancegate check``: the gate step. Exit 0 compliant, 1 blocked, 2 could not decide."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from compliancegate.cli.libraries import POLICIES, REGISTERS
from compliancegate.cli.output import (
    check_targets,
    same_file_key,
    stdout_is_tty,
    use_color,
    write_file,
)
from compliancegate.errors import CompliancegateError, UsageError
from compliancegate.model import CheckReport, Notice, OpenBreakFix, Severity
from compliancegate.reporters import REPORTERS, get_reporter

if TYPE_CHECKING:
    from compliancegate.check import CheckOptions, Resolved


def _report_target(value: str) -> tuple[str, Path]:
    fmt, sep, target = value.partition("=")
    if not sep or not fmt or not target:
        raise UsageError(f"--report {value!r}: expected FORMAT=FILE, e.g. junit=reports/gate.xml")
    get_reporter(fmt)
    return fmt, Path(target)


def _check_and_record(options: CheckOptions, settings: Resolved) -> CheckReport:
    """Run the check and, unless --no-ledger, record it. Trouble writing the ledger becomes
    notices; in a production release the open break-fix findings are read from it, and a ledger
    that cannot be read fails the run closed (``check.run_check`` decides)."""
    from compliancegate.check import current_time, run_check

    if settings.ledger is None:
        return run_check(options, settings)
    from compliancegate.ledger.interface import LedgerError
    from compliancegate.ledger.location import open_store
    from compliancegate.ledger.observe import run_context
    from compliancegate.ledger.recording import LedgerBreakFix, record_run

    notices: tuple[Notice, ...] = ()
    try:
        store = open_store(settings.ledger)
    except LedgerError as exc:
        unreadable = _Unreadable(exc) if settings.release else None
        report = run_check(options, settings, unreadable)
        notice = Notice("ledger-error", f"this run was not recorded: {exc}", exc.file)
        return dataclasses.replace(report, notices=(*report.notices, notice))
    reader = LedgerBreakFix(store, options.now or current_time()[0])
    report = run_check(options, settings, reader if settings.release else None)
    notices += reader.notices
    notices += record_run(store, report, run_context(Path.cwd()), settings.ledger_cap)
    if not notices:
        return report
    return dataclasses.replace(report, notices=(*report.notices, *notices))


def _keep_evidence(report: CheckReport, rendered: dict[str, str]) -> Notice | None:
    """Keep a recorded run's evidence for ``bundle create`` (``bundle.evidence``), reusing
    the reports already rendered; a failure is a notice, never a changed decision."""
    if report.ledger is None:
        return None  # an unrecorded run (--no-ledger) imports nothing of the ledger
    import os

    from compliancegate.bundle.evidence import keep_run
    from compliancegate.ledger.placement import checked_state_root
    from compliancegate.ledger.recording import REWRITTEN

    if any(n.code in (REWRITTEN, "ledger-error") for n in report.notices):
        return None
    try:
        keep_run(report, checked_state_root(Path.cwd(), os.environ), Path.cwd(), rendered)
    except (OSError, CompliancegateError) as exc:
        return Notice("evidence-not-kept", f"this run's evidence was not kept for bundles: {exc}")
    return None


class _Unreadable:
    """``check.BreakFixSource`` for a ledger that could not even be opened."""

    def __init__(self, error: CompliancegateError) -> None:
        self._error = error

    def open_break_fix(self) -> tuple[OpenBreakFix, ...]:
        """Raises the error that kept the ledger from being opened."""
        raise self._error


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
    type=POLICIES,
    help="Policy file or folder, or builtin:starter (repeatable; default: config, then "
    "./policies).",
)
@click.option(
    "--register",
    "registers",
    multiple=True,
    type=REGISTERS,
    help="Register file or folder, or builtin:starter (repeatable; default: config, then "
    "./registers).",
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
@click.option(
    "--git-base",
    metavar="REF",
    help="Ref that git's changed files are computed against (default: the previous tag).",
)
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
    git_base: str | None,
) -> int:
    """Evaluate the policies against the artifacts under PATHS (default: the config's paths,
    else the current folder) and decide whether the release may ship."""
    from compliancegate.check import CheckOptions, clock_override, resolve, wall_clock

    if ledger and no_ledger:
        raise UsageError("--ledger and --no-ledger contradict each other")
    targets = [_report_target(r) for r in reports]
    override = clock_override()
    options = CheckOptions(
        paths=paths,
        config=config,
        policies=policies,
        registers=registers,
        waivers=waivers,
        environment=environment,
        fail_on=Severity(fail_on) if fail_on else None,
        ledger=ledger,
        no_ledger=no_ledger,
        run_id=run_id,
        git_base=git_base,
        # One instant for the run and the ledger's reading of it.
        now=override.now if override else wall_clock(),
        clock_override=override,
    )
    settings = resolve(options)
    # Reports named in the config are written too; a --report for the same file replaces
    # the config's entry (flags override the config).
    flagged = {same_file_key(path) for _, path in targets}
    labels = [f"--report {name}={path}" for name, path in targets]
    for name, path in settings.reports:
        if same_file_key(path) not in flagged:
            get_reporter(name)
            targets.append((name, path))
            labels.append(f"the config's report {name}={path}")
    # Every target is checked before the run is evaluated or recorded: a bad report path, or
    # two reports to one file, is a usage error, not a recorded run followed by exit 2.
    checked = [(label, path) for label, (_, path) in zip(labels, targets, strict=True)]
    if output is not None:
        checked.append((f"--output {output}", output))
    check_targets(checked, to_stdout=output is None)
    # The run's own reports are never its evidence (a rerun in a kept workspace).
    written = tuple(path for _, path in targets) + ((output,) if output else ())
    # The cyclic collector paused for the whole run, not only while artifacts are parsed: a
    # run allocates millions of objects that live until it ends (the documents, a violation
    # per failing item, the reports), hold no cycles, and that the collector would rescan
    # again and again: a third of the CPU of a run with a million violations.
    from compliancegate.artifacts.source import collector_paused

    with collector_paused():
        return _run(options, settings, written, targets, fmt, output)


def _run(
    options: CheckOptions,
    settings: Resolved,
    written: tuple[Path, ...],
    targets: list[tuple[str, Path]],
    fmt: str,
    output: Path | None,
) -> int:
    """Evaluate, record, render and write the reports; the exit code."""
    report = _check_and_record(dataclasses.replace(options, outputs=written), settings)
    color = output is None and use_color(stdout_is_tty())
    # Render everything before writing anything, so a failure leaves no partial set; each
    # format is rendered once (the run's kept evidence reuses them).
    plain: dict[str, str] = {}

    def render(name: str) -> str:
        if name not in plain:
            plain[name] = get_reporter(name).render(report)
        return plain[name]

    def render_all() -> tuple[str, list[tuple[Path, str]]]:
        main = get_reporter(fmt).render(report, color=True) if color else render(fmt)
        return main, [(path, render(name)) for name, path in targets]

    main_text, rendered = render_all()
    problem = _keep_evidence(report, plain)
    if problem is not None:
        # Rare: the reports must say the evidence was not kept, so they are rendered again.
        report = dataclasses.replace(report, notices=(*report.notices, problem))
        plain = {}
        main_text, rendered = render_all()
    for path, text in rendered:
        write_file(path, text)
    if output is not None:
        write_file(output, main_text)
    else:
        click.echo(main_text, nl=not main_text.endswith("\n"), color=color)
    for notice in report.notices:
        if notice.code == "ledger-rewritten":
            # The reports are written; the run could not be recorded on a rewritten ledger.
            raise CompliancegateError(notice.message, hint="see docs/ledger.md, Signed heads")
    return report.decision.exit_code
