"""``compliancegate ledger``: verify the chain; push records kept pending."""

from __future__ import annotations

from pathlib import Path

import click

from compliancegate.errors import CompliancegateError

LEDGER_HELP = (
    "Ledger location: a folder, or git:URL#BRANCH (default: config, then .compliancegate/ledger)."
)


@click.group()
def ledger() -> None:
    """Work with the ledger of runs and findings."""


@ledger.command("verify")
@click.option("--ledger", "location", help=LEDGER_HELP)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option(
    "--pubkey",
    "pubkeys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A trusted public key (PEM or ssh-ed25519); every head must be signed by one. Repeat.",
)
@click.option(
    "--expect-head",
    "expect",
    metavar="SEQ:HASH",
    help="A head recorded earlier (from ledger verify) that must still be in the ledger.",
)
def verify(
    location: str | None, config: Path | None, pubkeys: tuple[Path, ...], expect: str | None
) -> int:
    """Check every record's format, number and hash link, and the ledger's head; for a git
    ledger, that every commit of the branch only appends; the signed heads.

    Exit 0 when the ledger verifies; exit 1 naming the first bad record (or commit, or
    signed head) when anything was edited, deleted, inserted, reordered or re-signed.
    """
    from compliancegate.errors import UsageError
    from compliancegate.ledger.location import configured_location, open_store
    from compliancegate.ledger.placement import gated_tree
    from compliancegate.ledger.signed import parse_expected
    from compliancegate.signing.keys import load_public

    expected = None
    if expect is not None:
        try:
            expected = parse_expected(expect)
        except ValueError as exc:
            raise UsageError(f"--expect-head: {exc}") from None
    tree = gated_tree(Path.cwd())
    trusted = [load_public(path, tree) for path in pubkeys]
    store = open_store(configured_location(location, config))
    report = store.verify()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    problem = report.problem
    if problem is None:
        problem = store.verify_signed(trusted, expected)
    if problem is not None:
        click.echo(f"FAILED: {store.location}: {problem}")
        click.echo(f"  {report.records} record(s) before it verified")
        return 1
    signed = f"; every head signed by {', '.join(k.key_id for k in trusted)}" if trusted else ""
    click.echo(
        f"ok: {report.records} record(s) verified in {store.location}; head "
        f"{report.records}:{report.head}{signed}"
    )
    return 0


@ledger.command("sync")
@click.option("--ledger", "location", help=LEDGER_HELP)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
def sync(location: str | None, config: Path | None) -> int:
    """Store the records that earlier runs kept pending (a git ledger that was unreachable).

    Exit 2 when some are still pending.
    """
    from compliancegate.check import current_time
    from compliancegate.ledger.interface import LedgerError
    from compliancegate.ledger.location import configured_location, open_store
    from compliancegate.ledger.recording import outcome_notices

    store = open_store(configured_location(location, config))
    snapshot = store.snapshot(current_time()[0])
    if not snapshot.found:
        raise LedgerError(
            f"there is no ledger at {store.location}, and nothing is pending for it",
            hint="check the --ledger value (or the config's ledger:)",
        )
    outcome = store.commit([])
    for notice in outcome_notices(outcome, store.location):
        click.echo(f"note: {notice.code}: {notice.message}", err=True)
    if outcome.pending:
        raise CompliancegateError(
            f"{outcome.pending} operation(s) are still pending", subject=store.location
        )
    click.echo(f"ok: nothing pending for {store.location}")
    return 0
