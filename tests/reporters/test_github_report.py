"""GitHub workflow annotations: escaping the runner reverses exactly, levels, order, limits.

Output is decoded with ``tests/action/gha_runner.py``, a line-by-line port of the runner's
``ActionCommand.TryParseV2`` and its unescaping, so these tests read annotations the way
GitHub's runner does rather than the way the reporter writes them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_factory import (
    HOSTILE,
    make_policy,
    make_report,
    make_result,
    make_violation,
    make_waiver,
    mixed_report,
)

from compliancegate.model import CheckReport, Enforcement, Location, Notice, Severity, Status
from compliancegate.reporters._common import one_line, replace_surrogates
from compliancegate.reporters.github import (
    MESSAGE_CHARS,
    TITLE_CHARS,
    GitHubReporter,
    clean_message,
    escape_data,
    escape_property,
)
from compliancegate.reporters.sarif import violation_file


def _load_runner_port() -> ModuleType:
    if "gha_runner" in sys.modules:
        return sys.modules["gha_runner"]
    path = Path(__file__).resolve().parents[1] / "action" / "gha_runner.py"
    spec = importlib.util.spec_from_file_location("gha_runner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gha_runner"] = module
    spec.loader.exec_module(module)
    return module


RUNNER = _load_runner_port()


def commands(output: str) -> list[Any]:
    """The annotations the runner would create from ``output``."""
    found: list[Any] = RUNNER.read_commands(output)
    return [c for c in found if c.name in ("error", "warning", "notice")]


def render(report: CheckReport, **options: Any) -> list[Any]:
    return commands(GitHubReporter(**options).render(report))


# --------------------------------------------------------------------------- escaping


def test_escaping_matches_the_runners_mappings() -> None:
    assert escape_data("50% a:b,c\r\nd") == "50%25 a:b,c%0D%0Ad"
    assert escape_property("50% a:b,c\r\nd") == "50%25 a%3Ab%2Cc%0D%0Ad"
    # "%" first: an escape sequence in the text is not mistaken for one on the way back.
    assert escape_data("%0A") == "%250A"
    assert RUNNER.unescape("%250A", RUNNER.DATA_MAPPINGS) == "%0A"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaping_round_trips_through_the_runner(text: str) -> None:
    assert RUNNER.unescape(escape_data(text), RUNNER.DATA_MAPPINGS) == text
    assert RUNNER.unescape(escape_property(text), RUNNER.PROPERTY_MAPPINGS) == text


def test_newlines_percent_colons_and_commas_survive() -> None:
    """The issue's acceptance case, end to end through the reporter and the runner port."""
    policy = make_policy("p", title="Title: with, punctuation 100%")
    message = "first line\nsecond: 100%, done\r\nthird %0A %25 ::error::x,y"
    violation = make_violation(
        policy, message=message, remediation=None, file="dir,x/a:b%c.json", line=7
    )
    report = make_report([make_result(policy, Status.FAIL, [violation], blocking=True)])
    [error] = render(report)
    assert error.name == "error"
    assert error.properties == {
        "file": "dir,x/a:b%c.json",
        "line": "7",
        "title": "p: Title: with, punctuation 100%",
    }
    lines = error.data.split("\n")
    assert lines[:4] == ["first line", "second: 100%, done", "third %0A %25 ::error::x,y", lines[3]]
    assert lines[3].startswith("Controls: ")


def test_every_line_is_one_command_or_the_plain_summary() -> None:
    output = GitHubReporter().render(mixed_report(HOSTILE))
    lines = output.splitlines()
    for line in lines[:-1]:
        assert RUNNER.parse_command(line) is not None, line
    assert RUNNER.parse_command(lines[-1]) is None
    assert lines[-1].startswith("compliancegate: release blocked")
    assert "\x1b" not in output
    assert "##[" not in output


def test_hostile_text_is_cleaned_but_kept() -> None:
    [first, *_] = render(mixed_report(HOSTILE))
    expected = clean_message(HOSTILE)
    assert first.data.startswith(expected + "\n")
    # Cleaning: one kind of line break, no control characters, no legacy command marker.
    assert "\r" not in expected and "\x1b" not in expected and "\x00" not in expected
    assert "line1\nline2\n::error::fake \uff03[error]fake" in expected
    assert "\ufffd" in expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=st.text(max_size=80), file=st.text(min_size=1, max_size=40), title=st.text())
