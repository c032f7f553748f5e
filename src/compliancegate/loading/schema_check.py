"""Whether a document is valid against one of the package's own JSON Schemas, without
importing ``jsonschema``.

Every ``check`` validates its config, register, waivers and each policy; importing
``jsonschema`` (with ``referencing``, ``attrs`` and the metaschemas it loads) costs more
than the rest of a small check's set-up. The package's schemas use a small part of Draft
2020-12, evaluated here with jsonschema's own semantics (its type checker, its ``equal``,
``re.search`` for ``pattern``). The answer is only ever "valid" or "cannot say": a document
that is not valid, or a schema using a keyword not evaluated here, goes to ``jsonschema``,
which finds the error and its message (``documents.validate``). Proved against jsonschema on
generated documents in ``tests/loading/test_schema_check.py``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment"})


class _Unsure(Exception):
    """A keyword or a value this module does not evaluate."""


def is_valid(schema: dict[str, Any], instance: Any) -> bool:
    """True when ``instance`` is valid against ``schema`` (a package schema, whose local
    ``$ref`` s it resolves); False when it is not or when this cannot tell."""
    try:
        return _valid(schema, instance, schema)
    except (_Unsure, RecursionError):
        return False


@cache
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _is_type(instance: Any, name: str) -> bool:
    # jsonschema's Draft 2020-12 type checker: a bool is not a number, 1.0 is an integer.
    kind = type(instance)
    if name == "string":
        return kind is str
    if name == "object":
        return kind is dict
    if name == "array":
        return kind is list
    if name == "null":
        return instance is None
    if name == "boolean":
        return kind is bool
    if name == "integer":
        return kind is int or (kind is float and instance.is_integer())
    if name == "number":
        return kind is int or kind is float
    raise _Unsure(name)


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _equal(one: Any, two: Any) -> bool:
    # jsonschema's ``equal``: a string equals only that string; on other scalars True is
    # not 1, and 1 is 1.0.
    if type(one) is str or type(two) is str:
        return bool(one == two)
    if not (_scalar(one) and _scalar(two)):
        raise _Unsure("a container in const or enum")
    if type(one) is bool or type(two) is bool:
        return type(one) is type(two) and one == two
    return bool(one == two)


def _resolve(root: dict[str, Any], reference: str) -> Any:
    if not reference.startswith("#/$defs/") or "/" in reference[len("#/$defs/") :]:
        raise _Unsure(reference)
    definitions = root.get("$defs", {})
    name = reference[len("#/$defs/") :]
    if name not in definitions:
        raise _Unsure(reference)
    return definitions[name]


def _valid(schema: Any, instance: Any, root: dict[str, Any]) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    if type(schema) is not dict:
        raise _Unsure("a schema that is not an object")
    kind = type(instance)
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            if not _valid(_resolve(root, value), instance, root):
                return False
        elif keyword == "type":
            names = value if type(value) is list else [value]
            if not any(_is_type(instance, name) for name in names):
                return False
        elif keyword == "const":
            if not _equal(instance, value):
                return False
        elif keyword == "enum":
            if not any(_equal(instance, each) for each in value):
                return False
        elif keyword == "minLength":
            if kind is str and len(instance) < value:
                return False
        elif keyword == "maxLength":
            if kind is str and len(instance) > value:
                return False
        elif keyword == "pattern":
            if kind is str and _pattern(value).search(instance) is None:
                return False
        elif keyword == "minimum":
            if (kind is int or kind is float) and instance < value:
                return False
        elif keyword == "properties":
            if kind is dict:
                for name, subschema in value.items():
                    if name in instance and not _valid(subschema, instance[name], root):
                        return False
        elif keyword == "additionalProperties":
            if kind is dict:
                if "patternProperties" in schema:
                    raise _Unsure("patternProperties")
                declared = schema.get("properties", {})
                for name in instance:
                    if name not in declared and not _valid(value, instance[name], root):
                        return False
        elif keyword == "required":
            if kind is dict and any(name not in instance for name in value):
                return False
        elif keyword == "minProperties":
            if kind is dict and len(instance) < value:
                return False
        elif keyword == "propertyNames":
            if kind is dict and not all(_valid(value, name, root) for name in instance):
                return False
        elif keyword == "items":
            if "prefixItems" in schema:
                raise _Unsure("prefixItems")
            if kind is list and not all(_valid(value, item, root) for item in instance):
                return False
        elif keyword == "minItems":
            if kind is list and len(instance) < value:
                return False
        elif keyword == "uniqueItems":
            if value and kind is list and not _unique(instance):
                return False
        elif keyword == "anyOf":
            if not any(_valid(subschema, instance, root) for subschema in value):
                return False
        elif keyword == "oneOf":
            if sum(1 for subschema in value if _valid(subschema, instance, root)) != 1:
                return False
        elif keyword == "not":
            if _valid(value, instance, root):
                return False
        else:
            raise _Unsure(keyword)
    return True


def _unique(items: list[Any]) -> bool:
    if not all(type(item) is str for item in items):
        raise _Unsure("uniqueItems over values that are not strings")
    return len(set(items)) == len(items)
