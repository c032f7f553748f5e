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


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _leaves(value, (*path, i))]
    return [path]


def _broken_copies(model: str, count: int) -> list[dict[str, Any]]:
    """The example with one leaf (``count`` of them, spread over the document) emptied, made
    a number, or the object holding it given an unknown key: breaks of patterns, types,
    required fields and closed objects, at every depth."""
    document = example(model)
    leaves = _leaves(document)
    chosen = leaves[:: max(1, len(leaves) // count)][:count]
    broken = [document]
    for path in chosen:
        for edit in ("empty", "number", "extra"):
            copied = copy.deepcopy(document)
            node: Any = copied
            for part in path[:-1]:
                node = node[part]
            if edit == "extra":
                if isinstance(node, dict):
                    node["not-in-the-schema"] = 1
            else:
                node[path[-1]] = "" if edit == "empty" else 12345
            broken.append(copied)
    return broken


def _references(schema: Any) -> list[str]:
    """Every ``$ref`` left in a schema graph (which may have cycles)."""
    seen: set[int] = set()
    pending, found = [schema], []
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.append(node["$ref"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def test_inlining_shares_definitions_and_refuses_other_references() -> None:
    from compliancegate.oscal.validation import _inline_references

    schema = {
        "definitions": {
            "part": {"type": "object", "properties": {"parts": {"$ref": "#/definitions/list"}}},
            "list": {"type": "array", "items": {"$ref": "#/definitions/part"}},
            "alias": {"$id": "#/definitions/alias", "$ref": "#/definitions/part"},
        },
        "properties": {"root": {"$ref": "#/definitions/alias", "title": "ignored"}},
        "enum": [{"$ref": "#/definitions/data-not-a-schema"}],
    }
    inlined = _inline_references(schema)
    part = inlined["definitions"]["part"]
    assert inlined["properties"]["root"] is part
    assert part["properties"]["parts"]["items"] is part  # a recursive model is a cycle
    assert inlined["enum"] == [{"$ref": "#/definitions/data-not-a-schema"}]
    assert "$ref" in schema["properties"]["root"]  # the original is untouched
    for ref in ("#/definitions/missing", "other.json#/definitions/part", "#/properties/root"):
        with pytest.raises(ValueError, match="cannot inline"):
            _inline_references({"definitions": {}, "properties": {"x": {"$ref": ref}}})
    loop = {"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}}
    with pytest.raises(ValueError, match="cannot inline"):
        _inline_references({**loop, "properties": {"x": {"$ref": "#/definitions/a"}}})


def _errors(validator: Any, document: Any) -> list[tuple[str, str, str]]:
    """Every error and sub-error, by instance path, keyword and message."""
    found: list[tuple[str, str, str]] = []
    pending = list(validator.iter_errors(document))
    while pending:
        error = pending.pop()
        found.append((json.dumps(list(error.absolute_path)), error.validator, error.message))
        pending.extend(error.context or ())
    return sorted(found)


@pytest.mark.parametrize("model", sorted(SCHEMAS))
def test_inlined_references_judge_exactly_as_resolved_ones(model: str) -> None:
    """The validator runs on the schema with every ``$ref`` replaced by its definition (for
    speed); jsonschema resolving each ``$ref`` itself finds the same errors, sub-errors
    included, on the examples broken in many places."""
    import regex
    from jsonschema import Draft7Validator, ValidationError, validators

    from compliancegate.oscal.validation import _validator

    def pattern(validator: Any, value: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and regex.search(value, instance) is None:
            yield ValidationError(f"{instance!r} does not match {value!r}")

    cls = validators.extend(Draft7Validator, {"pattern": pattern})
    reference = cls(load_schema(model), format_checker=Draft7Validator.FORMAT_CHECKER)
    fast = _validator(SCHEMAS[model])
    assert not _references(fast.schema)
    documents = _broken_copies(model, 20)
    assert sum(1 for d in documents if _errors(reference, d)) > 40
    for document in documents:
        assert _errors(fast, document) == _errors(reference, document)


def test_validation_resolves_no_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking each ``$ref`` up, every time an instance reached it, was more than half the
    time of validating a document (and ``bundle verify`` validates one a run): the schemas'
    references are inlined once, so valid and broken documents alike resolve none."""
    from referencing._core import Resolver

    looked_up: list[str] = []
    original = Resolver.lookup

    def lookup(self: Any, ref: str) -> Any:
        looked_up.append(ref)
        return original(self, ref)

    monkeypatch.setattr(Resolver, "lookup", lookup)
    for model in sorted(SCHEMAS):
        assert validate_oscal(example(model)) == []
    broken = example("assessment-results")
    _set_uuid("not-a-uuid")(broken)
    assert validate_oscal(broken)
    assert looked_up == []
