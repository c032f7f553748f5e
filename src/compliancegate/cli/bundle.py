"""``compliancegate bundle``: signed evidence bundles for auditors (SPEC section 9)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from compliancegate.errors import UsageError

LEDGER_HELP = (
    "Ledger location: a folder, or git:URL#BRANCH (default: config, then .compliancegate/ledger)."
)


@click.group()
def bundle() -> None:
    """Create, verify and read evidence bundles."""


def _instant(value: str | None, option: str, end_of_day: bool) -> dt.datetime | None:
    """An ISO 8601 date or time; a date alone for ``--until`` is the whole of that day."""
    if value is None:
        return None
    from compliancegate.engine.durations import parse_instant

    instant = parse_instant(value)
    if instant is None or (isinstance(value, str) and not value.strip()):
        raise UsageError(f"{option} {value!r} is not an ISO 8601 date or time (UTC)")
    if end_of_day and len(value.strip()) == 10:
        instant += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return instant


@bundle.command("create")
@click.option("--run", "run_id", metavar="ID", help="The run to bundle (default: the last run).")
@click.option("--since", metavar="DATE", help="Start of the period (ISO 8601, UTC).")
@click.option("--until", metavar="DATE", help="End of the period; a date alone: that whole day.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The bundle file to write (.tar.gz).",
)
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 private key (default: $COMPLIANCEGATE_SIGNING_KEY or "
    "$COMPLIANCEGATE_SIGNING_KEY_FILE).",
)
@click.option(
    "--digests-only",
    is_flag=True,
    help="Name the artifacts by SHA-256 instead of including them.",
)
@click.option("--ledger", "location", help=LEDGER_HELP)
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
def create(
    run_id: str | None,
    since: str | None,
    until: str | None,
    output: Path,
    key: Path | None,
    digests_only: bool,
    location: str | None,
    config: Path | None,
) -> int:
    """Write the signed evidence bundle of one run, or of every run from --since to --until.

    The bundle holds the ledger records of the scope with the chain and signed heads that
    prove them, the runs' inputs and results as evaluated (kept by `check` on this machine),
    the artifacts or their digests, the findings' timelines, OSCAL assessment results and
    POA&M, a manifest and an in-toto statement over every file in a signed DSSE envelope.
    The same ledger and evidence always give the same bytes.
    """
    import os

    from compliancegate.bundle.create import Scope, create_bundle
    from compliancegate.cli.output import check_target
    from compliancegate.ledger.location import configured_location, open_store
    from compliancegate.ledger.placement import checked_state_root, gated_tree
    from compliancegate.signing.keys import key_from_environment, load_private

    if run_id is not None and (since or until):
        raise UsageError("--run and --since/--until contradict each other")
    if run_id == "":
        raise UsageError("--run is empty", hint="name a run id, or leave --run out")
    tree = gated_tree(Path.cwd())
    signing = load_private(key, tree) if key else key_from_environment(os.environ, tree)
    if signing is None:
        raise UsageError(
            "no signing key: a bundle an auditor cannot verify proves nothing",
            hint="pass --key FILE or set COMPLIANCEGATE_SIGNING_KEY_FILE (create one with "
            "`compliancegate keygen`)",
        )
    check_target(output)
    scope = Scope(
        run=run_id,
        since=_instant(since, "--since", end_of_day=False),
        until=_instant(until, "--until", end_of_day=True),
    )
    store = open_store(configured_location(location, config))
    created = create_bundle(
        store,
        scope,
        output,
        signing,
        state_dir=checked_state_root(Path.cwd(), os.environ),
        artifacts=not digests_only,
    )
    runs = len(created.runs)
    click.echo(
        f"ok: {output}: {created.members} files, {runs} run(s), ledger records "
        f"{created.first} to {created.last}, signed by {created.key_id}"
    )
    click.echo(f"  sha256 {created.sha256}  {created.size} bytes")
    if created.artifacts_unavailable:
        click.echo(
            f"note: {created.artifacts_unavailable} artifact(s) of earlier runs changed since "
            "they were judged: the bundle names them by digest only",
            err=True,
        )
    if created.without_evidence:
        click.echo(
            f"note: {len(created.without_evidence)} run(s) ran elsewhere: only their ledger "
            f"records are in the bundle ({', '.join(created.without_evidence[:5])}"
            + (", ...)" if len(created.without_evidence) > 5 else ")"),
            err=True,
        )
    return 0


@bundle.command("verify")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--pubkey",
    "pubkeys",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A trusted public key (PEM or ssh-ed25519). Repeat for several.",
)
@click.option(
    "--extract",
    type=click.Path(path_type=Path, file_okay=False),
    help="Once verified, write the files into this empty folder.",
)
def verify(path: Path, pubkeys: tuple[Path, ...], extract: Path | None) -> int:
    """Verify a bundle offline: the signature, every file's digest, no file added or
    removed, the ledger chain and signed heads, the runs, the OSCAL documents.

    Exit 0 when everything holds; exit 1 with each failure otherwise.
    """
    from compliancegate.bundle.verify import verify_bundle
    from compliancegate.signing.keys import load_public

    trusted = [load_public(p) for p in pubkeys]
    outcome = verify_bundle(path, trusted)
    for line in outcome.checked:
        click.echo(f"ok: {line}")
    if not outcome.ok:
        for problem in outcome.problems:
            click.echo(f"FAILED: {problem}")
        return 1
    if extract is not None:
        from compliancegate.bundle.archive import extract_archive

        extract_archive(path, extract, outcome.members)
        click.echo(f"ok: extracted into {extract}")
    click.echo(f"verified: {path}")
    return 0


@bundle.command("show")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def show(path: Path, fmt: str) -> int:
    """Summarize a bundle: period, runs and decisions, findings opened and closed with their
    time to remediate, breaches, waivers. It does not verify: use `bundle verify`."""
    from compliancegate.bundle.summary import summarize_bundle, summary_text

    summary = summarize_bundle(path)
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(summary_text(summary), nl=False)
    return 0
