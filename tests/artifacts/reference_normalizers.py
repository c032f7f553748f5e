"""The normalizers as they were before they were made fast (issue 10), kept word for word
as the reference that the fast ones are proved against
(``test_normalizer_differential.py``): same items, same values, same key order, same errors.
"""

from __future__ import annotations

from typing import Any

from compliancegate.artifacts import cyclonedx, trivy
from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact


def _trivy_cvss(reader: jr.Reader, value: Any, path: str) -> float | None:
    by_source = reader.obj(value, path)
    scores: list[tuple[float | None, bool]] = []
    for name, entry in by_source.items():
        scores_of = reader.obj(entry, f"{path}.{name}")
        scores.append((jr.number(scores_of.get("V3Score")), False))
        scores.append((jr.number(scores_of.get("V40Score")), False))
        scores.append((jr.number(scores_of.get("V2Score")), True))
    return jr.best_cvss(scores)


def trivy_parse(source: Source) -> list[Artifact]:
    """``Trivy.parse`` before issue 10."""
    reader = jr.Reader(source, trivy.WHAT)
    items: list[dict[str, Any]] = []
    for path, result in trivy.results(reader):
        target = jr.text(result.get("Target"))
        for vuln_path, vuln in reader.items(
            result.get("Vulnerabilities"), f"{path}.Vulnerabilities"
        ):
            items.append(
                jr.vulnerability(
                    id=jr.text(vuln.get("VulnerabilityID")),
                    severity=sev.from_word(vuln.get("Severity")),
                    package=jr.text(vuln.get("PkgName")),
                    version=jr.version_text(vuln.get("InstalledVersion")),
                    fixed_version=jr.first_version(vuln.get("FixedVersion")),
                    title=jr.title(vuln.get("Title"), vuln.get("Description")),
                    source_tool="trivy",
                    target=target,
                    cvss=_trivy_cvss(reader, vuln.get("CVSS"), f"{vuln_path}.CVSS"),
                    state=None,
                    known_exploited=None,
                    source=source.display,
                )
            )
    normalized = {"vulnerabilities": items, "sources": [source.display]}
    return [Artifact(source.display, "trivy", "vulnerabilities", "json", normalized)]


def cyclonedx_parse(source: Source) -> list[Artifact]:
    """``CycloneDx.parse`` before issue 10."""
    reader = jr.Reader(source, cyclonedx.WHAT)
    document = cyclonedx.bom_root(reader)
    _, subject = cyclonedx.metadata_of(reader, document)
    items = []
    for path, item in cyclonedx.components(reader, document):
        items.append(
            jr.component(
                name=jr.text(item.get("name")),
                version=jr.version_text(item.get("version")),
                purl=jr.text(item.get("purl")),
                type=jr.text(item.get("type")),
                licenses=cyclonedx._licenses(reader, item.get("licenses"), f"{path}.licenses"),
                supplier=cyclonedx._supplier(item.get("supplier"), item.get("publisher")),
                hashes=cyclonedx._hashes(reader, item.get("hashes"), f"{path}.hashes"),
                source=source.display,
            )
        )
    normalized = {
        "format": "cyclonedx",
        "spec_version": jr.version_text(document.get("specVersion")),
        "name": jr.text(subject.get("name")),
        "components": items,
    }
    return [Artifact(source.display, "cyclonedx", "sbom", "json", normalized)]
