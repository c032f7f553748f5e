"""Property tests: whatever bytes an artifact holds, reading it gives artifacts or an
``ArtifactError`` naming the file, never another exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.registry import detect, get_format
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

SUFFIXES = ("json", "yaml", "toml", "xml")

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _documents() -> st.SearchStrategy[bytes]:
    """Valid-looking documents of every syntax, cut and spliced at random places."""
    json_text = JSON_VALUES.map(lambda v: json.dumps(v).encode())
    yaml_text = st.sampled_from(
        [
            b"a: 1\n---\nb: [x, y]\n",
            b"a: &x [1, 2]\nb: *x\n",
            b"k: !!binary aGVsbG8=\n",
            b"? complex\n: value\n",
            b"- a\n- - b\n  - c\n",
            b"%YAML 1.2\n---\na: 1\n...\n",
        ]
    )
    toml_text = st.sampled_from(
        [
            b'[a]\nb = 1\nc = "x"\n[[d]]\ne = 1979-05-27T07:32:00Z\n',
            b"x = [1, [2, [3]]]\ny = {z = true}\n",
        ]
    )
    xml_text = st.sampled_from(
        [
            b'<?xml version="1.0"?><r a="1"><i>1</i><i>2</i></r>',
            b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>',
            b"<r xmlns='urn:x'><![CDATA[<i>]]></r>",
        ]
    )
    whole = json_text | yaml_text | toml_text | xml_text

    @st.composite
    def mutated(draw: Any) -> bytes:
        data = draw(whole)
        cut = draw(st.integers(0, len(data)))
        tail = draw(st.binary(max_size=16))
        return data[:cut] + tail

    return st.binary(max_size=512) | whole | mutated()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _read_all(path: Path) -> None:
    """Parse ``path`` with its syntax's raw format and detection; only ArtifactError may
    come out, and a document must be JSON-encodable (as ``parse`` prints it)."""
    source = Source(path, path.name)
    fmt = get_format(path.suffix[1:])
    assert fmt is not None
    try:
        artifacts = fmt.parse(source)
    except ArtifactError as exc:
        assert exc.file == path.name
        assert str(exc).startswith(path.name)
        return
    for artifact in artifacts:
        assert artifact.path == path.name
        json.dumps(artifact.document, default=str)
    detected = detect(Source(path, path.name))
    assert detected is not None and detected.syntax == fmt.syntax


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(SUFFIXES), _documents())
@example("json", b"[" * 5000)
@example("yaml", b"[" * 5000)
@example("yaml", b"- " * 5000)
@example("toml", b"a = " + b"[" * 5000)
@example("xml", b"<a>" * 5000)
@example("json", b"\xef\xbb\xbf")
@example("yaml", b"\x00")
@example("xml", b"")
@example("toml", b"\xff")
def test_arbitrary_bytes_give_artifacts_or_artifact_error(
    fuzz_dir: Path, suffix: str, content: bytes
) -> None:
    path = fuzz_dir / f"artifact.{suffix}"
    path.write_bytes(content)
    _read_all(path)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SUFFIXES), st.binary(max_size=256))
def test_store_never_raises_other_errors(fuzz_dir: Path, suffix: str, content: bytes) -> None:
    folder = fuzz_dir / f"store-{suffix}"
    folder.mkdir(exist_ok=True)
    path = folder / f"a.{suffix}"
    path.write_bytes(content)
    store = ArtifactStore([folder])
    [entry] = store.files
    fmt = store.format_of(entry)
    assert fmt is not None and fmt.syntax == suffix
    first: Any
    try:
        first = store.artifacts(entry, fmt)
    except ArtifactError as exc:
        first = exc
    # Cached: the second call gives the same outcome without parsing again.
    try:
        second: Any = store.artifacts(entry, fmt)
    except ArtifactError as exc:
        second = exc
    assert second is first or second == first
    assert store.parses == 1
