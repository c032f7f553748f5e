"""CycloneDX JSON: components as ``sbom`` (``cyclonedx``) and vulnerabilities / VEX as
``vulnerabilities`` (``cyclonedx-vex``), on the real corpus files and on hostile input."""

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
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.artifacts.source import HEAD_BYTES, Source
from compliancegate.cli import run
from compliancegate.errors import ArtifactError
from compliancegate.model import InputSpec

DROPWIZARD = "sbom/cyclonedx-1.2-dropwizard-1.3.15.json"
PROTON = "sbom/cyclonedx-1.2-proton-bridge-v1.8.0.json"
LARAVEL = "sbom/cyclonedx-1.4-laravel-7.12.0.json"
FLUENTD_SBOM = "sbom/cyclonedx-1.6-trivy-fluentd-multiple-lockfiles.cdx.json"
VALID_16 = "sbom/cyclonedx-1.6-valid-bom.json"
VEX_CISA = "vulns/cyclonedx-1.4-vex-cisa-case-2.json"
FLUENTD_VULNS = "vulns/cyclonedx-1.6-trivy-fluentd-vulns.cdx.json"


# --------------------------------------------------------------------------- corpus: sbom


@pytest.mark.parametrize(
    ("relative", "spec", "name", "count"),
    [
        (DROPWIZARD, "1.2", "dropwizard-parent", 167),
        (PROTON, "1.2", "github.com/ProtonMail/proton-bridge", 201),
        (LARAVEL, "1.4", "cyclonedx-php-composer-demo", 62),
        (FLUENTD_SBOM, "1.6", "testdata/fixtures/images/fluentd-multiple-lockfiles.tar.gz", 161),
        (VALID_16, "1.6", "Acme Application", 3),
        (
            FLUENTD_VULNS,
            "1.6",
            "integration/testdata/fixtures/images/fluentd-multiple-lockfiles.tar.gz",
            4,
        ),
    ],
)
def test_corpus_sboms_give_their_components(
    relative: str, spec: str, name: str, count: int
) -> None:
    doc = document(relative, "cyclonedx")
    assert (doc["format"], doc["spec_version"], doc["name"]) == ("cyclonedx", spec, name)
    assert len(doc["components"]) == count
    assert all(c["source"] == relative for c in doc["components"])


def test_dropwizard_component_fields() -> None:
    components = document(DROPWIZARD, "cyclonedx")["components"]
    jackson = by_id(components, name="jackson-annotations", version="2.9.10")
    assert (
        jackson["purl"]
        == "pkg:maven/com.fasterxml.jackson.core/jackson-annotations@2.9.10?type=jar"
    )
    assert jackson["type"] == "library"
    assert jackson["licenses"] == ["Apache-2.0"]
    assert jackson["supplier"] == "FasterXML"  # from publisher: 1.2 has no supplier
    assert jackson["hashes"]["md5"] == "26c2b6f7bc704ccadc64c83995e0ff7f"
    assert {"md5", "sha1", "sha256", "sha512"} <= set(jackson["hashes"])
    assert sum(1 for c in components if c["licenses"] == ["Apache-2.0"]) == 65
    assert all(c["purl"] and c["hashes"] for c in components)


def test_license_expression_is_kept_and_split() -> None:
    components = document(VALID_16, "cyclonedx")["components"]
    mylibrary = by_id(components, name="mylibrary")
    assert mylibrary["licenses"] == [
        "EPL-2.0 OR GPL-2.0-with-classpath-exception",
        "EPL-2.0",
        "GPL-2.0-with-classpath-exception",
    ]
    assert by_id(components, name="myframework")["licenses"] == ["Some random license"]
    tomcat = by_id(components, name="tomcat-catalina")
    assert tomcat["supplier"] == "Acme Inc"
    assert tomcat["hashes"]["sha256"] == (
        "f498a8ff2dd007e29c2074f5e4b01a9a01775c3ff3aeaf6906ea503bc5791b7b"
    )


