"""``validate_oscal`` against NIST's packaged schemas: NIST's own examples validate, and each
kind of break (a uuid, a required field, a control id, a time) is caught with its JSON path."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from compliancegate.oscal.validation import SCHEMAS, load_schema, validate_oscal

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXAMPLES = {
    "assessment-results": FIXTURES / "oscal" / "ifa_assessment-results-example.json",
    "plan-of-action-and-milestones": FIXTURES / "oscal" / "ifa_plan-of-action-and-milestones.json",
}
# The SHA-256 each packaged schema had when it was copied (schemas/SOURCES.md).
SCHEMA_SHA256 = {
    "oscal_assessment-results_schema.json": (
        "4f9e277a177adbcca9527612ce450a33dc6096773fa229d413d801d196c61985"
    ),
    "oscal_poam_schema.json": "c02062bbc6f5092012286cbc6161b643eb6aecfbb918cb5790be777860da2c11",
}


def example(model: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLES[model].read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_nists_examples_validate(model: str) -> None:
    assert validate_oscal(example(model)) == []


def test_the_packaged_schemas_are_nists_bytes() -> None:
    for name, digest in SCHEMA_SHA256.items():
        data = files("compliancegate.oscal").joinpath("schemas", name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
    assert set(SCHEMAS.values()) == set(SCHEMA_SHA256)
    for model in SCHEMAS:
        assert load_schema(model)["$id"].startswith("http://csrc.nist.gov/ns/oscal/1.2.1/")


def _ar(d: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = d["assessment-results"]
    return root


def _poam(d: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = d["plan-of-action-and-milestones"]
    return root


def _set_uuid(value: str) -> Callable[[dict[str, Any]], str]:
    def edit(d: dict[str, Any]) -> str:
        _ar(d)["results"][0]["observations"][0]["uuid"] = value
        return "$.assessment-results.results[0].observations[0].uuid"

    return edit


def _control_id(value: str) -> Callable[[dict[str, Any]], str]:
    def edit(d: dict[str, Any]) -> str:
        selection = _ar(d)["results"][0]["reviewed-controls"]["control-selections"][0]
        selection["include-controls"][0]["control-id"] = value
        return "$.assessment-results.results[0].reviewed-controls.control-selections[0]"

    return edit


def _drop(*path: str | int) -> Callable[[dict[str, Any]], str]:
    def edit(d: dict[str, Any]) -> str:
        node: Any = d
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[:-1])

    return edit


BROKEN_AR = {
    # A uuid one character short, one too long, version 3, a bad variant, not hex, empty.
    "uuid-short": _set_uuid("8807eb6e-0c05-43bc-8438-799739615e3"),
    "uuid-long": _set_uuid("8807eb6e-0c05-43bc-8438-799739615e345"),
    "uuid-version-3": _set_uuid("8807eb6e-0c05-33bc-8438-799739615e34"),
    "uuid-variant": _set_uuid("8807eb6e-0c05-43bc-c438-799739615e34"),
    "uuid-not-hex": _set_uuid("8807eb6e-0c05-43bc-8438-79973961ze34"),
    "uuid-empty": _set_uuid(""),
    # Control ids: a space, upper-case parentheses, a leading digit, a colon, empty.
    "control-space": _control_id("ac 6.1"),
    "control-parens": _control_id("AC-6(1)"),
    "control-digit": _control_id("6.1"),
    "control-colon": _control_id("nist:ac-6.1"),
    "control-empty": _control_id(""),
    # Required fields, at the root, in the metadata, in a result, an observation, a finding.
    "missing-metadata-title": _drop("assessment-results", "metadata", "title"),
    "missing-import-ap": _drop("assessment-results", "import-ap"),
    "missing-result-start": _drop("assessment-results", "results", 0, "start"),
    "missing-observation-collected": _drop(
        "assessment-results", "results", 0, "observations", 0, "collected"
    ),
    "missing-finding-target": _drop("assessment-results", "results", 0, "findings", 0, "target"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_AR))
def test_each_break_of_assessment_results_is_caught_at_its_path(case: str) -> None:
    document = example("assessment-results")
    where = BROKEN_AR[case](document)
    errors = validate_oscal(document)
    assert errors, case
    assert any(e.startswith(where) for e in errors), errors


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: _poam(d)["poam-items"][0].update(uuid="48c8368d"), "poam-items[0].uuid"),
        (lambda d: _poam(d)["poam-items"][1].pop("title"), "poam-items[1]"),
        (lambda d: _poam(d)["risks"][0].update(status="Open now"), "risks[0].status"),
        (lambda d: _poam(d)["risks"][0].update(deadline="2024-01-01"), "risks[0].deadline"),
        (lambda d: _poam(d)["risks"][0].update(deadline="2024-02-30T00:00:00Z"), "risks[0]"),
        (lambda d: _poam(d).update(**{"poam-items": []}), "poam-items"),
        (lambda d: _poam(d).update(extra=1), ""),
        (lambda d: _poam(d)["metadata"].update(title="two\nlines"), "metadata.title"),
    ],
    ids=["uuid", "title", "status", "date-only", "feb-30", "no-items", "extra-key", "newline"],
)
def test_each_break_of_a_poam_is_caught_at_its_path(
    edit: Callable[[dict[str, Any]], Any], where: str
) -> None:
    document = example("plan-of-action-and-milestones")
    edit(document)
    errors = validate_oscal(document)
    prefix = "$.plan-of-action-and-milestones" + (f".{where}" if where else ":")
    assert any(e.startswith(prefix) for e in errors), errors


def test_the_original_is_untouched_and_unicode_letters_are_tokens() -> None:
    """``\\p{L}`` really is honoured: a non-ASCII letter is a valid token, which a validator
    that dropped the pattern or mangled it into ASCII classes would get wrong one way."""
    document = example("assessment-results")
    before = copy.deepcopy(document)
    _control_id("ñu-1.2")(document)
    assert validate_oscal(document) == []
    _control_id("-ñu")(document)
    assert validate_oscal(document)
    assert validate_oscal(before) == []


@pytest.mark.parametrize(
    "document", [None, [], "text", {}, {"catalog": {}}, {"assessment-results": {}, "x": {}}]
)
def test_what_is_not_one_of_our_models_is_one_clear_error(document: Any) -> None:
    (error,) = validate_oscal(document)
    assert error.startswith("$: ")
    assert "assessment-results" in error


def test_a_document_wrong_everywhere_gives_a_bounded_list() -> None:
    document = example("assessment-results")
    observation = _ar(document)["results"][0]["observations"][0]
    _ar(document)["results"][0]["observations"] = [
        {**observation, "uuid": f"bad-{i}"} for i in range(500)
    ]
    errors = validate_oscal(document)
    assert len(errors) == 101
    assert errors[-1] == "$: and 400 more errors"
