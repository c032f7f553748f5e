"""The JSON report: valid against the shipped schema, faithful, stable and documented."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_factory import HOSTILE, make_policy, make_report, make_result, mixed_report

from compliancegate.model import CheckReport, Status
from compliancegate.reporters.json_report import JsonReporter, build_document, load_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json-report.md"


def render(report: CheckReport) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(JsonReporter().render(report))
    return document


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_every_object_in_the_schema_is_closed_and_fully_required() -> None:
    objects = _objects(load_schema())
    assert len(objects) >= 10
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


@pytest.mark.parametrize("message", [None, HOSTILE])
def test_output_validates_against_the_schema(
    message: str | None, report_validator: jsonschema.Draft202012Validator
) -> None:
    report_validator.validate(render(mixed_report(message)))


def test_empty_report_validates(report_validator: jsonschema.Draft202012Validator) -> None:
    report_validator.validate(render(make_report([], environment=None, ledger=None)))


def test_schema_rejects_an_unknown_field(
    report: CheckReport, report_validator: jsonschema.Draft202012Validator
) -> None:
    document = render(report)
    document["results"][0]["violations"][0]["extra"] = 1
    assert not report_validator.is_valid(document)


def test_fields_round_trip(report: CheckReport) -> None:
    document = render(report)
    assert document["apiVersion"] == "compliancegate/v1"
    assert document["kind"] == "CheckReport"
    assert document["tool"] == {"name": "compliancegate", "version": report.tool_version}
    assert document["run"] == {
        "id": report.run_id,
        "started_at": "2026-10-02T09:30:15Z",
        "environment": report.environment,
        "fail_on": "low",
        "paths": list(report.paths),
        "ledger": report.ledger,
        "clock_override": None,
    }
    assert document["decision"] == "blocked"
    assert document["summary"] == {
        "policies": 6,
        "pass": 1,
        "fail": 2,
        "error": 1,
        "not_applicable": 1,
        "waived": 1,
        "violations": 5,
        "waived_violations": 2,
        "blocking": 1,
    }
    assert len(document["results"]) == len(report.results)
    for got, result in zip(document["results"], report.results, strict=True):
        policy = result.policy
        assert got["policy"] == {
            "id": policy.id,
            "title": policy.title,
            "severity": str(policy.severity),
            "enforcement": str(policy.enforcement),
            "controls": list(policy.controls),
            "file": policy.file,
            "line": policy.line,
        }
        assert got["status"] == str(result.status)
        assert got["blocking"] is result.blocking
        assert got["error"] == result.error
        assert got["artifacts"] == list(result.artifacts)
        for got_v, v in zip(got["violations"], result.violations, strict=True):
            assert got_v["fingerprint"] == v.fingerprint
            assert got_v["message"] == v.message
            assert got_v["remediation"] == v.remediation
            assert got_v["severity"] == str(v.severity)
            assert got_v["controls"] == list(v.controls)
            assert got_v["kind"] == v.kind
            assert got_v["location"] == {"file": v.location.file, "line": v.location.line}
            if v.waiver is None:
                assert got_v["waiver"] is None
            else:
                assert got_v["waiver"] == {
                    "id": v.waiver.id,
                    "reason": v.waiver.reason,
                    "approved_by": v.waiver.approved_by,
                    "expires": "2026-12-31",
                }
    assert document["notices"] == [
        {"code": n.code, "message": n.message, "file": n.file, "line": n.line}
        for n in report.notices
    ]
    assert document["coverage"] == {"controls": 4, "implemented": 3, "gaps": ["nist:AC-2"]}


def test_key_order_is_the_documented_one(report: CheckReport) -> None:
    document = render(report)
    assert list(document) == [
        "apiVersion",
        "kind",
        "tool",
        "run",
        "decision",
        "summary",
        "results",
        "notices",
        "coverage",
    ]
    assert list(document["results"][0]) == [
        "policy",
        "status",
        "blocking",
        "error",
        "artifacts",
        "violations",
    ]


def test_output_is_deterministic_and_indented(report: CheckReport) -> None:
    first = JsonReporter().render(report)
    assert first == JsonReporter().render(mixed_report())
    assert first.startswith('{\n  "apiVersion": "compliancegate/v1",\n')
    assert first.endswith("}\n")


def test_non_ascii_is_written_as_is() -> None:
    policy = make_policy(title="Contrôle d’accès 🔐")
    out = JsonReporter().render(make_report([make_result(policy, Status.PASS)]))
    assert "Contrôle d’accès 🔐" in out


def test_started_at_is_converted_to_utc() -> None:
    report = make_report([])
    eastern = dt.timezone(dt.timedelta(hours=-5))
    moment = dt.datetime(2026, 10, 2, 4, 30, 15, 250000, tzinfo=eastern)
    document = build_document(dataclasses.replace(report, started_at=moment))
    assert document["run"]["started_at"] == "2026-10-02T09:30:15.250000Z"


def test_hostile_text_round_trips_but_cannot_drive_a_terminal_or_ci_log() -> None:
    report = mixed_report(HOSTILE)
    out = JsonReporter().render(report)
    # Raw: no terminal escapes (C0 are JSON-escaped, C1 and bidi controls escaped by us) and no
    # GitHub "##[" command marker.
    assert "\x1b" not in out
    assert "\x9b" not in out
    assert "\u202e" not in out
    assert "##[" not in out
    assert "\\u0023#[" in out
    out.encode("utf-8")
    # Decoded: the same text, except the lone surrogate, which cannot be UTF-8.
    message = json.loads(out)["results"][0]["violations"][0]["message"]
    assert message == HOSTILE.replace("\ud800", "\ufffd")


def test_every_schema_property_is_documented() -> None:
    """docs/json-report.md names every field of the schema (as `name` in its tables)."""
    documented = set(re.findall(r"`([A-Za-z_]+)`", DOCS.read_text(encoding="utf-8")))
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_schema())
    assert names - documented == set()
