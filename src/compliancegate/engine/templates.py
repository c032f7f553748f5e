"""Safe message templates: ``{item.a.b}``, ``{document.a}``, ``{artifact.path}``, ``{policy.id}``.

A template is parsed once into literal text and field lookups. A lookup walks dict keys and
list indexes only: no attribute access, no calls, no format specs, so a hostile document
cannot make a template run code or read anything outside the values it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROOTS = ("item", "document", "artifact", "policy", "error")
MISSING = "<missing>"
MAX_VALUE_CHARS = 300

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-@#$]+$")


@dataclass(frozen=True)
class Template:
    """A parsed template: alternating literal strings and field paths."""

    source: str
    parts: tuple[str | tuple[str, ...], ...]

    def render(self, values: Mapping[str, Any]) -> str:
        """Render with ``values`` (keys are the roots); a missing key renders ``<missing>``."""
        out: list[str] = []
        for part in self.parts:
            if part.__class__ is str:
                out.append(part)
            else:
                out.append(_format(_lookup(values, part)))  # type: ignore[arg-type]
        return "".join(out)


def compile_template(source: str) -> Template:
    """Parse ``source``; raises ValueError naming the bad field."""
    parts: list[str | tuple[str, ...]] = []
    pos = 0
    for match in _FIELD.finditer(source):
        text = source[pos : match.start()]
        token = match.group(0)
        pos = match.end()
        if token in ("{{", "}}"):
            text += token[0]
            _append_literal(parts, text)
            continue
        _append_literal(parts, text)
        if match.group(1) is None:
            raise ValueError(f"unbalanced brace in template {source!r}: write {{{{ or }}}}")
        parts.append(_parse_field(match.group(1), source))
    _append_literal(parts, source[pos:])
    return Template(source, tuple(parts))


def _append_literal(parts: list[str | tuple[str, ...]], text: str) -> None:
    if not text:
        return
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1] + text
    else:
        parts.append(text)


def _parse_field(name: str, source: str) -> tuple[str, ...]:
    segments = tuple(name.strip().split("."))
    if segments[0] not in ROOTS:
        raise ValueError(
            f"unknown template field {{{name}}} in {source!r}: fields start with "
            + ", ".join(ROOTS)
        )
    for segment in segments[1:]:
        if not _SEGMENT.match(segment):
            raise ValueError(
                f"bad template field {{{name}}} in {source!r}: use dotted keys such as "
                "{item.metadata.name}"
            )
    return segments


_ABSENT = object()


def _lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values.get(path[0], _ABSENT)
    if node is _ABSENT:
        return MISSING
    for segment in path[1:]:
        # A plain dict first: isinstance against the Mapping ABC costs more than the lookup.
        if node.__class__ is dict or isinstance(node, Mapping):
            node = node.get(segment, _ABSENT)
            if node is _ABSENT:
                return MISSING
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return MISSING
    return node


def _format(value: Any) -> str:
    if value.__class__ is str and len(value) <= MAX_VALUE_CHARS:
        return value
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        if isinstance(value, str):
            text = value
        elif isinstance(value, int | float):
            text = str(value)
        else:
            text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        # An integer past Python's 4,300-digit str() limit, keys that cannot be sorted, or
        # nesting deeper than the stack: a message is still written.
        from compliancegate.engine.conditions import describe_unprintable

        text = "<" + describe_unprintable(value) + ">"
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text
