"""The fast JSON reader (orjson plus checks) accepts and refuses exactly what the strict one
(the standard library with hooks) does, with the same values: on generated texts with
repeated keys, long and huge numbers, escapes, surrogates, odd whitespace and damage, and
through ``Source.json`` on raw bytes (a BOM, invalid UTF-8, NUL bytes, empty files)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts import strict_json
from compliancegate.artifacts.source import HEAD_BYTES, Source, parse_json
from compliancegate.errors import ArtifactError


def canonical(value: Any) -> Any:
    """``value`` with every type and float sign made visible: ``1 == 1.0 == True`` and
    ``0.0 == -0.0`` in Python, but not to a policy comparing types or printing values."""
    if isinstance(value, dict):
        return ("dict", [(k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    if isinstance(value, float):
        assert math.isfinite(value)
        return ("float", repr(value))
    return (type(value).__name__, value)


def strict_outcome(text: str) -> Any:
    try:
        return ("value", canonical(strict_json.strict_loads(text)))
    except strict_json.Refused as exc:
        return ("refused", exc.message, exc.pos)
    except json.JSONDecodeError as exc:
        return ("invalid", exc.msg, exc.pos)
    except RecursionError:
        return ("deep",)
    except ValueError as exc:
        return ("value error", str(exc))


def assert_same(text: str) -> None:
    expected = strict_outcome(text)
    for document in (text, text.encode("utf-8", "surrogatepass")):
        fast = strict_json.fast_loads(document)
        if fast is not strict_json.UNSURE:
            assert expected == ("value", canonical(fast)), document[:200]
    # What callers use: the fast reader, else the strict one.
    try:
        combined: Any = ("value", canonical(strict_json.loads(text)))
    except strict_json.Refused as exc:
        combined = ("refused", exc.message, exc.pos)
    except json.JSONDecodeError as exc:
        combined = ("invalid", exc.msg, exc.pos)
    except RecursionError:
        combined = ("deep",)
    except ValueError as exc:
        combined = ("value error", str(exc))
    assert combined == expected


_KEYS = st.sampled_from(["a", "b", "Severity", "a:b", "\u00e9", "\ud83d\ude00", "", 'k"q', "x"])
_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(
        [
            2**63 - 1,
            2**63,
            2**64 - 1,
            2**64,
            -(2**63),
            -(2**63) - 1,
            10**18,
            10**19,
            -(10**19),
            9999999999999999999,
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)
_STRINGS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "sha256:2175821082727048853",
            "sha256:2175821082727048853ab",
            "x: 12345678901234567890,",
            "a:b:c",
            "\ud800",
            "\udc00\ud800",
            "\u2028",
            "\x00\x1f",
            "NaN",
            "1e400",
            '"}{"',
        ]
    ),
)
_VALUES = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _STRINGS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(st.tuples(_KEYS | st.text(max_size=3), children), max_size=4)
    ),
    max_leaves=20,
)


def _render(value: Any, draw: Any) -> str:
    """JSON text of ``value`` (lists of pairs are objects, repeated keys kept), written in
    one of the ways producers write it: compact or spaced, escaped or raw non-ASCII, escapes
    for ordinary characters (``\\u003a``, ``\\u0022``), numbers spelled oddly."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(p, tuple) and len(p) == 2 for p in value)
    ):
        pairs = [
            f"{_string(k, draw)}{draw(_SPACE)}:{draw(_SPACE)}{_render(v, draw)}" for k, v in value
        ]
        return "{" + draw(_SPACE) + ("," + draw(_SPACE)).join(pairs) + draw(_SPACE) + "}"
    if isinstance(value, tuple):
        return "{}"
    if isinstance(value, list):
        return "[" + ("," + draw(_SPACE)).join(_render(v, draw) for v in value) + "]"
    if isinstance(value, str):
        return _string(value, draw)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    spelled = draw(st.sampled_from(["repr", "exp", "upper"]))
    if spelled == "exp":
        return f"{value:.17e}"
    if spelled == "upper":
        return repr(value).upper()
    return repr(value)


_SPACE = st.sampled_from(["", " ", "\n  ", "\t", "\r\n"])


def _string(text: str, draw: Any) -> str:
    style = draw(st.sampled_from(["ascii", "raw", "escape-colon", "escape-all"]))
    if style == "raw":
        return json.dumps(text, ensure_ascii=False)
    if style == "escape-colon":
        return json.dumps(text).replace(":", "\\u003a")
    if style == "escape-all":
        return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in text) + '"'
    return json.dumps(text)


