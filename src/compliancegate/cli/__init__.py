"""The command line: a click group whose subcommands are imported only when used.

Only this package prints or exits. Every command returns its exit code; ``run`` maps
compliancegate's errors to exit 2 with the file, place and fix, and never shows a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

import click

from compliancegate import __version__
from compliancegate.errors import CompliancegateError

_COMMANDS = {
    "check": (
        "compliancegate.cli.check",
        "check",
        "Evaluate policies against a release's artifacts; exit 1 blocks it.",
    ),
    "parse": ("compliancegate.cli.parse", "parse", "Print the document a policy sees for FILE."),
    "policy": ("compliancegate.cli.policy", "policy", "Validate policies and run their tests."),
    "register": ("compliancegate.cli.register", "register", "Validate a register of standards."),
    "init": ("compliancegate.cli.init", "init", "Write a commented compliancegate.yaml."),
    "findings": (
        "compliancegate.cli.findings",
        "findings",
        "List, show and act on findings and their remediation clocks.",
    ),
    "ledger": ("compliancegate.cli.ledger", "ledger", "Verify the ledger's hash chain."),
    "bundle": (
        "compliancegate.cli.bundle",
        "bundle",
        "Create, verify and summarize signed evidence bundles for auditors.",
    ),
    "keygen": (
        "compliancegate.cli.keygen",
        "keygen",
        "Create an Ed25519 key that signs the ledger's heads.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Standalone click ignores a command's return value, so ``cli()`` (or click's
        ``CliRunner``) would exit 0 on a blocked release: route it through ``run``."""
        if standalone_mode:
            sys.exit(run(list(sys.argv[1:] if args is None else args)))
        return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help lists the commands without importing them.
        rows = [(name, _COMMANDS[name][2]) for name in sorted(_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compliancegate", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """compliancegate: a compliance-as-code gate for CI/CD pipelines.

    Exit codes: 0 compliant / done, 1 non-compliant (check: the release is blocked; policy
    test: a test failed; ledger verify: the chain is broken), 2 the tool could not do its
    job (bad flag or input).
    """
    ctx.obj = {"debug": debug}


def _printable_streams() -> None:
    """A file name with bytes that are not UTF-8 reaches Python as lone surrogates; printed to
    a strict UTF-8 stream it would crash the command. Printed escaped (``\udcff``) instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):  # a stream that cannot be reconfigured
                reconfigure(errors="backslashreplace")


def run(args: list[str]) -> int:
    """Run ``cli`` on ``args`` and turn every outcome into an exit code."""
    _printable_streams()
    debug = "--debug" in args
    try:
        result: Any = cli.main(args, prog_name="compliancegate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 2
    except click.exceptions.ClickException as exc:
        exc.show()
        return 2
    except CompliancegateError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 2
    except Exception as exc:
        if debug:
            # The traceback, but still exit 2: an uncaught exception would exit 1, which
            # means "release blocked" to the pipeline.
            import traceback

            click.echo(traceback.format_exc(), err=True, nl=False)
            return 2
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in compliancegate; rerun with --debug for the traceback and report it",
            err=True,
        )
        return 2
    if isinstance(result, int):
        return result
    return 0
