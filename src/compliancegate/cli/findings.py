"""``compliancegate findings``: list, show and act on the findings the ledger derives."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from compliancegate.cli.libraries import REGISTERS
from compliancegate.errors import UsageError
from compliancegate.model import Severity

if TYPE_CHECKING:
    from compliancegate.ledger.interface import LedgerStore, Snapshot
    from compliancegate.ledger.operations import Operation
    from compliancegate.ledger.state import Finding
    from compliancegate.model import Register

F = TypeVar("F", bound=Callable[..., Any])

MANUAL_CLAUSES = ("audit-finding", "security-incident")
MAX_PLAN_BYTES = 1 << 20
"""A plan is kept in the ledger itself; a larger file belongs in the evidence store."""

_ACTOR_VARIABLES = ("COMPLIANCEGATE_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER", "USERNAME")


def _ledger_options(func: F) -> F:
    func = click.option(
        "--config", type=click.Path(path_type=Path, dir_okay=False), help="Config file."
    )(func)
    func = click.option(
        "--ledger",
        "location",
        help="Ledger location: a folder, or git:URL#BRANCH (default: config, then "
        ".compliancegate/ledger). Other URL schemes are refused.",
    )(func)
    return func


def _by_option(func: F) -> F:
    return click.option(
        "--by", help="Who is acting (default: $COMPLIANCEGATE_ACTOR, $GITHUB_ACTOR, $USER)."
    )(func)


def _actor(by: str | None) -> str:
    if by:
        return by
    return next((os.environ[v] for v in _ACTOR_VARIABLES if os.environ.get(v)), "unknown")


def _now() -> dt.datetime:
    from compliancegate.check import NOW_VARIABLE, current_time

    now, overridden = current_time()
    if overridden:
        click.echo(
            f"note: {NOW_VARIABLE} replaces the clock: acting as of {now.isoformat()}", err=True
        )
    return now


def _override() -> dict[str, str] | None:
    """How the records of a findings operation say that ``COMPLIANCEGATE_NOW`` replaced the
    clock (None: it did not)."""
    from compliancegate.check import clock_override
    from compliancegate.ledger.operations import clock_override_json

    found = clock_override()
    return None if found is None else clock_override_json(found)


def _store(location: str | None, config: Path | None) -> LedgerStore:
    from compliancegate.ledger.location import configured_location, open_store

    return open_store(configured_location(location, config))


def _snapshot(store: LedgerStore, now: dt.datetime) -> Snapshot:
    from compliancegate.ledger.interface import LedgerError

    snapshot = store.snapshot(now)
    for refused in snapshot.refused:
        click.echo(f"note: ledger-refused: not included, not this runner's: {refused}", err=True)
    if not snapshot.found:
        why = f" ({snapshot.offline}) and there is no local copy" if snapshot.offline else ""
        raise LedgerError(
            f"there is no ledger at {store.location}{why}",
            hint="check the --ledger value (or the config's ledger:); a check records runs "
            "there unless --no-ledger",
        )
    if snapshot.offline:
        click.echo(
            f"note: {store.location} could not be reached ({snapshot.offline}); "
            "showing the local copy",
            err=True,
        )
    if snapshot.pending:
        click.echo(
            f"note: {snapshot.pending} operation(s) are pending (not yet in the shared "
            "ledger); they are included",
            err=True,
        )
    return snapshot


def _commit(store: LedgerStore, operation: Operation) -> None:
    from compliancegate.ledger.recording import outcome_notices

    outcome = store.commit([operation])
    for notice in outcome_notices(outcome, store.location):
        click.echo(f"note: {notice.code}: {notice.message}", err=True)
    if outcome.dropped:
        raise UsageError(outcome.dropped[-1])


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since {value!r} is not a date (YYYY-MM-DD)") from None


@click.group()
def findings() -> None:
    """List, show and act on findings: each is one life of a violation (or a finding opened
    by hand), with its clock and timeline."""


@findings.command("list")
@_ledger_options
@click.option("--open", "open_only", is_flag=True, help="Only findings not resolved.")
@click.option("--breached", is_flag=True, help="Only findings that missed a deadline.")
@click.option("--clause", help="Only findings under this clause, e.g. security-incident.")
@click.option("--control", help="Only findings that break this control (STANDARD:CONTROL).")
@click.option("--since", help="Only findings opened on or after this date (YYYY-MM-DD).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "poam"]),
    default="table",
    show_default=True,
    help="poam: the findings not resolved (that pass the filters) as an OSCAL plan of action "
    "and milestones (docs/oscal.md).",
)
def list_findings(
    location: str | None,
    config: Path | None,
    open_only: bool,
    breached: bool,
    clause: str | None,
    control: str | None,
    since: str | None,
    fmt: str,
) -> int:
    """List findings, most recently opened first."""
    from compliancegate.ledger.views import (
        FindingFilter,
        findings_document,
        findings_table,
        select,
    )

    wanted = FindingFilter(open_only, breached, clause, control, _date(since))
    store = _store(location, config)
    snapshot = _snapshot(store, _now())
    chosen = select(snapshot.state.findings.values(), wanted)
    if fmt == "poam":
        from compliancegate.oscal.poam import poam
        from compliancegate.reporters.json_report import dumps

        live = [f for f in chosen if f.live]
        click.echo(dumps(poam(snapshot.state, live, location=store.location)), nl=False)
    elif fmt == "json":
        document = findings_document(snapshot.state, chosen, store.location)
        # ASCII only: titles come from untrusted artifacts and must not drive a terminal.
        click.echo(json.dumps(document, indent=2, ensure_ascii=True))
    else:
        click.echo(findings_table(chosen), nl=False)
    return 0


def _find(
    location: str | None, config: Path | None, finding_id: str
) -> tuple[LedgerStore, Finding]:
    store = _store(location, config)
    snapshot = _snapshot(store, _now())
    return store, snapshot.state.lookup(finding_id)


@findings.command("show")
@click.argument("finding_id", metavar="ID")
@_ledger_options
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def show(finding_id: str, location: str | None, config: Path | None, fmt: str) -> int:
    """Show one finding (ID or a unique prefix of it) with its clocks and full timeline."""
    from compliancegate.ledger.views import finding_detail, finding_json

    _, found = _find(location, config, finding_id)
    if fmt == "json":
        click.echo(json.dumps(finding_json(found), indent=2, ensure_ascii=True))
    else:
        click.echo(finding_detail(found), nl=False)
    return 0


def _register(registers: tuple[Path, ...], config: Path | None) -> Register | None:
    from compliancegate.loading.config import find_config
    from compliancegate.loading.register import load_register

    paths = registers or find_config(config).registers
    if not paths and Path("registers").is_dir():
        paths = (Path("registers"),)
    return load_register(paths) if paths else None


@findings.command("open")
@click.option(
    "--clause",
    required=True,
    type=click.Choice(MANUAL_CLAUSES),
    help="The clause whose clock applies.",
)
@click.option("--control", required=True, help="The control it concerns (STANDARD:CONTROL).")
@click.option("--title", required=True, help="What was found.")
@click.option(
    "--severity",
    type=click.Choice([s.value for s in Severity]),
    help="Severity (default: the control's, from the register).",
)
@click.option(
    "--register",
    "registers",
    multiple=True,
    type=REGISTERS,
    help="Register file or folder (default: config, then ./registers).",
)
@_by_option
@_ledger_options
def open_finding(
    clause: str,
    control: str,
    title: str,
    severity: str | None,
    registers: tuple[Path, ...],
    by: str | None,
    location: str | None,
    config: Path | None,
) -> int:
    """Open a finding by hand: an external audit's finding or a security incident."""
    from compliancegate.ledger.clocks import clause_clock
    from compliancegate.ledger.operations import OpenOp, new_op_id
    from compliancegate.ledger.records import format_time
    from compliancegate.ledger.state import finding_id
    from compliancegate.loading.register import DEFAULT_SLA

    if ":" not in control:
        raise UsageError(
            f"--control {control!r}: expected STANDARD:CONTROL, e.g. nist-800-53-r5:CA-2"
        )
    if not title.strip():
        raise UsageError("--title must say what was found")
    register = _register(registers, config)
    known = register.control(control) if register is not None else None
    if register is not None and known is None:
        raise UsageError(
            f"--control {control!r} is not in the register",
            hint="add the control to the register, or fix its name",
        )
    if severity is None and known is None:
        raise UsageError("--severity is required when no register gives the control's severity")
    level = Severity(severity) if severity else known.severity if known else Severity.LOW
    standards = {s.id: s for s in register.standards} if register is not None else {}
    standard = standards.get(known.standard) if known is not None else None
    successor = standards.get(standard.superseded_by or "") if standard is not None else None
    now = _now()
    sla = register.sla if register is not None else DEFAULT_SLA
    clock = clause_clock(clause, level, now, sla, standard, successor)
    fingerprint = f"manual:{uuid.uuid4().hex}"
    store = _store(location, config)
    operation = OpenOp(
        new_op_id(),
        now,
        _actor(by),
        fingerprint,
        title.strip(),
        (control,),
        level,
        clock,
        clock_override=_override(),
    )
    _commit(store, operation)
    new_id = finding_id(fingerprint, 1)
    due = format_time(clock.due) if clock.due else "none"
    plan = f", plan due {format_time(clock.plan_due)}" if clock.plan_due else ""
    click.echo(f"opened finding {new_id} ({clause}, {level}; due {due}{plan})")
    return 0


