"""Output formats of ``compliancegate check``: one module per format, one registry.

Adding a format is one module with a class satisfying ``Reporter`` and one entry in
``FORMATS``; the CLI takes its ``--format`` choices from ``REPORTERS``, and a test renders a
sample report with every entry so none is forgotten. A format's module is imported the first
time the format is asked for: a run writes one or two formats, and importing all seven cost
a small ``check`` a fifth of its start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from compliancegate.errors import UsageError
from compliancegate.reporters.interface import Reporter

__all__ = ["FORMATS", "REPORTERS", "Reporter", "get_reporter"]

FORMATS: dict[str, tuple[str, str]] = {
    "text": ("compliancegate.reporters.text", "TextReporter"),
    "json": ("compliancegate.reporters.json_report", "JsonReporter"),
    "junit": ("compliancegate.reporters.junit", "JUnitReporter"),
    "markdown": ("compliancegate.reporters.markdown", "MarkdownReporter"),
    "sarif": ("compliancegate.reporters.sarif", "SarifReporter"),
    "github": ("compliancegate.reporters.github", "GitHubReporter"),
    "oscal": ("compliancegate.reporters.oscal", "OscalReporter"),
}
"""Every output format by name: the module and class that render it."""


class _Registry(Mapping[str, Reporter]):
    """``FORMATS`` as reporters, each made once, when first looked up."""

    def __init__(self) -> None:
        self._made: dict[str, Reporter] = {}

    def __getitem__(self, name: str) -> Reporter:
        reporter = self._made.get(name)
        if reporter is None:
            module, cls = FORMATS[name]
            reporter = self._made[name] = getattr(importlib.import_module(module), cls)()
        return reporter

    def __iter__(self) -> Iterator[str]:
        return iter(FORMATS)

    def __len__(self) -> int:
        return len(FORMATS)


REPORTERS: Mapping[str, Reporter] = _Registry()
"""Every output format by name; the single source of ``--format`` choices."""


def get_reporter(name: str) -> Reporter:
    """The reporter called ``name``; ``UsageError`` naming the known formats otherwise."""
    try:
        return REPORTERS[name]
    except KeyError:
        known = ", ".join(sorted(REPORTERS))
        raise UsageError(f"unknown report format {name!r}; known formats: {known}") from None
