"""``compliancegate init``: write a commented ``compliancegate.yaml``."""

from __future__ import annotations

from pathlib import Path

import click

from compliancegate.errors import UsageError

TEMPLATE = """\
# compliancegate configuration: read by `compliancegate check` from the repository root.
# Paths are relative to this file; command-line flags override every setting.
apiVersion: compliancegate/v1
kind: Config

# Policy files or folders (*.yaml with kind: Policy; PolicyTest documents beside them are
# used by `compliancegate policy test`).
policies: [policies]

# The register of standards and controls the policies map to. Several files merge.
registers: [registers]

# Approved, expiring exceptions. Expired waivers stop applying and are reported.
# waivers: waivers.yaml

# Where the release's evidence is (SBOMs, scanner reports, manifests...) when `check` is
# given no paths.
paths: [.]

# Folders never searched for artifacts (added to .git, node_modules, .venv and the like).
# exclude: [vendor]

# Files whose format cannot be told from their name or content.
# artifacts:
#   - {glob: "reports/*.out", format: json}

# What git policies' changed_files compare against (default: the previous tag); the
# --git-base flag overrides it.
# git: {base: origin/main}

# Lowest severity of a failing `block` policy that blocks the release:
# critical | high | moderate | low (any failure).
fail_on: low

# Where every run is recorded: a folder, or git:URL#BRANCH for a shared ledger.
# ledger: .compliancegate/ledger

# Reports written on every run, FORMAT: FILE (formats: text, json, junit, markdown...).
# reports:
#   junit: reports/compliancegate.xml
#   json: reports/compliancegate.json

# The environments `check --env NAME` accepts (exact names; any other is an error), each
# with its own settings. The one marked production: true is where releases go: a run with
# --env production applies the break-fix rule. Without --env (and without environment:
# below) a run is evaluated with production's policies and settings but is not a release.
environments:
  production:
    production: true
    fail_on: low
  staging:
    fail_on: high
# environment: staging          # the environment of a run without --env

# A production release reads the ledger's open break-fix findings and fails (exit 2) when it
# cannot. Turning that off is said in every report:
# break_fix: {enforce: false}
"""


@click.command()
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("compliancegate.yaml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> int:
    """Write a commented compliancegate.yaml to start from."""
    from compliancegate.cli.output import write_file

    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="use --force to overwrite it")
    write_file(path, TEMPLATE)
    click.echo(f"wrote {path}")
    return 0