def test_trivy_sbom_operating_system_and_licenses() -> None:
    components = document(FLUENTD_SBOM, "cyclonedx")["components"]
    assert by_id(components, type="operating-system")["name"] == "debian"
    assert sum(1 for c in components if c["purl"]) == 160
    assert sum(1 for c in components if "GPL-2.0-or-later" in c["licenses"]) >= 10


# --------------------------------------------------------------------------- corpus: vulns


def test_trivy_cyclonedx_vulnerabilities() -> None:
    doc = document(FLUENTD_VULNS, "cyclonedx-vex")
    assert doc["sources"] == [FLUENTD_VULNS]
    items = doc["vulnerabilities"]
    assert [v["id"] for v in items] == ["CVE-2019-18224", "CVE-2019-18276", "CVE-2020-8165"]
    libidn = by_id(items, id="CVE-2019-18224")
    # The highest rating wins: NVD's CVSS v3.1 9.8 critical over Debian's "medium".
    assert libidn["severity"] == "critical"
    assert libidn["cvss"] == 9.8
    assert (libidn["package"], libidn["version"]) == ("libidn2-0", "2.0.5-1")
    assert libidn["fixed_version"] == "2.0.5-1+deb10u1"  # "Upgrade libidn2-0 to version ..."
    assert libidn["source_tool"] == "trivy"
    assert (
        libidn["target"] == "integration/testdata/fixtures/images/fluentd-multiple-lockfiles.tar.gz"
    )
    assert libidn["title"].startswith("idn2_to_ascii_4i in lib/lookup.c")
    assert (libidn["state"], libidn["known_exploited"], libidn["source"]) == (
        None,
        None,
        FLUENTD_VULNS,
    )
    bash = by_id(items, id="CVE-2019-18276")
    assert (bash["severity"], bash["fixed_version"], bash["cvss"]) == ("high", None, 7.8)
    rails = by_id(items, id="CVE-2020-8165")
    # Trivy lists one fixed version per release line; the first is kept.
    assert (rails["package"], rails["version"], rails["fixed_version"]) == (
        "activesupport",
        "6.0.2.1",
        "6.0.3.1",
    )


def test_vex_statements_about_the_product() -> None:
    items = document(VEX_CISA, "cyclonedx-vex")["vulnerabilities"]
    assert len(items) == 19
    first = by_id(items, id="CVE-2020-11896")
    # affects[].ref names metadata.component, the product the statement is about.
    assert (first["package"], first["version"]) == ("ABC", "4.2")
    assert first["state"] == "not_affected"
    assert (first["severity"], first["cvss"]) == ("none", 0.0)
    assert {v["state"] for v in items} == {"not_affected"}
    assert {v["source_tool"] for v in items} == {"cyclonedx"}


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (DROPWIZARD, ["cyclonedx"]),
        (PROTON, ["cyclonedx"]),
        (LARAVEL, ["cyclonedx"]),
        # Trivy writes "vulnerabilities": [] past the first 64 KiB of an SBOM it did not
        # scan: not a vulnerability report.
        (FLUENTD_SBOM, ["cyclonedx"]),
        (VALID_16, ["cyclonedx"]),
        (VEX_CISA, ["cyclonedx-vex"]),
        (FLUENTD_VULNS, ["cyclonedx", "cyclonedx-vex"]),
    ],
)
def test_detection(relative: str, expected: list[str]) -> None:
    assert claimed(fixture(relative)) == expected


def test_vulnerabilities_past_the_head_are_found(tmp_path: Path) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {"type": "library", "name": f"pkg-{i}", "version": "1.0", "bom-ref": f"ref-{i}"}
            for i in range(2000)
        ],
        "vulnerabilities": [{"id": "CVE-2024-1", "affects": [{"ref": "ref-1999"}]}],
    }
    path = tmp_path / "big.cdx.json"
    path.write_text(json.dumps(bom), encoding="utf-8")
    assert path.stat().st_size > HEAD_BYTES
    assert claimed(path) == ["cyclonedx", "cyclonedx-vex"]
    fmt = get_format("cyclonedx-vex")
    assert fmt is not None
    (artifact,) = fmt.parse(Source(path, "big.cdx.json"))
    (item,) = artifact.document["vulnerabilities"]
    assert (item["package"], item["version"]) == ("pkg-1999", "1.0")


