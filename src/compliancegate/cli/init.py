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

{libraries}
# Approved, expiring exceptions. Expired waivers stop applying and are reported.
# waivers: waivers.yaml

# Where the release's evidence is (SBOMs, scanner reports, manifests...) when `check` is
# given no paths.
paths: [.]

{exclude}
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

BUILTIN_LIBRARIES = """\
# Policy files or folders (*.yaml with kind: Policy; PolicyTest documents beside them are
# used by `compliancegate policy test`). builtin:starter is the starter library shipped with
# this version of compliancegate: pin compliancegate's version to pin the policies.
# `compliancegate init --copy` copies it into ./policies instead, to edit.
policies: [builtin:starter]

# The register of standards and controls the policies map to (several files merge);
# builtin:starter is the NIST SP 800-53 rev5 subset the starter policies implement.
registers: [builtin:starter]
"""

COPIED_LIBRARIES = """\
# Policy files or folders (*.yaml with kind: Policy; PolicyTest documents beside them are
# used by `compliancegate policy test policies`). These are copies of the starter library
# of compliancegate {version}: edit them, and compare with `builtin:starter` after upgrading.
policies: [policies]

# The register of standards and controls the policies map to. Several files merge.
registers: [registers]
"""

BUILTIN_EXCLUDE = """\
# Folders never searched for artifacts (added to .git, node_modules, .venv and the like).
# exclude: [vendor]
"""

COPIED_EXCLUDE = """\
# Folders never searched for artifacts (added to .git, node_modules, .venv and the like):
# the starter policies' test fixtures are no evidence of this release. Any folder with one
# of these names is skipped, at any depth.
exclude: [policies, registers]
"""


def render(*, copied: bool) -> str:
    """The config ``init`` writes: referencing the built-in starter library, or its copy."""
    from compliancegate import __version__

    libraries = COPIED_LIBRARIES.format(version=__version__) if copied else BUILTIN_LIBRARIES
    exclude = COPIED_EXCLUDE if copied else BUILTIN_EXCLUDE
    return TEMPLATE.replace("{libraries}", libraries).replace("{exclude}", exclude)


@click.command()
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("compliancegate.yaml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--copy",
    is_flag=True,
    help="Copy the starter policies and register into ./policies and ./registers (beside "
    "the config) to edit, instead of referencing the built-in ones.",
)
def init(path: Path, force: bool, copy: bool) -> int:
    """Write a commented compliancegate.yaml to start from, using the starter policies and
    register shipped with compliancegate (built in, or copied with --copy)."""
    from compliancegate.cli.output import write_file
    from compliancegate.loading.builtin import copy_files, copy_plan

    if (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path} already exists", hint="use --force to overwrite it")
    if copy:
        plan = copy_plan("policies", path.parent / "policies")
        plan += copy_plan("registers", path.parent / "registers")
        written = copy_files(plan, overwrite=force)
        click.echo(f"copied {len(written)} starter files into policies/ and registers/")
    write_file(path, render(copied=copy))
    click.echo(f"wrote {path}")
    return 0
