"""Output formats of ``compliancegate check``: one module per format, one registry.

Adding a format is one module with a class satisfying ``Reporter`` and one entry in
``REPORTERS``; the CLI takes its ``--format`` choices from this dict, and a test renders a
sample report with every entry so none is forgotten. Format modules import their heavy
dependencies (``junit_xml``, ``xml.etree``) only when rendering.
"""

from __future__ import annotations

from compliancegate.errors import UsageError
from compliancegate.reporters.github import GitHubReporter
from compliancegate.reporters.interface import Reporter
from compliancegate.reporters.json_report import JsonReporter
from compliancegate.reporters.junit import JUnitReporter
from compliancegate.reporters.markdown import MarkdownReporter
from compliancegate.reporters.oscal import OscalReporter
from compliancegate.reporters.sarif import SarifReporter
from compliancegate.reporters.text import TextReporter

__all__ = ["REPORTERS", "Reporter", "get_reporter"]

REPORTERS: dict[str, Reporter] = {
    reporter.name: reporter
    for reporter in (
        TextReporter(),
        JsonReporter(),
        JUnitReporter(),
        MarkdownReporter(),
        SarifReporter(),
        GitHubReporter(),
        OscalReporter(),
    )
}
"""Every output format by name; the single source of ``--format`` choices."""


def get_reporter(name: str) -> Reporter:
    """The reporter called ``name``; ``UsageError`` naming the known formats otherwise."""
    try:
        return REPORTERS[name]
    except KeyError:
        known = ", ".join(sorted(REPORTERS))
        raise UsageError(f"unknown report format {name!r}; known formats: {known}") from None