def test_one_file_serves_sbom_and_vulnerability_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    release = tmp_path / "release"
    release.mkdir()
    (release / "bom.json").write_bytes(fixture(FLUENTD_VULNS).read_bytes())
    store = ArtifactStore([Path("release")])
    (sbom,) = store.select(InputSpec(kind="sbom")).artifacts
    (vulns,) = store.select(InputSpec(kind="vulnerabilities")).artifacts
    assert (sbom.format, len(sbom.document["components"])) == ("cyclonedx", 4)
    assert (vulns.format, len(vulns.document["vulnerabilities"])) == ("cyclonedx-vex", 3)
    (by_name,) = store.select(InputSpec(kind="cyclonedx-vex")).artifacts
    assert by_name.document == vulns.document
    (by_glob,) = store.select(InputSpec(glob="release/*.json")).artifacts
    assert by_glob.format == "cyclonedx"  # a glob reads the detected (first) format
    assert store.parses == 2


def test_parse_command_picks_the_format_of_the_kind(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fixture(FLUENTD_VULNS))
    assert run(["parse", path, "--kind", "vulnerabilities"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["vulnerabilities"]) == 3
    assert run(["parse", path]) == 0
    assert len(json.loads(capsys.readouterr().out)["components"]) == 4
    assert run(["parse", str(fixture(DROPWIZARD)), "--kind", "vulnerabilities"]) == 2


# --------------------------------------------------------------------------- shapes


def _parse(tmp_path: Path, bom: Any, fmt: str = "cyclonedx") -> dict[str, Any]:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(bom), encoding="utf-8")
    format_ = get_format(fmt)
    assert format_ is not None
    (artifact,) = format_.parse(Source(path, "bom.json"))
    result: dict[str, Any] = artifact.document
    return result


def test_nested_components_are_flattened_in_document_order(tmp_path: Path) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "components": [
            {"name": "a", "components": [{"name": "a1", "components": [{"name": "a1x"}]}]},
            {"name": "b", "components": [{"name": "b1"}, {"name": "b2"}]},
        ],
    }
    names = [c["name"] for c in _parse(tmp_path, bom)["components"]]
    assert names == ["a", "a1", "a1x", "b", "b1", "b2"]


def test_vulnerability_without_affects_and_unresolved_refs(tmp_path: Path) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "metadata": {"tools": [{"vendor": "anchore", "name": "grype"}]},
        "vulnerabilities": [
            {"id": "CVE-1", "ratings": [{"score": 7.2, "method": "CVSSv31"}]},
            {
                "id": "CVE-2",
                "ratings": [{"severity": "medium", "score": 9.9, "method": "OWASP"}],
                "affects": [{"ref": "pkg:npm/%40scope/left-pad@1.3.0?x=1"}, {"ref": "urn:x"}],
                "analysis": {"state": "exploitable"},
            },
        ],
    }
    items = _parse(tmp_path, bom, "cyclonedx-vex")["vulnerabilities"]
    assert [(v["id"], v["package"], v["version"]) for v in items] == [
        ("CVE-1", None, None),
        ("CVE-2", "left-pad", "1.3.0"),
        ("CVE-2", None, None),
    ]
    assert (items[0]["severity"], items[0]["cvss"], items[0]["source_tool"]) == (
        "high",
        7.2,
        "grype",
    )
    # An OWASP risk score is not a CVSS score; the word "medium" is the severity.
    assert (items[1]["severity"], items[1]["cvss"], items[1]["state"]) == (
        "moderate",
        None,
        "exploitable",
    )


