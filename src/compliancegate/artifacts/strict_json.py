"""JSON as a gate must read it: a key repeated in one object, and the ``NaN``, ``Infinity``
and ``-Infinity`` literals (not JSON, which Python's parser accepts) are refused.

Python keeps the last of two equal keys, so ``{"Severity": "CRITICAL", "Severity": "LOW"}``
reads as low while another tool reads it as critical; a NaN compares false with everything,
so ``not: {op: gte}`` passes. YAML's duplicate keys are refused the same way
(``loading/safe_yaml.py``).

Two readers give exactly the same values and refusals (``tests/artifacts/test_strict_json_
differential.py`` proves it on generated texts):

- the fast one (``fast_loads``): orjson, which already refuses ``NaN``, ``Infinity`` and a
  number that overflows to infinity, plus three checks at C speed that tell when orjson's
  tree may differ from what the strict reader would give. A repeated key: orjson keeps the
  last value silently, so the colons of the text (one per key-value pair, plus those inside
  strings) are counted against those of the tree re-serialized (one per pair kept, plus the
  same strings'); a pair lost to a repeated key makes them differ. An escaped colon
  (``\u003a``) would be counted in the tree and not in the text, and an integer of 19 or
  more digits may be beyond orjson's 64 bits (read as a float): texts holding either are
  left to the strict reader. Whatever orjson refuses (lone surrogates, which Python reads,
  and every malformed text) also goes to the strict reader, which gives the error;
- the strict one (``strict_loads``): the standard library's C parser with two hooks,
  ``dict(pairs)`` and a length comparison per object, and a call per non-JSON literal.
  Only when a document is refused is it read again, by the pure-Python scanner, to find the
  line of the offending object.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
import re
from typing import Any

import orjson

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


UNSURE: Any = object()
"""What ``fast_loads`` returns when the strict reader must decide."""

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_CHUNK = 4 * 1024 * 1024
_INTEGER_ENDS = frozenset(b",}] \t\r\n")
_BEFORE_NUMBER = frozenset(b":,[")
_WHITESPACE = frozenset(b" \t\r\n")
_DIGIT_BYTES = frozenset(b"0123456789")
_CONTAINER = re.compile(rb"[ \t\r\n]*[\[{]")
_SLICE = 512
"""Items of a long list re-serialized at once when counting colons: a bounded buffer."""


def fast_loads(document: bytes | str) -> Any:
    """``document`` (UTF-8 bytes without a BOM, or text) parsed by orjson when that gives
    exactly what ``strict_loads`` would; ``UNSURE`` when only the strict reader can say (a
    repeated key, an escaped colon, a long integer, any text orjson refuses)."""
    # Text (a JSON Lines line, an envelope's payload: small) is looked at as its UTF-8.
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if _CONTAINER.match(data) is None:
        return UNSURE  # a bare scalar: rare, and its digits are not behind a comma
    if _escaped_colon(data) or _long_integer(data):
        return UNSURE
    try:
        value = orjson.loads(document)
        pairs = _colons(value, 4)
    except (ValueError, TypeError, RecursionError):  # orjson's decode and encode errors
        return UNSURE
    return value if pairs == data.count(b":") else UNSURE


def _escaped_colon(data: bytes) -> bool:
    """Whether ``data`` may hold ``\\u003a`` (a colon the text does not show as one). Go's
    encoder writes ``<``, ``>`` as ``\\u003c``, ``\\u003e`` (Trivy: ``UID \\u003c= 10000``):
    those are passed over."""
    found = data.find(b"\\u003")
    while found != -1:
        if data[found + 5 : found + 6] in (b"a", b"A"):
            return True
        found = data.find(b"\\u003", found + 5)
    return False


def _long_integer(data: bytes) -> bool:
    """Whether ``data`` may hold an integer literal of 19 or more digits (orjson reads one
    beyond 64 bits as a float). A regular expression would look at every byte in Python's
    engine (0.7 s for 40 MB); instead the digits are mapped to one (a C pass, a chunk at a
    time) and runs of 19 are found by substring search, each then looked at: an integer
    follows a colon, a comma or a bracket (whitespace between) and ends at a comma, a
    closing bracket or whitespace. Digits in a string (a hash: ``"sha256:2175...ef"``)
    only match between such punctuation, and then only send the text to the strict reader."""
    for start in range(0, len(data), _CHUNK):
        piece = data[start : start + _CHUNK + len(_LONG_RUN)].translate(_DIGITS_AS_ZERO)
        found = piece.find(_LONG_RUN)
        while found != -1:
            end = _integer_end(data, start + found)
            if end >= 0:
                return True
            found = piece.find(_LONG_RUN, -end - start)
    return False


def _integer_end(data: bytes, at: int) -> int:
    """Where the integer literal whose digits run through ``at`` ends, or, when the run is
    not one (not after ``:,[`` or not ending at ``,}]`` or whitespace), minus where the run
    ends."""
    first = at
    while first > 0 and data[first - 1] in _DIGIT_BYTES:
        first -= 1
    end = at
    while end < len(data) and data[end] in _DIGIT_BYTES:
        end += 1
    before = first - 1
    if before >= 0 and data[before] == 0x2D:  # a minus sign
        before -= 1
    while before >= 0 and data[before] in _WHITESPACE:
        before -= 1
    after_punctuation = before >= 0 and data[before] in _BEFORE_NUMBER
    if after_punctuation and end < len(data) and data[end] in _INTEGER_ENDS:
        return end
    return -end


def _colons(node: Any, depth: int) -> int:
    """The colons of ``node`` serialized: one per key-value pair, plus those in its strings.
    The top ``depth`` levels are walked here, so that what is serialized at once is one item
    or a slice of a long list, never a copy of the whole document."""
    kind = type(node)
    if kind is str:
        return node.count(":")  # type: ignore[no-any-return]
    if kind is list:
        if depth and len(node) <= 64:
            return sum(_colons(item, depth - 1) for item in node)
        return sum(
            orjson.dumps(node[i : i + _SLICE]).count(b":") for i in range(0, len(node), _SLICE)
        )
    if kind is dict:
        if depth:
            count = len(node)
            for key, item in node.items():
                count += key.count(":") + _colons(item, depth - 1)
            return count
        return orjson.dumps(node).count(b":")
    return 0  # a number, a boolean or null


def loads(text: str) -> Any:
    """Parse ``text`` as JSON: the fast reader when it is sure, else the strict one."""
    value = fast_loads(text)
    return strict_loads(text) if value is UNSURE else value


def strict_loads(text: str) -> Any:
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
