"""The registry: every format is reachable, renders, and unknown names are usage errors."""

from __future__ import annotations

import pytest
from report_factory import HOSTILE, make_report, mixed_report

from compliancegate.errors import UsageError
from compliancegate.model import CheckReport
from compliancegate.reporters import REPORTERS, Reporter, get_reporter


def test_registry_has_the_spec_formats() -> None:
    assert {"text", "json", "junit", "markdown"} <= set(REPORTERS)


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_renders_the_sample(name: str, report: CheckReport) -> None:
    """Loops over the registry so that a newly added format cannot be forgotten here."""
    reporter = REPORTERS[name]
    assert isinstance(reporter, Reporter)
    assert reporter.name == name
    assert reporter.suffix.startswith(".")
    assert "/" in reporter.media_type
    for color in (False, True):
        out = reporter.render(report, color=color)
        assert isinstance(out, str)
        assert out.endswith("\n")
        assert "no-critical-vulnerabilities" in out
        out.encode("utf-8")  # the CLI writes UTF-8; this must not raise


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_every_reporter_survives_hostile_and_empty_reports(name: str) -> None:
    reporter = REPORTERS[name]
    for sample in (mixed_report(HOSTILE), make_report([])):
        out = reporter.render(sample)
        out.encode("utf-8")
        assert "\x1b" not in out
        assert "##[" not in out


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_get_reporter_returns_the_registered_instance(name: str) -> None:
    assert get_reporter(name) is REPORTERS[name]


def test_unknown_format_is_a_usage_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        get_reporter("yaml")
    message = str(caught.value)
    assert "'yaml'" in message
    for name in REPORTERS:
        assert name in message


def test_a_format_is_imported_only_when_asked_for() -> None:
    # A run writes one or two formats; importing all of them cost a small check a fifth of
    # its start-up. A fresh interpreter, so no other test's imports count.
    import subprocess
    import sys

    code = (
        "import sys; from compliancegate.reporters import REPORTERS, get_reporter; "
        "names = sorted(REPORTERS); get_reporter('json'); "
        "print(sorted(m for m in sys.modules if m.startswith('compliancegate.reporters.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = done.stdout.strip()
    assert "compliancegate.reporters.json_report" in loaded
    for other in ("sarif", "github", "junit", "oscal", "markdown", "text"):
        assert f"compliancegate.reporters.{other}'" not in loaded, loaded
