"""The JSON Schemas in ``tests/fixtures/schemas``, resolved offline.

The SchemaStore schemas are draft-07 documents that may ``$ref`` other schemas by URL. A
``referencing`` registry holds every local schema under its own ``$id``; any other URL is an
error rather than a download, so the tests never touch the network and never pass because a
reference went unresolved.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4, DRAFT7

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"


def load(name: str) -> dict[str, Any]:
    """A schema file by name."""
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def _offline(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


@cache
def registry() -> Registry[Any]:
    """Every local schema under its ``$id`` (``id`` for the draft-04 SARIF schema)."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        spec = DRAFT4 if "draft-04" in contents.get("$schema", "") else DRAFT7
        uri = contents.get("$id") or contents.get("id")
        resources.append((uri, spec.create_resource(contents)))
    return Registry(retrieve=_offline).with_resources(resources)


def validator(name: str) -> Any:
    """A validator for the schema ``name`` with the offline registry and format checks."""
    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry(), format_checker=cls.FORMAT_CHECKER)


def errors(name: str, instance: Any) -> list[str]:
    """Every validation error of ``instance`` against schema ``name``, as readable lines."""
    found = validator(name).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]