def test_any_text_decodes_to_its_cleaned_form(message: str, file: str, title: str) -> None:
    policy = make_policy("p", title=title)
    violation = make_violation(policy, message=message, remediation=None, file=file)
    report = make_report([make_result(policy, Status.FAIL, [violation], blocking=True)])
    output = GitHubReporter().render(report)
    [error] = commands(output)
    assert error.data.split("\nControls: ")[0] == clean_message(message)
    if violation_file(violation) is None:  # a folder such as "/" or "x/": on the policy
        assert error.properties["file"] == "policies/vulnerabilities.yaml"
    elif one_line(file):
        assert error.properties["file"] == one_line(file).replace("\\", "/")
    assert error.properties["title"] == one_line(f"p: {replace_surrogates(title)}")[
        :TITLE_CHARS
    ] or (error.properties["title"].endswith("…"))
    assert len(output.splitlines()) == 2


# --------------------------------------------------------------------------- levels


def test_levels_and_locations(report: CheckReport) -> None:
    found = render(report)
    by_title: dict[str, list[Any]] = {}
    for command in found:
        by_title.setdefault(command.properties["title"].split(":")[0], []).append(command)
    vulns = by_title["no-critical-vulnerabilities"]
    # Blocking violations are errors; the waived one is a notice naming its waiver.
    assert [c.name for c in vulns] == ["error", "error", "notice"]
    assert vulns[0].properties["file"] == "reports/trivy.json"
    assert vulns[0].properties["line"] == "42"
    assert "line" not in vulns[1].properties  # no line known
    assert "waived by W-7 until 2026-12-31" in vulns[2].data
    [warned] = by_title["sbom-licenses"]
    assert warned.name == "warning"
    assert "warn: does not block" in warned.data
    # Missing evidence (no file): annotated on the policy that requires it.
    assert warned.properties["file"] == "policies/sbom.yaml"
    assert warned.properties["line"] == "3"
    assert "missing evidence" in warned.data
    [errored] = by_title["tests-pass"]
    assert errored.name == "warning"  # a warn policy that errored does not block
    assert errored.data.startswith("The policy could not be evaluated: cannot read junit.xml")
    [waived] = by_title["signed-commits"]
    assert waived.name == "notice"
    notices = [c for c in found if c.properties["title"].startswith("compliancegate:")]
    assert [n.properties["title"] for n in notices] == [
        "compliancegate: expired-waiver",
        "compliancegate: coverage-gap",
    ]
    assert notices[0].properties["file"] == "waivers.yaml"


def test_audit_and_below_threshold_do_not_raise_errors() -> None:
    audit = make_policy("audited", enforcement=Enforcement.AUDIT)
    below = make_policy("below", severity=Severity.LOW)
    report = make_report(
        [
            make_result(audit, Status.FAIL, [make_violation(audit)]),
            make_result(below, Status.FAIL, [make_violation(below)]),
        ],
        fail_on=Severity.HIGH,
    )
    levels = {c.properties["title"].split(":")[0]: c.name for c in render(report)}
    assert levels == {"below": "warning", "audited": "notice"}


def test_most_severe_first() -> None:
    low = make_policy("low-block", severity=Severity.LOW)
    critical = make_policy("critical-block")
    warn = make_policy("warned", enforcement=Enforcement.WARN, severity=Severity.CRITICAL)
    waived = make_policy("waived", severity=Severity.CRITICAL)
    report = make_report(
        [
            make_result(
                waived,
                Status.WAIVED,
                [make_violation(waived, waiver=make_waiver(waived))],
            ),
            make_result(warn, Status.FAIL, [make_violation(warn)]),
            make_result(low, Status.FAIL, [make_violation(low)], blocking=True),
            make_result(critical, Status.FAIL, [make_violation(critical)], blocking=True),
        ],
        notices=[Notice("expired-waiver", "gone")],
    )
    order = [(c.name, c.properties["title"].split(":")[0]) for c in render(report)]
    assert order == [
        ("error", "critical-block"),
        ("error", "low-block"),
        ("warning", "warned"),
        ("notice", "waived"),
        ("notice", "compliancegate"),
    ]


# --------------------------------------------------------------------------- limits


def _flood(errors: int, warnings: int, notices: int) -> CheckReport:
    block = make_policy("block")
    warn = make_policy("warn", enforcement=Enforcement.WARN)
    audit = make_policy("audit", enforcement=Enforcement.AUDIT)
    return make_report(
        [
            make_result(
                block, Status.FAIL, [make_violation(block, i) for i in range(errors)], blocking=True
            ),
            make_result(warn, Status.FAIL, [make_violation(warn, i) for i in range(warnings)]),
            make_result(audit, Status.FAIL, [make_violation(audit, i) for i in range(notices)]),
        ],
        notices=[],
    )


