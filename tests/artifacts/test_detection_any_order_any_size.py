"""Detection is exact for any key order and any size (issue 8, class 1).

Every corpus file under tests/fixtures is written again with its keys sorted (``jq -S``) and
reversed (markers last, as Bandit and cyclonedx-py write them), and padded past every buffer
a reader might stop at (the 8 KiB I/O buffer, the 64 KiB head, the 1 MiB digest chunk): each
variant is claimed by the same formats and gives the same normalized documents. XML files get
their padding as a comment in the prolog, lcov files as blank lines before the first record.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from artifact_corpus import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliancegate.artifacts.registry import formats_for
from compliancegate.artifacts.source import HEAD_BYTES, Source
from compliancegate.errors import ArtifactError
from producer_shapes import bandit_style_sarif, cyclonedx_py_style_bom

PADS = (0, 8 * 1024 + 1, HEAD_BYTES + 1, 1024 * 1024 + 1)
ORDERS = ("sorted", "reversed")

JSON_FILES = sorted(
    p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".sarif", ".jsonl") and p.is_file()
)
XML_FILES = sorted(p for p in FIXTURES.rglob("*.xml"))
LCOV_FILES = sorted([*FIXTURES.rglob("*.info"), *FIXTURES.rglob("*.lcov")])


def _ids(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def reorder(node: Any, order: str | random.Random) -> Any:
    """``node`` with the keys of every object sorted, reversed or shuffled."""
    if isinstance(node, dict):
        keys = list(node)
        if order == "sorted":
            keys.sort()
        elif order == "reversed":
            keys.reverse()
        elif isinstance(order, random.Random):
            order.shuffle(keys)
        return {k: reorder(node[k], order) for k in keys}
    if isinstance(node, list):
        return [reorder(v, order) for v in node]
    return node


def rewrite_json(path: Path, order: str | random.Random, pad: int) -> bytes:
    """The JSON (or JSON Lines) file ``path`` with its keys reordered and ``pad`` spaces
    after the first bracket of each document, so that every key lies past ``pad`` bytes."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        lines = [json.dumps(reorder(d, order)) for d in documents]
        return "\n".join(line[0] + " " * pad + line[1:] for line in lines).encode() + b"\n"
    out = json.dumps(reorder(json.loads(text), order), indent=1)
    return (out[0] + " " * pad + out[1:]).encode()


def rewrite_xml(path: Path, pad: int) -> bytes:
    """The XML file with a comment of ``pad`` bytes after its declaration."""
    data = path.read_bytes()
    comment = b"<!--" + b"x" * pad + b"-->\n"
    if data.lstrip().startswith(b"<?xml"):
        end = data.index(b"?>") + 2
        return data[:end] + b"\n" + comment + data[end:]
    return comment + data


def readings(path: Path, display: str) -> dict[str, Any]:
    """Every claiming format's normalized documents (or its error message)."""
    source = Source(path, display)
    out: dict[str, Any] = {}
    for fmt in formats_for(source):
        try:
            out[fmt.name] = [a.document for a in fmt.parse(source)]
        except ArtifactError as exc:
            out[fmt.name] = f"error: {exc.message}"
    return out


def assert_same_reading(original: Path, variant: bytes, tmp_path: Path) -> None:
    folder = tmp_path / "variant"
    folder.mkdir(exist_ok=True)
    path = folder / original.name  # the same name: a name may be part of detection
    path.write_bytes(variant)
    expected = readings(original, original.name)
    assert expected, f"{original} is not an artifact"
    assert readings(path, original.name) == expected


def test_the_corpus_is_all_here() -> None:
    assert len(JSON_FILES) >= 29
    assert len(XML_FILES) >= 8
    assert len(LCOV_FILES) >= 2


@pytest.mark.parametrize("path", JSON_FILES, ids=_ids)
@pytest.mark.parametrize("order", ORDERS)
def test_json_corpus_in_any_key_order_and_size(path: Path, order: str, tmp_path: Path) -> None:
    for pad in PADS:
        assert_same_reading(path, rewrite_json(path, order, pad), tmp_path)


@pytest.mark.parametrize("path", XML_FILES, ids=_ids)
def test_xml_corpus_with_a_long_prolog(path: Path, tmp_path: Path) -> None:
    for pad in PADS:
        assert_same_reading(path, rewrite_xml(path, pad), tmp_path)


@pytest.mark.parametrize("path", LCOV_FILES, ids=_ids)
def test_lcov_corpus_after_blank_lines(path: Path, tmp_path: Path) -> None:
    for pad in PADS:
        assert_same_reading(path, b"\n" * pad + path.read_bytes(), tmp_path)