def _act(
    action: str,
    finding_id: str,
    location: str | None,
    config: Path | None,
    by: str | None,
    text: str | None = None,
    file: str | None = None,
    sha256: str | None = None,
) -> str:
    from compliancegate.ledger.operations import Action, FindingOp, new_op_id
    from compliancegate.ledger.state import FindingStatus

    store, found = _find(location, config, finding_id)
    kind = Action(action)
    if kind is not Action.NOTE and found.status is FindingStatus.RESOLVED:
        raise UsageError(f"finding {found.id} is already resolved")
    if kind is Action.RESOLVE and not found.manual:
        raise UsageError(
            f"finding {found.id} was found by policy {found.policy}",
            hint="a run in which the policy passes resolves it",
        )
    operation = FindingOp(
        new_op_id(),
        _now(),
        _actor(by),
        kind,
        found.id,
        text,
        file,
        sha256,
        clock_override=_override(),
    )
    _commit(store, operation)
    return found.id


@findings.command("ack")
@click.argument("finding_id", metavar="ID")
@click.option("--text", help="A comment recorded with the acknowledgement.")
@_by_option
@_ledger_options
def ack(
    finding_id: str, text: str | None, by: str | None, location: str | None, config: Path | None
) -> int:
    """Acknowledge a finding: its owner has seen it."""
    done = _act("ack", finding_id, location, config, by, text)
    click.echo(f"acknowledged finding {done}")
    return 0


