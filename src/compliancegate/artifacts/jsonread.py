"""Reading producers' JSON reports defensively, and the pieces of normalization the SBOM and
scanner parsers share (license expressions, hash names, severities, CVSS scores).

Reports are hostile input: any value may have any type. The rule every JSON parser follows:

- a *container* of the wrong type (``runs`` is a string, a vulnerability is a number) is an
  ``ArtifactError`` naming the file and the JSON path (``Results[2].Vulnerabilities``): a
  report whose structure is wrong must never pass a gate as if it were empty;
- a *scalar field* of the wrong type (a version that is a list, a severity that is a number)
  reads as missing: ``null``, or ``unknown`` for a severity, which policies see and can
  refuse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

TITLE_LIMIT = 200
"""Longest ``title`` kept; descriptions run to paragraphs and titles are shown in reports."""

_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


class Reader:
    """Walks one source's JSON, raising ``ArtifactError`` with the JSON path of a container
    whose type is wrong."""

    def __init__(self, source: Source, what: str) -> None:
        self.source = source
        self.what = what
        """The format, for messages: ``not a Trivy report: ...``."""

    def error(self, path: str, expected: str, value: Any) -> ArtifactError:
        """A structural error at ``path``."""
        where = path or "the top level"
        return self.source.error(
            f"not a valid {self.what}: {where} is {json_type(value)}, expected {expected}",
            hint=f"check that the file is {self.what} JSON as the producer wrote it",
        )

    def root(self) -> dict[str, Any]:
        """The document, which must be a JSON object."""
        document = self.source.json
        if not isinstance(document, dict):
            raise self.error("", "an object", document)
        return document

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        """``value`` as an object; absent (null) reads as empty, any other type is an error."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(path, "an object", value)
        return value

    def items(self, value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(path, item)`` for each object of the list ``value``; absent (null) is an empty
        list, anything else of the wrong type (the list or an item) is an error."""
        if value is None:
            return
        if not isinstance(value, list):
            raise self.error(path, "a list", value)
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(item, dict):
                raise self.error(item_path, "an object", item)
            yield item_path, item


def text(value: Any) -> str | None:
    """A non-empty string, stripped; None for anything else."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def version_text(value: Any) -> str | None:
    """A version: a string, or a number some producers write unquoted (``1.2``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)  # any size: math.isfinite would overflow on a 400-digit one
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return text(value)


def number(value: Any) -> float | None:
    """A finite number, or a numeric string (SARIF writes ``"7.5"``); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:  # an integer literal of hundreds of digits
            return None
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def line_number(value: Any) -> int | None:
    """A 1-based line number; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def title(*candidates: Any) -> str | None:
    """The first non-empty text among ``candidates``, whitespace collapsed and cut at
    ``TITLE_LIMIT`` characters (with an ellipsis)."""
    for candidate in candidates:
        found = text(candidate)
        if found:
            flat = " ".join(found.split())
            if len(flat) > TITLE_LIMIT:
                return flat[: TITLE_LIMIT - 1].rstrip() + "\u2026"
            return flat
    return None


def first_version(value: Any) -> str | None:
    """The first of a comma-separated list of versions (Trivy writes ``"1.2.4, 1.3.1"`` when
    several release lines are fixed); None when empty."""
    found = version_text(value)
    if found is None:
        return None
    first = found.split(",")[0].strip()
    return first or None


def highest_severity(severities: Iterable[str]) -> str:
    """The highest of normalized severities; ``unknown`` when there are none."""
    best = sev.UNKNOWN
    for candidate in severities:
        if sev.RANK.get(candidate, 0) > sev.RANK[best]:
            best = candidate
    return best


def best_cvss(scores: Iterable[tuple[float | None, bool]]) -> float | None:
    """The highest CVSS base score of ``(score, is_v2)`` pairs: v3 and v4 scores first, v2
    scores only when nothing newer is given (v2 rates the same flaw on a different scale)."""
    modern: list[float] = []
    legacy: list[float] = []
    for score, is_v2 in scores:
        if score is None or not 0.0 <= score <= 10.0:
            continue
        (legacy if is_v2 else modern).append(score)
    if modern:
        return max(modern)
    return max(legacy) if legacy else None


_LICENSE_TOKENS = re.compile(r"[()\s]+")
_OPERATORS = {"AND", "OR", "WITH"}


def license_entries(expression: Any) -> list[str]:
    """A license id, name or SPDX expression as the entries of a component's ``licenses``:
    the string itself and, for an expression, each license id in it, so that a deny list
    finds ``GPL-3.0-only`` in ``MIT OR GPL-3.0-only``. Exception ids after ``WITH`` are not
    licenses and are left out; ``NOASSERTION`` and ``NONE`` mean "no license stated"."""
    found = text(expression)
    if found is None or found.upper() in ("NOASSERTION", "NONE"):
        return []
    if " " not in found and "(" not in found:  # a single id or name, the common case
        return [found]
    entries = [found]
    tokens = [t for t in _LICENSE_TOKENS.split(found) if t]
    if any(t.upper() in _OPERATORS for t in tokens) or "(" in found:
        skip_next = False
        for token in tokens:
            if skip_next:
                skip_next = False
                continue
            upper = token.upper()
            if upper == "WITH":
                skip_next = True
            elif upper not in _OPERATORS and upper not in ("NOASSERTION", "NONE"):
                entries.append(token)
    return list(dict.fromkeys(entries))


def hash_name(algorithm: Any) -> str | None:
    """A producer's hash algorithm name in the lowercase in-toto spelling, so that SBOM
    hashes and provenance digests compare: ``SHA-256`` and ``SHA256`` are ``sha256``,
    ``SHA3-256`` is ``sha3-256``, ``BLAKE2b-256`` is ``blake2b-256``."""
    found = text(algorithm)
    return None if found is None else _hash_name(found)


@lru_cache(maxsize=256)
def _hash_name(found: str) -> str:
    # Cached: an SBOM names the same few algorithms on every one of its components.
    lower = found.lower().replace("_", "-")
    match = re.fullmatch(r"sha-?(1|224|256|384|512)", lower)
    return f"sha{match.group(1)}" if match else lower


def vulnerability(
    *,
    id: str | None,
    severity: str,
    package: str | None,
    version: str | None,
    fixed_version: str | None,
    title: str | None,
    source_tool: str | None,
    target: str | None,
    cvss: float | None,
    state: str | None,
    known_exploited: bool | None,
    source: str,
) -> dict[str, Any]:
    """One item of the ``vulnerabilities`` kind, every field of docs/artifacts.md present
    and in the documented order, whichever parser built it."""
    return {
        "id": id,
        "severity": severity,
        "package": package,
        "version": version,
        "fixed_version": fixed_version,
        "title": title,
        "source_tool": source_tool,
        "target": target,
        "cvss": cvss,
        "state": state,
        "known_exploited": known_exploited,
        "source": source,
    }


def finding(
    *,
    tool: str | None,
    rule_id: str | None,
    level: str,
    message: str | None,
    file: str | None,
    line: int | None,
    fingerprint: str | None,
    security_severity: float | None,
    suppressed: bool,
    source: str,
) -> dict[str, Any]:
    """One item of the ``findings`` kind, every field of docs/artifacts.md present."""
    return {
        "tool": tool,
        "rule_id": rule_id,
        "level": level,
        "message": message,
        "file": file,
        "line": line,
        "fingerprint": fingerprint,
        "security_severity": security_severity,
        "suppressed": suppressed,
        "source": source,
    }


def component(
    *,
    name: str | None,
    version: str | None,
    purl: str | None,
    type: str | None,
    licenses: list[str],
    supplier: str | None,
    hashes: dict[str, str],
    source: str,
) -> dict[str, Any]:
    """One component of the ``sbom`` kind, every field of docs/artifacts.md present."""
    return {
        "name": name,
        "version": version,
        "purl": purl,
        "type": type,
        "licenses": licenses,
        "supplier": supplier,
        "hashes": hashes,
        "source": source,
    }
