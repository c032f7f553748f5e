"""Reading the tool's own input files (YAML or JSON) safely, and validating them against the
package's JSON Schemas with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from compliancegate.errors import CompliancegateError, LoadError
from compliancegate.loading import schema_check
from compliancegate.loading.inputs import note_read
from compliancegate.loading.safe_yaml import YamlDocument, load_documents

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""Registers, policies and waivers are hand-written; anything larger is a mistake or hostile."""


def display(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """Read a UTF-8 text file, refusing directories, huge files and binary content."""
    name = display(path)
    try:
        if path.is_dir():
            raise LoadError("is a directory, expected a file", file=name)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise LoadError("no such file", file=name) from None
    except PermissionError:
        raise LoadError(
            "permission denied",
            file=name,
            hint="make it readable by the user running compliancegate",
        ) from None
    except OSError as exc:
        raise LoadError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if len(data) > limit:
        raise LoadError(f"larger than {limit:,} bytes", file=name)
    if b"\x00" in data:
        raise LoadError("binary content (NUL bytes), expected YAML or JSON text", file=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text (byte {exc.start})", file=name) from None
    note_read(name, data)
    return text


def read_yaml(path: Path) -> list[YamlDocument]:
    """Every document of a YAML (or JSON, which is YAML) file, with line marks."""
    text = read_text(path)
    try:
        return load_documents(text, display(path))
    except CompliancegateError as exc:
        raise LoadError(exc.message, file=exc.file, line=exc.line, hint=exc.hint) from None


def read_document(path: Path) -> Any:
    """The single document of a YAML or JSON file (a JSON Schema, say)."""
    if path.suffix == ".json":
        text = read_text(path)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(
                f"invalid JSON: {exc.msg}", file=display(path), line=exc.lineno
            ) from None
        except RecursionError:
            raise LoadError("JSON nesting too deep", file=display(path)) from None
    documents = read_yaml(path)
    if len(documents) != 1:
        raise LoadError(f"expected one document, found {len(documents)}", file=display(path))
    return documents[0].data


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("compliancegate.loading").joinpath(f"schemas/{name}.schema.json")
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(name: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(_schema(name))


def validate(name: str, document: YamlDocument, file: str, subject: str | None = None) -> None:
    """Validate against the package schema ``name``; the first (deepest-path) error raises
    ``LoadError`` with the line of the offending key.

    A valid document is recognized without importing jsonschema (``schema_check``); only
    one that is not (or that it cannot judge) is validated by jsonschema, for the error."""
    if schema_check.is_valid(_schema(name), document.data):
        return
    validator = _validator(name)
    errors = sorted(
        validator.iter_errors(document.data),
        key=lambda e: (-len(e.absolute_path), [str(p) for p in e.absolute_path]),
    )
    if not errors:
        return
    import jsonschema.exceptions

    error = jsonschema.exceptions.best_match(errors) or errors[0]
    path: Sequence[str | int] = list(error.absolute_path)
    where = ".".join(str(p) for p in path) or "(top level)"
    message = error.message
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            path = [*path, extra[0]]
            message = f"unknown key {extra[0]!r}"
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            raise LoadError(
                f"{where}: {message}",
                file=file,
                line=document.line_at(path),
                subject=subject,
                hint=f"allowed keys here: {allowed}",
            )
    if len(message) > 300:
        message = message[:297] + "..."
    raise LoadError(f"{where}: {message}", file=file, line=document.line_at(path), subject=subject)