@findings.command("note")
@click.argument("finding_id", metavar="ID")
@click.option("--text", required=True, help="The note.")
@_by_option
@_ledger_options
def note(
    finding_id: str, text: str, by: str | None, location: str | None, config: Path | None
) -> int:
    """Add a note to a finding's timeline."""
    done = _act("note", finding_id, location, config, by, text)
    click.echo(f"noted on finding {done}")
    return 0


@findings.command("plan")
@click.argument("finding_id", metavar="ID")
@click.option(
    "--file",
    "plan_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The remediation plan (text, at most 1 MiB); recorded in the ledger with its SHA-256.",
)
@_by_option
@_ledger_options
def plan(
    finding_id: str, plan_file: Path, by: str | None, location: str | None, config: Path | None
) -> int:
    """Record a finding's remediation plan (audit findings have a plan due date)."""
    try:
        data = plan_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the plan: {exc.strerror}", file=str(plan_file)) from None
    if len(data) > MAX_PLAN_BYTES:
        raise UsageError("the plan is larger than 1 MiB", file=str(plan_file))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the plan is not UTF-8 text", file=str(plan_file)) from None
    digest = hashlib.sha256(data).hexdigest()
    done = _act("plan", finding_id, location, config, by, text, plan_file.as_posix(), digest)
    click.echo(f"recorded the plan for finding {done} (sha256 {digest})")
    return 0


@findings.command("resolve")
@click.argument("finding_id", metavar="ID")
@click.option("--text", required=True, help="How it was resolved.")
@_by_option
@_ledger_options
def resolve(
    finding_id: str, text: str, by: str | None, location: str | None, config: Path | None
) -> int:
    """Resolve a finding opened by hand (a policy's findings resolve when it passes)."""
    done = _act("resolve", finding_id, location, config, by, text)
    click.echo(f"resolved finding {done}")
    return 0