@pytest.mark.parametrize(
    ("bom", "where"),
    [
        ([], "the top level is a list"),
        ({"bomFormat": "CycloneDX", "components": "none"}, "components is a string"),
        ({"bomFormat": "CycloneDX", "components": [1]}, "components[0] is a number"),
        ({"bomFormat": "CycloneDX", "components": [{"licenses": {}}]}, "components[0].licenses"),
        (
            {"bomFormat": "CycloneDX", "components": [{"components": [{"hashes": [3]}]}]},
            "components[0].components[0].hashes[0] is a number",
        ),
        ({"bomFormat": "CycloneDX", "metadata": []}, "metadata is a list"),
    ],
)
def test_structural_errors_name_the_file_and_json_path(
    tmp_path: Path, bom: Any, where: str
) -> None:
    with pytest.raises(ArtifactError) as caught:
        _parse(tmp_path, bom)
    assert caught.value.file == "bom.json"
    assert where in str(caught.value)


@pytest.mark.parametrize(
    ("vulns", "where"),
    [
        ("x", "vulnerabilities is a string"),
        ([{"ratings": 5}], "vulnerabilities[0].ratings is a number"),
        ([{"affects": [None]}], "vulnerabilities[0].affects[0] is null"),
        ([{"analysis": "resolved"}], "vulnerabilities[0].analysis is a string"),
    ],
)
def test_vex_structural_errors(tmp_path: Path, vulns: Any, where: str) -> None:
    with pytest.raises(ArtifactError, match=r"bom\.json.*" + where.replace("[", r"\[")):
        _parse(tmp_path, {"bomFormat": "CycloneDX", "vulnerabilities": vulns}, "cyclonedx-vex")


def test_wrong_scalar_types_read_as_missing(tmp_path: Path) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": 1.5,
        "components": [{"name": ["x"], "version": 2, "purl": 7, "supplier": "ACME"}],
        "vulnerabilities": [{"id": 5, "ratings": [{"severity": 9, "score": "high"}]}],
    }
    doc = _parse(tmp_path, bom)
    assert doc["spec_version"] == "1.5"
    (component,) = doc["components"]
    assert (component["name"], component["version"], component["purl"]) == (None, "2", None)
    assert component["supplier"] is None
    (vuln,) = _parse(tmp_path, bom, "cyclonedx-vex")["vulnerabilities"]
    assert (vuln["id"], vuln["severity"], vuln["cvss"]) == (None, "unknown", None)


# --------------------------------------------------------------------------- fuzz

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(data=mutated_bytes(FLUENTD_VULNS))
def test_mutated_trivy_bom_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("cyclonedx", "cyclonedx-vex"))


@_SETTINGS
@given(data=mutated_bytes(VALID_16))
def test_mutated_full_bom_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("cyclonedx", "cyclonedx-vex"))


@_SETTINGS
@given(data=mutated_bytes(VEX_CISA))
def test_mutated_vex_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(data)
    read_hostile(path, ("cyclonedx", "cyclonedx-vex"))


@_SETTINGS
@given(
    data=prefixed_bytes(
        b'{"bomFormat": "CycloneDX", ',
        b'{"bomFormat":"CycloneDX","vulnerabilities":[{',
        b'{"bomFormat": "CycloneDX", "components": [{"name": ',
    )
)
def test_garbage_after_a_cyclonedx_start_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(data)
    read_hostile(path, ("cyclonedx", "cyclonedx-vex"))


def test_a_free_text_license_name_is_one_license_not_an_expression() -> None:
    from pathlib import Path

    from compliancegate.artifacts.cyclonedx import _licenses
    from compliancegate.artifacts.jsonread import Reader
    from compliancegate.artifacts.source import Source

    name = "GNU General Public License, version 2 with the Classpath exception"
    choices = [{"license": {"name": name}}, {"expression": "MIT OR GPL-3.0-only"}]
    reader = Reader(Source(Path("bom.json"), "bom.json"), "CycloneDX BOM")
    assert _licenses(reader, choices, "components[0].licenses") == [
        name,
        "MIT OR GPL-3.0-only",
        "MIT",
        "GPL-3.0-only",
    ]
