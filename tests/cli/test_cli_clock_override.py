"""``COMPLIANCEGATE_NOW``: a replaced clock is said in every report format and every ledger
record of the run, and refused in production before anything is evaluated or recorded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from compliancegate.check import CheckOptions, clock_override, run_check
from compliancegate.errors import UsageError
from compliancegate.ledger.operations import from_json, to_json
from compliancegate.reporters import REPORTERS

PAST = "2025-01-01T00:00:00Z"


def _env(value: str = PAST) -> dict[str, str]:
    return {"COMPLIANCEGATE_NOW": value}


def _declare_staging(project: Any) -> None:
    """A recorded run outside production: staging must be declared (production refuses the
    replaced clock)."""
    project.write(
        "compliancegate.yaml",
        "apiVersion: compliancegate/v1\nkind: Config\n"
        "environments:\n  production: {production: true}\n  staging: {}\n",
    )


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_every_format_says_the_clock_was_replaced(gate_project: Any, cg: Any, fmt: str) -> None:
    """Each registered format, to stdout and to a file: a new format that leaves it out
    fails here."""
    outcome = cg(
        "check",
        "release",
        "--no-ledger",
        "--format",
        fmt,
        "--report",
        f"{fmt}=out/report",
        env=_env(),
    )
    assert outcome.code == 0, outcome.output
    written = (gate_project.root / "out" / "report").read_text(encoding="utf-8")
    for text in (outcome.stdout, written):
        assert "COMPLIANCEGATE_NOW" in text
        assert "2025-01-01" in text


def test_json_report_carries_the_override(gate_project: Any, cg: Any) -> None:
    outcome = cg("check", "release", "--no-ledger", "--format", "json", env=_env())
    document = outcome.json()
    override = document["run"]["clock_override"]
    assert override["variable"] == "COMPLIANCEGATE_NOW"
    assert (override["value"], override["now"]) == (PAST, PAST)
    assert override["wall_clock"] > "2026"  # the real clock, not the replaced one
    assert document["run"]["started_at"] == PAST
    assert document["notices"][0]["code"] == "clock-override"
    import jsonschema

    from compliancegate.reporters.json_report import load_schema

    jsonschema.validate(document, load_schema())


def test_without_the_variable_nothing_is_said(gate_project: Any, cg: Any) -> None:
    for env in (_env(""),):
        document = cg("check", "release", "--no-ledger", "--format", "json", env=env).json()
        assert document["run"]["clock_override"] is None
        assert not [n for n in document["notices"] if n["code"] == "clock-override"]


@pytest.mark.parametrize("spelling", [PAST, "2025-01-01", "2030-06-01T00:00:00+02:00"])
def test_production_refuses_a_replaced_clock_before_anything_runs(
    gate_project: Any, cg: Any, spelling: str
) -> None:
    """Past or future, date or datetime: exit 2, no report written, nothing recorded."""
    root: Path = gate_project.root
    outcome = cg(
        "check", "release", "--env", "production", "--report", "json=out/r.json", env=_env(spelling)
    )
    assert outcome.code == 2, outcome.output
    assert "COMPLIANCEGATE_NOW" in outcome.stderr
    assert "production" in outcome.stderr
    assert "Traceback" not in outcome.output
    assert not (root / "out").exists()
    assert not (root / ".compliancegate").exists()


def test_production_from_the_config_refuses_it_too(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "compliancegate.yaml",
        "apiVersion: compliancegate/v1\nkind: Config\nenvironment: production\n",
    )
    outcome = cg("check", "release", "--no-ledger", env=_env())
    assert outcome.code == 2, outcome.output
    assert "COMPLIANCEGATE_NOW" in outcome.stderr


def test_an_unparsable_override_is_a_usage_error(gate_project: Any, cg: Any) -> None:
    outcome = cg("check", "release", "--no-ledger", env=_env("next tuesday"))
    assert outcome.code == 2
    assert "next tuesday" in outcome.stderr


def test_every_ledger_record_of_the_run_carries_the_override(
    gate_project: Any, cg: Any, gate_snippets: Any
) -> None:
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    _declare_staging(gate_project)
    outcome = cg("check", "release", "--env", "staging", env=_env())
    assert outcome.code == 1, outcome.output
    lines = (gate_project.root / ".compliancegate/ledger/records.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["kind"] for r in records} >= {"run", "finding.opened"}
    for record in records:
        override = record["data"]["clock_override"]
        assert (override["value"], override["now"]) == (PAST, PAST)
        assert record["at"] == PAST
    # A run with the real clock says nothing.
    outcome = cg("check", "release", "--env", "staging", env=_env(""))
    lines = (gate_project.root / ".compliancegate/ledger/records.jsonl").read_text().splitlines()
    last_run = [json.loads(x) for x in lines if json.loads(x)["kind"] == "run"][-1]
    assert "clock_override" not in last_run["data"]


def test_a_pending_run_keeps_the_override(gate_project: Any, monkeypatch: Any) -> None:
    """Queued while the store is unreachable, the run still says so when it is stored."""
    from compliancegate.ledger.observe import RunContext, observe

    monkeypatch.setenv("COMPLIANCEGATE_NOW", PAST)
    report = run_check(CheckOptions(paths=(Path("release"),), no_ledger=True))
    assert report.clock_override is not None
    op = observe(report, RunContext(None, None, None))
    again = from_json(json.loads(json.dumps(to_json(op))))
    assert again == op
    assert op.clock_override is not None and op.clock_override["now"] == PAST


def test_the_library_refuses_it_in_production(gate_project: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("COMPLIANCEGATE_NOW", PAST)
    with pytest.raises(UsageError, match="production"):
        run_check(CheckOptions(paths=(Path("release"),), environment="production"))
    # A caller that passes its own instant is not overriding the clock through the variable.
    moment = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    monkeypatch.delenv("COMPLIANCEGATE_NOW")
    report = run_check(CheckOptions(paths=(Path("release"),), environment="production", now=moment))
    assert report.clock_override is None
    assert clock_override() is None


def test_findings_commands_say_so_and_mark_their_records(
    gate_project: Any, cg: Any, gate_snippets: Any
) -> None:
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    _declare_staging(gate_project)
    assert cg("check", "release", "--env", "staging", env=_env("")).code == 1
    ledger = gate_project.root / ".compliancegate/ledger/records.jsonl"
    opened = [json.loads(x) for x in ledger.read_text().splitlines()]
    finding = next(r["data"]["finding"] for r in opened if r["kind"] == "finding.opened")
    outcome = cg("findings", "ack", finding, "--text", "seen", env=_env())
    assert outcome.code == 0, outcome.output
    assert "COMPLIANCEGATE_NOW" in outcome.stderr
    outcome = cg("findings", "note", finding, "--text", "later", env=_env(""))
    assert outcome.code == 0, outcome.output
    records = [json.loads(x) for x in ledger.read_text().splitlines()]
    acked = next(r for r in records if r["kind"] == "finding.acked")
    assert acked["data"]["clock_override"]["value"] == PAST
    noted = next(r for r in records if r["kind"] == "finding.noted")
    assert "clock_override" not in noted["data"]


def test_policy_test_says_so(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "policies/tests/gate.test.yaml",
        "apiVersion: compliancegate/v1\nkind: PolicyTest\npolicy: images-pinned\ncases:\n"
        "  - name: nothing\n    expect: not_applicable\n",
    )
    outcome = cg("policy", "test", "policies", env=_env())
    assert outcome.code == 0, outcome.output
    assert "COMPLIANCEGATE_NOW" in outcome.stderr


def test_every_operation_keeps_the_override_through_the_queue() -> None:
    from compliancegate.ledger.clocks import Clock
    from compliancegate.ledger.operations import Action, FindingOp, OpenOp
    from compliancegate.model import Severity

    mark = {"value": PAST, "now": PAST, "wall_clock": "2026-12-01T00:00:00Z"}
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    clock = Clock(None, (), None, None)
    for op in (
        FindingOp("op1", moment, "me", Action.ACK, "f1", clock_override=mark),
        OpenOp("op2", moment, "me", "manual:x", "t", (), Severity.LOW, clock, mark),
        FindingOp("op3", moment, "me", Action.NOTE, "f1", "text"),
    ):
        assert from_json(json.loads(json.dumps(to_json(op)))) == op


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_the_override_survives_every_reporters_truncation(
    gate_project: Any, monkeypatch: Any, fmt: str
) -> None:
    """With hundreds of notices ahead of nothing else, each format still says it (GitHub's
    annotation budget, Markdown's size budget, SARIF's result cap)."""
    import dataclasses

    from compliancegate.model import Notice
    from compliancegate.reporters.github import GitHubReporter

    monkeypatch.setenv("COMPLIANCEGATE_NOW", PAST)
    report = run_check(CheckOptions(paths=(Path("release"),), no_ledger=True))
    noise = tuple(Notice("noise", "x" * 400) for _ in range(2_000))
    report = dataclasses.replace(report, notices=(*noise, *report.notices))
    reporter = GitHubReporter(limit=1) if fmt == "github" else REPORTERS[fmt]
    assert "COMPLIANCEGATE_NOW" in reporter.render(report).replace("\\_", "_")
