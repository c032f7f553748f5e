"""``validate_oscal``: a document checked against NIST's OSCAL JSON schemas, offline.

The schemas (OSCAL 1.2.1 release assets, ``schemas/``, see ``schemas/SOURCES.md``) write
their ``pattern`` keywords with Unicode property classes (``\\p{L}``, ``\\p{N}``) that
Python's ``re`` rejects. jsonschema validates with its own Draft 7 rules except ``pattern``,
which goes through the ``regex`` module (PyPI, a drop-in superset of ``re`` that knows
``\\p{...}``). Patterns are compiled once each.

Every ``$ref`` of these schemas points into their own ``definitions`` (``#/definitions/X``),
so the validator is given the schema with each reference replaced by the definition it names
(``_inline_references``, a graph with cycles where the model nests). Validation then never
resolves a reference: jsonschema's lookup of each one, every time an instance reaches it, was
more than half of the time (a bundle verifies one document a run, so a period of 1,000 runs
took 22 s; 9 s now). Draft 7 ignores a ``$ref``'s sibling keywords, and so does the
replacement, so what is valid and every error message stay the same.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

SCHEMAS = {
    "assessment-results": "oscal_assessment-results_schema.json",
    "plan-of-action-and-milestones": "oscal_poam_schema.json",
}
"""The root key of each document model we write, and the schema it validates against."""

MAX_ERRORS = 100
"""Errors listed at most; a document that breaks more is wrong everywhere anyway."""


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    import regex

    return regex.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and _compiled(pattern).search(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_DEFINITION = "#/definitions/"
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are instances, not schemas: never searched for references."""


def _inline_references(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` in which every ``{"$ref": "#/definitions/X", ...}`` is the
    definition ``X`` itself (shared, so recursive models become cycles). Any other kind of
    reference is a ``ValueError``: the packaged schemas have none."""
    copied: dict[str, Any] = copy.deepcopy(schema)
    definitions: dict[str, Any] = copied.get("definitions", {})
    done: set[int] = set()

    def walk(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if ref is not None:
            name = ref[len(_DEFINITION) :] if isinstance(ref, str) else ""
            if (
                not isinstance(ref, str)
                or not ref.startswith(_DEFINITION)
                or name not in definitions
                or name in seen
            ):
                raise ValueError(f"cannot inline the reference {ref!r}")
            return walk(definitions[name], (*seen, name))
        if id(node) not in done:
            done.add(id(node))
            for key, value in node.items():
                if key not in _DATA_KEYWORDS:
                    node[key] = walk(value)
        return node

    inlined: dict[str, Any] = walk(copied)
    return inlined


@functools.lru_cache(maxsize=len(SCHEMAS))
def _schema(name: str) -> dict[str, Any]:
    from importlib.resources import files

    text = files("compliancegate.oscal").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.lru_cache(maxsize=len(SCHEMAS))
def _validator(name: str) -> Any:
    from jsonschema import Draft7Validator, validators

    cls = validators.extend(Draft7Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]
    return cls(_inline_references(_schema(name)), format_checker=Draft7Validator.FORMAT_CHECKER)


def load_schema(model: str) -> dict[str, Any]:
    """The JSON schema of ``model`` (a key of ``SCHEMAS``), as shipped in the package."""
    return _schema(SCHEMAS[model])


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_oscal(document: Any) -> list[str]:
    """The ways ``document`` breaks its OSCAL schema, each as ``JSON-PATH: message``;
    empty when it is valid.

    The model is the document's one root key (assessment results or POA&M); anything else
    is one error saying which models are known.
    """
    if not isinstance(document, Mapping) or len(document) != 1:
        roots = ", ".join(sorted(SCHEMAS))
        return [f"$: not an OSCAL document with one root key ({roots})"]
    (root,) = document
    if root not in SCHEMAS:
        return [f"$: {root!r} is not a model this validator knows ({', '.join(sorted(SCHEMAS))})"]
    validator = _validator(SCHEMAS[root])
    errors: list[str] = []
    found = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    for error in found[:MAX_ERRORS]:
        # anyOf/oneOf failures say only "is not valid under any of the given schemas": the
        # deepest sub-error names what is actually wrong.
        best = error
        while best.context:
            best = min(best.context, key=lambda e: -len(e.absolute_path))
        errors.append(f"{_path(best.absolute_path)}: {best.message}")
    if len(found) > MAX_ERRORS:
        errors.append(f"$: and {len(found) - MAX_ERRORS} more errors")
    return errors