def test_at_most_ten_per_level_and_a_note_on_the_rest() -> None:
    output = GitHubReporter().render(_flood(25, 3, 12))
    found = commands(output)
    levels = [c.name for c in found]
    assert levels.count("error") == 10
    assert levels.count("warning") == 3
    assert levels.count("notice") == 10  # nine audit notices and the note
    note = found[-1]
    assert note.properties["title"] == "compliancegate: more violations than annotations"
    # 15 errors and 3 audit notices left out.
    assert note.data.startswith("18 more annotations not shown")
    assert output.splitlines()[-1].endswith(
        "annotations: 10 error, 3 warning, 10 notice; 18 not shown"
    )
    # The first ten errors are the first ten violations, in report order.
    assert [c.data.split(" ")[0] for c in found[:10]] == [f"CVE-2026-{i:04d}" for i in range(10)]


def test_no_note_when_everything_fits() -> None:
    found = render(_flood(10, 10, 10))
    assert [c.name for c in found].count("notice") == 10
    assert all("not shown" not in c.data for c in found)


def test_limit_is_configurable() -> None:
    found = render(_flood(5, 0, 0), limit=2)
    assert [c.name for c in found] == ["error", "error", "notice"]
    assert found[-1].data.startswith("3 more annotations not shown")


def test_long_titles_and_messages_are_cut() -> None:
    policy = make_policy("p", title="t" * 1000)
    violation = make_violation(policy, message="m" * 10_000, remediation=None)
    [error] = render(make_report([make_result(policy, Status.FAIL, [violation], blocking=True)]))
    assert len(error.properties["title"]) == TITLE_CHARS
    assert len(error.data) == MESSAGE_CHARS
    assert error.data.endswith("…")


def test_empty_report_prints_only_the_summary_line() -> None:
    output = GitHubReporter().render(make_report([]))
    assert output == (
        "compliancegate: compliant (run run-2026-10-02-0001);"
        " annotations: 0 error, 0 warning, 0 notice\n"
    )


def test_summary_line_cannot_become_a_command() -> None:
    output = GitHubReporter().render(make_report([], run_id="x\n::error::forged ##[error]y"))
    assert commands(output) == []
    assert "##[" not in output


def test_repository_violation_is_annotated_on_the_policy() -> None:
    policy = make_policy("signed", line=8)
    violation = dataclasses.replace(
        make_violation(policy), kind="git", location=Location(".", None)
    )
    [error] = render(make_report([make_result(policy, Status.FAIL, [violation], blocking=True)]))
    assert error.properties["file"] == "policies/vulnerabilities.yaml"
    assert error.properties["line"] == "8"
    assert error.data.endswith(
        "(annotated on the policy: the violation concerns a repository or folder, not a file)"
    )


def _clean_message_by_character(text: str) -> str:
    """The first implementation of ``clean_message``, character by character."""
    import unicodedata

    from compliancegate.reporters._common import BIDI_CONTROLS, replace_surrogates

    text = replace_surrogates(text).replace("\r\n", "\n")
    out: list[str] = []
    for ch in text:
        if ch in "\r\x0b\x0c\x85\u2028\u2029":
            out.append("\n")
        elif ch == "\n" or ch == "\t":
            out.append(ch)
        elif ch in BIDI_CONTROLS or ch in "\ufffe\uffff" or unicodedata.category(ch) == "Cc":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out).replace("##[", "\uff03[")


_AWKWARD = st.sampled_from(
    [
        *"\r\n\t\x0b\x0c\x85\u2028\u2029\x00\x1b\x7f\x9b\x9f\ufffe\uffff\u202e\u2066#[a ",
        "\r\n",
        "##[",
        "\ud800",
    ]
)


@given(st.lists(st.text(max_size=3) | _AWKWARD, max_size=12).map("".join))
def test_clean_message_is_the_character_by_character_cleaning(text: str) -> None:
    from compliancegate.reporters.github import clean_message

    assert clean_message(text) == _clean_message_by_character(text)


def test_every_control_character_is_cleaned_as_before() -> None:
    from compliancegate.reporters.github import clean_message

    every = "".join(chr(c) for c in range(0x250)) + "".join(chr(c) for c in range(0x2000, 0x2070))
    assert clean_message(every) == _clean_message_by_character(every)
