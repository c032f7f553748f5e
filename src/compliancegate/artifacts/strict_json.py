"""JSON as a gate must read it: a key repeated in one object, and the ``NaN``, ``Infinity``
and ``-Infinity`` literals (not JSON, which Python's parser accepts) are refused.

Python keeps the last of two equal keys, so ``{"Severity": "CRITICAL", "Severity": "LOW"}``
reads as low while another tool reads it as critical; a NaN compares false with everything,
so ``not: {op: gte}`` passes. YAML's duplicate keys are refused the same way
(``loading/safe_yaml.py``).

The fast path is the C parser with two hooks: ``dict(pairs)`` and a length comparison per
object, and a call per non-JSON literal. Only when a document is refused is it read again,
by the pure-Python scanner, to find the line of the offending object.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
import re
from typing import Any

_NON_JSON_LITERAL = re.compile(
    r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)|(-?\d+(?:\.\d+)?[eE.][-+\d]*\d)', re.DOTALL
)
_KEY_SHOWN = 60


class Refused(ValueError):
    """A document that parses but is not JSON a gate accepts; ``pos`` is the character
    offset of the offending object or literal, when known."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _DuplicateKey(Refused):
    pass


def _shown(key: str) -> str:
    # A hostile key may be long or hold control characters: shown escaped and cut.
    text = json.dumps(key)
    return text if len(text) <= _KEY_SHOWN else text[: _KEY_SHOWN - 4] + '..."'


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(
                    f"duplicate key {_shown(key)} in one object (a second value would hide "
                    "the first)"
                )
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise Refused(f"{name} is not a JSON value (JSON numbers are finite)")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e400: a literal too large for a float reads as infinity
        raise Refused(f"the number {literal[:40]} is too large to compare")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_finite)


def loads(text: str) -> Any:
    """Parse ``text`` as JSON; raises ``json.JSONDecodeError``, ``RecursionError``,
    ``ValueError`` (an integer too long to convert) as ``json.loads`` does, and ``Refused``
    for duplicate keys and non-JSON literals."""
    try:
        return _DECODER.decode(text)
    except _DuplicateKey as exc:
        exc.pos = _duplicate_position(text)
        raise
    except Refused as exc:
        exc.pos = _literal_position(text)
        raise


def _literal_position(text: str) -> int | None:
    for match in _NON_JSON_LITERAL.finditer(text):
        if match.group(1):
            return match.start(1)
        if match.group(2) and math.isinf(float(match.group(2))):
            return match.start(2)
    return None


def _duplicate_position(text: str) -> int | None:
    """The offset of the innermost object holding a duplicate key, found by the
    pure-Python scanner, whose object parser is told where each object starts."""

    def located(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        try:
            # The stdlib's pure-Python object parser; typeshed does not declare it.
            return json.decoder.JSONObject(s_and_end, *args, **kwargs)  # type: ignore[attr-defined]
        except _DuplicateKey as exc:
            if exc.pos is None:
                exc.pos = s_and_end[1] - 1  # the opening brace
            raise

    decoder = json.JSONDecoder(
        object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_finite
    )
    # Hooks the pure-Python scanner reads from its decoder (json/scanner.py); undeclared in
    # typeshed, stable since Python 2.6.
    decoder.parse_object = located  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        decoder.decode(text)
    except _DuplicateKey as exc:
        return exc.pos
    except (RecursionError, ValueError):  # deeper than the pure-Python scanner goes
        return None
    return None


def line_of(text: str, pos: int) -> int:
    """The 1-based line of offset ``pos``."""
    return text.count("\n", 0, pos) + 1
