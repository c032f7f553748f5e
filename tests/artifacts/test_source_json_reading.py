"""``Source.json`` reads a file's bytes exactly as before it stopped keeping the decoded text
(the same values and the same refusals: a BOM, invalid UTF-8, NUL bytes, empty files,
repeated keys, non-JSON literals), parses once even a file it refuses, and keeps no decoded
copy of the file."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts import strict_json
from compliancegate.artifacts.source import HEAD_BYTES, Source, parse_json
from compliancegate.errors import ArtifactError


def canonical(value: Any) -> Any:
    """``value`` with every type and float sign visible (``1 == 1.0 == True`` in Python)."""
    if isinstance(value, dict):
        return ("dict", [(k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def reference_source_json(path: Path) -> Any:
    """``Source.json`` as it was: the cached decoded text (BOM dropped, NUL refused), an
    empty file refused, the strict reader."""
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
    return parse_json(text, source)


def outcome(read: Any, path: Path) -> Any:
    try:
        return ("value", canonical(read(path)))
    except ArtifactError as exc:
        return ("error", exc.message, exc.line, exc.hint)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)
_RAW = st.one_of(
    st.binary(max_size=40),
    _JSON.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"\xef\xbb\xbf{}",
            b"\xef\xbb\xbf" + b'{"a": 1, "a": 2}',
            b'{"a": "\xed\xa0\x80"}',
            b'{"a": "\xff"}',
            b'{"a": "\xc0\xaf"}',
            b'{"a": 1}\x00',
            b"\x00{}",
            b"",
            b"   \n",
            b"\xef\xbb\xbf  ",
            b'{"a": "\xc3\xa9", "b": "\\ud800"}',
            b"[1e400]",
            b"[NaN]",
            b"[12345678901234567890]",
            b'{"a": {"b": 1,\n "b": 2}}',
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_RAW)
def test_source_json_reads_bytes_as_before(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(raw)
    fresh = outcome(lambda p: Source(p, "doc.json").json, path)
    assert fresh == outcome(reference_source_json, path)

    # Text asked for first (another reader): the same answer.
    def text_first(p: Path) -> Any:
        source = Source(p, "doc.json")
        with contextlib.suppress(ArtifactError):
            source.text  # noqa: B018
        return source.json

    assert outcome(text_first, path) == fresh


def test_a_refusal_is_parsed_once_however_many_formats_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    calls = []
    real = strict_json.loads
    monkeypatch.setattr(strict_json, "loads", lambda t: calls.append(t) or real(t))
    source = Source(path, "doc.json")
    for _ in range(5):
        with pytest.raises(ArtifactError, match="duplicate key"):
            source.json  # noqa: B018
    assert len(calls) == 1


def test_no_decoded_copy_of_the_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"a": "' + "x" * 100_000 + '"}', encoding="utf-8")
    source = Source(path, "doc.json")
    assert len(source.json["a"]) == 100_000
    assert "text" not in source.__dict__
