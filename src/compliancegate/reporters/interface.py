"""The interface every output format implements.

A reporter turns one finished ``CheckReport`` into text. It never prints, opens files or
exits: the CLI decides where the text goes (stdout, ``--output``, ``--report FORMAT=FILE``)
and writes it only after the run completed, so a crash never leaves a half-written report.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from compliancegate.model import CheckReport


@runtime_checkable
class Reporter(Protocol):
    """One output format of ``compliancegate check --format``."""

    name: str
    """The format's name on the command line (``--format NAME``, ``--report NAME=FILE``)."""
    media_type: str
    """The IANA media type of the output, for bundles and uploads."""
    suffix: str
    """The conventional file suffix, with its dot (``.json``), for default file names."""

    def render(self, report: CheckReport, *, color: bool = False) -> str:
        """The whole report as text, ending with a newline.

        ``color`` asks for ANSI colours; formats that are not for terminals ignore it. The
        result is Unicode text that the caller must write as UTF-8.
        """
        ...