@settings(max_examples=600, deadline=None)
@given(value=_VALUES, data=st.data())
@example(value=[("a", 1), ("a", 1)], data=None)
@example(value=[("a", "x:y"), ("a", "z")], data=None)
@example(value=[("a:b", 12345678901234567890)], data=None)
def test_the_fast_reader_agrees_with_the_strict_one(value: Any, data: Any) -> None:
    draw = data.draw if data is not None else (lambda s: s.example())
    if data is None:
        text = _render(value, lambda s: "" if s is _SPACE else "ascii")
    else:
        text = _render(value, draw)
    assert_same(text)
    assert_same("[" + text + "]")
    if data is not None:
        # Damage: cut anywhere, a literal that is not JSON, trailing text, odd whitespace.
        cut = data.draw(st.integers(min_value=0, max_value=len(text)))
        assert_same(text[:cut])
        assert_same("[" + text + ", NaN]")
        assert_same("[" + text + ", 1e400]")
        assert_same(text + " x")
        assert_same("\x0c" + text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a": 1, "\\u0061": 2}',
        '{"a\\u003ab": 1}',
        '{"a": "\\u003a", "a": 2}',
        '{"Severity": "CRITICAL", "Severity": "LOW"}',
        "[18446744073709551616]",
        "[18446744073709551615, -9223372036854775808, -9223372036854775809]",
        '{"n": 12345678901234567890 }',
        '{"n":\n  12345678901234567890\n}',
        '["sha256:12345678901234567890"]',
        '{"h": "sha256:1234567890123456789012345"}',
        "[1234567890123456789012.5, 1e22, 1E-400, -0.0, -0]",
        "[1e400]",
        "[-1e400]",
        "[NaN]",
        "[Infinity]",
        '["\\ud800"]',
        '["\\udc00\\ud800", "\\ud83d\\ude00"]',
        '{"a": [{"b": {"c": [{"d": {"e": 1, "e": 2}}]}}]}',
        "[" * 300 + "]" * 300,
        "[" * 2000 + "]" * 2000,
        '{"a": ' * 300 + "1" + "}" * 300,
        "1",
        '"x"',
        " ",
        "",
        "[] []",
        "[1,]",
        '{"a":1,}',
        "\u00a0[]",
        "[" + ",".join(f'{{"k{i % 700}": {i}}}' for i in range(2000)) + "]",
        "{" + ",".join(f'"k{i}": "v:{i}"' for i in range(3000)) + ', "k7": 0}',
        '{"list": [' + ",".join(f'{{"a": "x:{i}", "b": {i}}}' for i in range(2000)) + "]}",
        '{"list": ['
        + ",".join(f'{{"a": "x:{i}", "b": {i}}}' for i in range(2000))
        + ', {"a": 1, "a": 1}]}',
    ],
)
def test_the_readers_agree_on_edges(text: str) -> None:
    assert_same(text)


def test_a_repeated_key_deep_in_a_long_list_is_refused_by_both() -> None:
    items = [f'{{"id": "v{i}", "score": {i}.5}}' for i in range(5000)]
    items[4321] = '{"id": "v4321", "Severity": "LOW", "Severity": "CRITICAL"}'
    text = '{"Results": [{"Vulnerabilities": [' + ",".join(items) + "]}]}"
    assert strict_json.fast_loads(text) is strict_json.UNSURE
    with pytest.raises(strict_json.Refused, match="duplicate key"):
        strict_json.loads(text)


# ------------------------------------------------------------------ Source.json on raw bytes


def reference_source_json(path: Path) -> Any:
    """``Source.json`` as it was before the fast reader: decode (BOM dropped, NUL refused),
    refuse an empty file, the strict reader."""
    source = Source(path, "doc.json")
    data = source.data
    if b"\x00" in data[:HEAD_BYTES]:
        raise source.error("binary content (NUL bytes), expected text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise source.error(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise source.error("empty file, expected JSON")
    return parse_json(text, source, fast=False)


def source_outcome(read: Any, path: Path) -> Any:
    try:
        return ("value", canonical(read(path)))
    except ArtifactError as exc:
        return ("error", exc.message, exc.line, exc.hint)


_RAW = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"\xef\xbb\xbf{}",
            b"\xef\xbb\xbf" + b'{"a": 1, "a": 2}',
            b'{"a": "\xed\xa0\x80"}',
            b'{"a": "\xff"}',
            b'{"a": "\xc0\xaf"}',
            b'{"a": "\xf4\x90\x80\x80"}',
            b'{"a": "\xe2\x82"}',
            b'{"a": 1}\x00',
            b"\x00{}",
            b"",
            b"   \n",
            b'{"a": "\xc3\xa9", "b": "\xf0\x9f\x98\x80"}',
            b"[1e400]",
            b"[12345678901234567890]",
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_RAW, value=_VALUES, data=st.data())
def test_source_json_reads_bytes_as_before(
    tmp_path: Path, raw: bytes, value: Any, data: Any
) -> None:
    path = tmp_path / "doc.json"
    for content in (raw, _render(value, data.draw).encode("utf-8", "surrogatepass")):
        path.write_bytes(content)
        assert source_outcome(lambda p: Source(p, "doc.json").json, path) == source_outcome(
            reference_source_json, path
        )


def test_a_refusal_is_parsed_once_however_many_formats_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    calls = []
    real = strict_json.strict_loads
    monkeypatch.setattr(strict_json, "strict_loads", lambda t: calls.append(t) or real(t))
    source = Source(path, "doc.json")
    for _ in range(5):
        with pytest.raises(ArtifactError, match="duplicate key"):
            source.json  # noqa: B018
    assert len(calls) == 1


_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(
    "path",
    sorted([*_FIXTURES.rglob("*.json"), *_FIXTURES.rglob("*.sarif")]),
    ids=lambda p: p.relative_to(_FIXTURES).as_posix(),
)
def test_real_reports_take_the_fast_path_with_the_strict_values(path: Path) -> None:
    """Producers' reports (Go's ``\\u003c`` escapes, ``sha256:`` digests full of digits)
    are read by orjson, not sent to the strict reader: the speed is not lost on real files."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    fast = strict_json.fast_loads(data)
    assert fast is not strict_json.UNSURE
    assert canonical(fast) == canonical(strict_json.strict_loads(data.decode("utf-8")))
