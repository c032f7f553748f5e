"""Helpers for the SBOM, scanner and SARIF parser tests: the real corpus files under
``tests/fixtures/{sbom,vulns,sarif}``, parsing one as a named format, and the hostile-input
checks every parser must pass (arbitrary bytes, structurally mutated real files)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from compliancegate.artifacts.registry import formats_for, get_format
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

JSON_FORMATS = (
    "cyclonedx",
    "cyclonedx-vex",
    "spdx",
    "trivy",
    "trivy-misconfig",
    "grype",
    "sarif",
    "sarif-vulnerabilities",
)
"""Every normalized JSON format of the SBOM, scanner and SARIF parsers."""

HANG_SECONDS = 5.0
"""A parse of a small hostile file taking longer than this counts as a hang."""


def fixture(relative: str) -> Path:
    """A corpus file under ``tests/fixtures``."""
    return FIXTURES / relative


def claimed(path: Path) -> list[str]:
    """The names of every format claiming ``path``, in detection order."""
    return [f.name for f in formats_for(Source(path, path.name))]


def document(relative: str, format_name: str) -> dict[str, Any]:
    """The normalized document of the corpus file ``relative`` read as ``format_name``."""
    fmt = get_format(format_name)
    assert fmt is not None, format_name
    artifacts = fmt.parse(Source(fixture(relative), relative))
    assert len(artifacts) == 1
    (artifact,) = artifacts
    assert (artifact.path, artifact.format, artifact.kind) == (relative, fmt.name, fmt.kind)
    result: dict[str, Any] = artifact.document
    json.dumps(result)  # what `compliancegate parse` prints must be plain JSON
    return result


def by_id(items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The one item whose fields equal ``fields``."""
    found = [i for i in items if all(i.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, (fields, len(found))
    return found[0]


def read_hostile(path: Path, format_names: tuple[str, ...] = JSON_FORMATS) -> None:
    """Detect ``path`` and parse it as each of ``format_names``: each gives a JSON-encodable
    normalized document or an ``ArtifactError`` naming the file, never another exception,
    and quickly."""
    name = path.name
    started = time.monotonic()
    formats_for(Source(path, name))  # sniffing never raises
    for format_name in format_names:
        fmt = get_format(format_name)
        assert fmt is not None
        try:
            artifacts = fmt.parse(Source(path, name))
        except ArtifactError as exc:
            assert exc.file == name
            assert str(exc).startswith(name)
            continue
        for artifact in artifacts:
            assert artifact.kind == fmt.kind and artifact.path == name
            json.dumps(artifact.document)
    assert time.monotonic() - started < HANG_SECONDS


# --------------------------------------------------------------------------- mutations

_REPLACEMENTS: tuple[Any, ...] = (
    None,
    "",
    "x",
    0,
    -1,
    1.5,
    1e308,
    True,
    [],
    {},
    ["x"],
    {"x": 1},
    [[[[[]]]]],
    "9.8",
    "CRITICAL",
)


def _paths(node: Any, prefix: tuple[Any, ...] = (), limit: int = 5000) -> list[tuple[Any, ...]]:
    """Paths to the nodes of a JSON document, breadth first, at most ``limit``."""
    out: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Any]] = [(prefix, node)]
    while queue and len(out) < limit:
        path, value = queue.pop(0)
        out.append(path)
        if isinstance(value, dict):
            queue.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            queue.extend(((*path, i), v) for i, v in enumerate(value))
    return out


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """``original`` with one to four structural mutations at random places: a key or item
    deleted, a value replaced by one of another type, an object turned into a list of its
    values or a list into an object."""
    root = copy.deepcopy(original)
    paths = _paths(root)
    for _ in range(draw(st.integers(1, 4))):
        path = paths[draw(st.integers(0, len(paths) - 1))]
        if not path:
            root = copy.deepcopy(draw(st.sampled_from(_REPLACEMENTS)))
            continue
        parent = _parent(root, path)
        key = path[-1]
        # An earlier mutation may have replaced or shortened what the path goes through.
        in_dict = isinstance(parent, dict) and key in parent
        in_list = isinstance(parent, list) and isinstance(key, int) and key < len(parent)
        if not (in_dict or in_list):
            continue
        current = parent[key]
        action = draw(st.sampled_from(("delete", "replace", "retype")))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = copy.deepcopy(draw(st.sampled_from(_REPLACEMENTS)))
        elif isinstance(current, dict):
            parent[key] = list(current.values())
        elif isinstance(current, list):
            parent[key] = {str(i): v for i, v in enumerate(current)}
        else:
            parent[key] = [current]
    return root


def mutated_bytes(relative: str) -> st.SearchStrategy[bytes]:
    """A corpus file, structurally mutated, serialized, and sometimes cut short."""
    original = json.loads(fixture(relative).read_text(encoding="utf-8"))

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = json.dumps(draw(mutated(original))).encode()
        if draw(st.booleans()):
            return data
        return data[: draw(st.integers(0, len(data)))]

    return build()


def prefixed_bytes(*heads: bytes) -> st.SearchStrategy[bytes]:
    """A format's identifying start followed by arbitrary bytes, so that detection claims
    the file and the parser sees garbage."""
    return st.builds(
        lambda head, tail: head + tail, st.sampled_from(heads), st.binary(max_size=300)
    )