SMALL_REPORTS = [
    p
    for p in JSON_FILES
    if p.parent.name in ("sbom", "vulns", "sarif", "provenance") and p.stat().st_size < 40_000
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(min_value=0, max_value=len(SMALL_REPORTS) - 1), rng=st.randoms())
def test_any_key_order(tmp_path: Path, index: int, rng: random.Random) -> None:
    path = SMALL_REPORTS[index]
    assert_same_reading(path, rewrite_json(path, rng, 0), tmp_path)


# ---------------------------------------------------------------- real producers' key order


@pytest.mark.parametrize("results", [1, 200, 2000])
def test_bandit_style_sarif_is_sarif_at_every_size(tmp_path: Path, results: int) -> None:
    path = tmp_path / "bandit.json"  # named .json: the content decides
    path.write_text(json.dumps(bandit_style_sarif(results), indent=2), encoding="utf-8")
    if results == 2000:
        assert path.stat().st_size > 1024 * 1024
        assert path.read_bytes().index(b'"version": "2.1.0"') > 1024 * 1024
    source = Source(path, "bandit.json")
    assert [f.name for f in formats_for(source)] == ["sarif"]
    (artifact,) = formats_for(source)[0].parse(source)
    assert len(artifact.document["findings"]) == results
    assert artifact.document["findings"][0]["level"] == "error"


@pytest.mark.parametrize("components", [1, 300, 5000])
def test_cyclonedx_py_style_bom_is_cyclonedx_at_every_size(tmp_path: Path, components: int) -> None:
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(cyclonedx_py_style_bom(components), indent=2), encoding="utf-8")
    data = path.read_bytes()
    assert data.index(b'"bomFormat"') > data.index(b'"components"')
    if components >= 300:
        assert data.index(b'"bomFormat"') > HEAD_BYTES
    source = Source(path, "sbom.json")
    assert [f.name for f in formats_for(source)] == ["cyclonedx"]
    (artifact,) = formats_for(source)[0].parse(source)
    assert len(artifact.document["components"]) == components


def test_each_file_is_parsed_once_by_detection_and_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Detection reads the parsed document that the parser then reads: one JSON parse."""
    from compliancegate.artifacts import source as source_module
    from compliancegate.artifacts.selection import ArtifactStore
    from compliancegate.model import InputSpec

    path = tmp_path / "bandit.json"
    path.write_text(json.dumps(bandit_style_sarif(300)), encoding="utf-8")
    calls: list[int] = []
    original = source_module.parse_json

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(source_module, "parse_json", counting)
    store = ArtifactStore([tmp_path])
    assert len(store.select(InputSpec(kind="findings")).artifacts) == 1
    assert len(store.select(InputSpec(kind="json")).artifacts) == 1
    assert calls == [1]


# ------------------------------------------------------------ looks like a report, refused


@pytest.mark.parametrize(
    ("name", "document", "claimed_by", "words"),
    [
        ("bom.json", {"bomFormat": "cyclonedx", "components": []}, "cyclonedx", "bomFormat is"),
        ("bom.json", {"specVersion": "1.6", "components": [{"name": "a"}]}, "cyclonedx", "missing"),
        ("app.cdx.json", {"components": [{"name": "a"}]}, "cyclonedx", "bomFormat is missing"),
        ("sbom.json", {"spdxVersion": "SPDX-3.0", "packages": []}, "spdx", "expected SPDX-2.x"),
        ("app.spdx.json", {"packages": []}, "spdx", "spdxVersion is missing"),
        ("trivy.json", {"SchemaVersion": 3, "ArtifactName": "a", "Results": []}, "trivy", "3"),
        ("trivy.json", {"Results": [{"Target": "a", "Vulnerabilities": []}]}, "trivy", "missing"),
        ("scan.json", {"version": "2.2.0", "runs": []}, "sarif", "'2.2.0'"),
        ("prov.json", {"predicateType": "x", "subject": []}, "provenance", "_type"),
    ],
)
def test_a_look_alike_is_claimed_and_refused(
    tmp_path: Path, name: str, document: dict[str, Any], claimed_by: str, words: str
) -> None:
    """What looks like a report of a kind but is not one the gate can read is claimed, so
    that the policies of that kind end in error naming it; never a raw JSON file."""
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    source = Source(path, name)
    claiming = formats_for(source)
    assert claiming[0].name == claimed_by
    with pytest.raises(ArtifactError) as caught:
        claiming[0].parse(source)
    assert caught.value.file == name
    assert words in caught.value.message


@pytest.mark.parametrize(
    "document",
    [
        {"name": "app", "version": "1.0", "dependencies": {"a": "1"}},
        {"runs": 3, "name": "a build log"},
        {"Results": ["a", "b"], "Total": 2},
        {"matches": [{"line": 1}]},
        [{"bomFormat": "CycloneDX"}],
    ],
)
def test_ordinary_json_stays_raw(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert [f.name for f in formats_for(Source(path, "data.json"))] == ["json"]
