"""SPDX 2.3 JSON: packages as ``sbom`` components, on the real corpus files and on hostile
input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from artifact_corpus import (
    by_id,
    claimed,
    document,
    fixture,
    mutated_bytes,
    prefixed_bytes,
    read_hostile,
)
from hypothesis import HealthCheck, given, settings

from compliancegate.artifacts.registry import get_format
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

EXAMPLE = "sbom/spdx-2.3-SPDXJSONExample-v2.3.spdx.json"
CONDA = "sbom/spdx-2.3-trivy-conda.spdx.json"
JULIA = "sbom/spdx-2.3-trivy-julia.spdx.json"


def test_spdx_specification_example() -> None:
    doc = document(EXAMPLE, "spdx")
    assert (doc["format"], doc["spec_version"]) == ("spdx", "2.3")
    # The document describes glibc (its subject, like CycloneDX's metadata.component);
    # the other three packages are the components.
    assert doc["name"] == "glibc"
    components = doc["components"]
    assert [c["name"] for c in components] == ["Apache Commons Lang", "Jena", "Saxon"]
    jena = by_id(components, name="Jena")
    assert (jena["version"], jena["purl"]) == (
        "3.12.0",
        "pkg:maven/org.apache.jena/apache-jena@3.12.0",
    )
    saxon = by_id(components, name="Saxon")
    assert saxon["licenses"] == ["MPL-1.0"]
    assert saxon["hashes"] == {"sha1": "85ed0817af83a24ad8da68c2b5094de69833983c"}
    commons = by_id(components, name="Apache Commons Lang")
    # NOASSERTION is no license; no version, purl or supplier given.
    assert (commons["licenses"], commons["version"], commons["purl"]) == ([], None, None)
    assert all(c["source"] == EXAMPLE for c in components)


def test_trivy_conda_sbom() -> None:
    doc = document(CONDA, "spdx")
    assert doc["name"] == "testdata/fixtures/repo/conda"
    components = doc["components"]
    assert [(c["name"], c["version"]) for c in components] == [
        ("openssl", "1.1.1q"),
        ("pip", "22.2.2"),
    ]
    openssl = by_id(components, name="openssl")
    assert openssl["purl"] == "pkg:conda/openssl@1.1.1q"
    assert (openssl["type"], openssl["licenses"], openssl["supplier"]) == (
        "library",
        ["OpenSSL"],
        None,
    )
    assert by_id(components, name="pip")["licenses"] == ["MIT"]


def test_trivy_julia_sbom_keeps_the_application_and_both_b_packages() -> None:
    components = document(JULIA, "spdx")["components"]
    assert len(components) == 4
    assert by_id(components, name="Manifest.toml")["type"] == "application"
    assert [c["purl"] for c in components if c["name"] == "B"] == [
        "pkg:julia/B@1.9.0?uuid=f41f7b98-334e-11e9-1257-49272045fb24",
        "pkg:julia/B@1.9.0?uuid=edca9bc6-334e-11e9-3554-9595dbb4349c",
    ]


@pytest.mark.parametrize("relative", [EXAMPLE, CONDA, JULIA])
def test_detection(relative: str) -> None:
    assert claimed(fixture(relative)) == ["spdx"]


def _parse(tmp_path: Path, doc: Any) -> dict[str, Any]:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    fmt = get_format("spdx")
    assert fmt is not None
    (artifact,) = fmt.parse(Source(path, "sbom.spdx.json"))
    result: dict[str, Any] = artifact.document
    return result


def test_license_expressions_suppliers_and_checksums(tmp_path: Path) -> None:
    doc = {
        "spdxVersion": "SPDX-2.3",
        "name": "doc",
        "packages": [
            {
                "SPDXID": "SPDXRef-a",
                "name": "a",
                "licenseConcluded": "(MIT OR GPL-3.0-only) AND Apache-2.0 WITH LLVM-exception",
                "licenseDeclared": "MIT",
                "supplier": "Organization: ACME Corp (security@acme.example)",
                "primaryPackagePurpose": "OPERATING_SYSTEM",
                "checksums": [{"algorithm": "SHA256", "checksumValue": "ABCDEF"}],
                "externalRefs": [
                    {
                        "referenceCategory": "SECURITY",
                        "referenceType": "cpe23Type",
                        "referenceLocator": "cpe:x",
                    },
                    {
                        "referenceCategory": "PACKAGE_MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": "pkg:npm/a@1",
                    },
                ],
            }
        ],
    }
    (component,) = _parse(tmp_path, doc)["components"]
    assert component["licenses"] == [
        "(MIT OR GPL-3.0-only) AND Apache-2.0 WITH LLVM-exception",
        "MIT",
        "GPL-3.0-only",
        "Apache-2.0",
    ]
    assert component["supplier"] == "ACME Corp"
    assert component["type"] == "operating-system"
    assert component["hashes"] == {"sha256": "abcdef"}
    assert component["purl"] == "pkg:npm/a@1"


@pytest.mark.parametrize(
    ("supplier", "name"),
    [
        ("Person: Jane Doe (jane.doe@example.com)", "Jane Doe"),
        ("Organization: ACME (Europe) (x@acme.example)", "ACME (Europe)"),
        ("Tool: syft-1.0", "syft-1.0"),
        ("NOASSERTION", None),
        ("Vendor: someone", "Vendor: someone"),
        ("Organization: " + " " * 200_000 + "x (", "x ("),
    ],
)
def test_supplier_names(tmp_path: Path, supplier: str, name: str | None) -> None:
    doc = {"spdxVersion": "SPDX-2.3", "packages": [{"name": "p", "supplier": supplier}]}
    (component,) = _parse(tmp_path, doc)["components"]
    assert component["supplier"] == name


def test_a_document_describing_every_package_keeps_them(tmp_path: Path) -> None:
    doc = {
        "spdxVersion": "SPDX-2.3",
        "name": "all-described",
        "documentDescribes": ["SPDXRef-a", "SPDXRef-b"],
        "packages": [{"SPDXID": "SPDXRef-a", "name": "a"}, {"SPDXID": "SPDXRef-b", "name": "b"}],
    }
    result = _parse(tmp_path, doc)
    assert [c["name"] for c in result["components"]] == ["a", "b"]
    assert result["name"] == "all-described"


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ("SPDX-2.3", "the top level is a string"),
        ({"spdxVersion": "SPDX-2.3", "packages": {}}, "packages is an object"),
        ({"spdxVersion": "SPDX-2.3", "packages": ["a"]}, "packages[0] is a string"),
        (
            {"spdxVersion": "SPDX-2.3", "packages": [{"checksums": "x"}]},
            "packages[0].checksums is a string",
        ),
        (
            {"spdxVersion": "SPDX-2.3", "packages": [{"externalRefs": [1]}]},
            "packages[0].externalRefs[0]",
        ),
        ({"spdxVersion": "SPDX-2.3", "relationships": 3}, "relationships is a number"),
        ({"spdxVersion": "SPDX-2.3", "documentDescribes": "x"}, "documentDescribes is a string"),
    ],
)
def test_structural_errors(tmp_path: Path, doc: Any, where: str) -> None:
    with pytest.raises(ArtifactError) as caught:
        _parse(tmp_path, doc)
    assert caught.value.file == "sbom.spdx.json"
    assert where in str(caught.value)


def test_not_claimed_when_cyclonedx_and_spdx_3_refused(tmp_path: Path) -> None:
    cdx = tmp_path / "odd.json"
    cdx.write_text('{"bomFormat": "CycloneDX", "spdxVersion": "SPDX-2.3"}', encoding="utf-8")
    assert claimed(cdx) == ["cyclonedx"]
    # SPDX 3 (JSON-LD) looks like an SBOM: claimed, so that sbom policies end in error
    # naming it, rather than a raw JSON file that no sbom policy sees.
    for content in (
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "spdxVersion": "SPDX-3.0"}',
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []}',
    ):
        spdx3 = tmp_path / "spdx3.json"
        spdx3.write_text(content, encoding="utf-8")
        assert claimed(spdx3) == ["spdx"]
        with pytest.raises(ArtifactError) as caught:
            _parse(tmp_path, json.loads(content))
        assert "expected SPDX-2.x" in str(caught.value)


_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=mutated_bytes(EXAMPLE))
def test_mutated_example_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("spdx",))


@_SETTINGS
@given(data=mutated_bytes(JULIA))
def test_mutated_trivy_sbom_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("spdx",))


@_SETTINGS
@given(
    data=prefixed_bytes(b'{"spdxVersion": "SPDX-2.3", ', b'{"spdxVersion":"SPDX-2.3","packages":[{')
)
def test_garbage_after_an_spdx_start_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(data)
    read_hostile(path, ("spdx",))
