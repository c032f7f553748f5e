"""Trivy JSON reports (``--format json``, ``SchemaVersion`` 2): the vulnerabilities of every
result, as ``vulnerabilities``.

Each ``Results[]`` entry is one scanned target (an image's OS packages, a lock file); each of
its ``Vulnerabilities`` is one item with ``target`` the result's ``Target``. Severity is
Trivy's ``Severity`` word; ``cvss`` the highest v3 (or v4) score of any source in ``CVSS``
(v2 only when there is nothing newer); ``fixed_version`` the first of ``FixedVersion``
(Trivy lists one per release line: ``"6.0.3.1, 5.2.4.3"``).

A report with only misconfiguration or secret results says nothing about vulnerabilities:
it is not claimed here (it would pass "no critical vulnerability" without having looked),
and its misconfigurations are the ``trivy-misconfig`` format (kind ``findings``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_SCHEMA = re.compile(rb'"SchemaVersion"\s*:')
_TRIVY_KEYS = re.compile(rb'"(?:ArtifactName|ArtifactType|Results)"\s*:')
_CLASS = re.compile(rb'"Class"\s*:')
_VULNERABILITY_BYTES = re.compile(rb'"Vulnerabilities"\s*:|"Class"\s*:\s*"(?:os-pkgs|lang-pkgs)"')
_MISCONFIG_BYTES = re.compile(rb'"Misconfigurations"\s*:|"Class"\s*:\s*"config"')
_PACKAGE_CLASSES = ("os-pkgs", "lang-pkgs")
_REPORT_KEYS = {"ArtifactName", "ArtifactType", "Results"}
_RESULT_KEYS = {"Target", "Class", "Vulnerabilities", "Misconfigurations", "Secrets"}
WHAT = "Trivy JSON report"


@dataclass(frozen=True)
class Scan:
    """What a file that looks like a Trivy report says was scanned, for detection."""

    vulnerabilities: bool
    """Packages were scanned for vulnerabilities (the ``trivy`` format claims it)."""
    misconfigurations: bool
    """Configuration was scanned (the ``trivy-misconfig`` format claims it)."""


def scan_of(source: Source) -> Scan | None:
    """None when the file does not look like a Trivy report; else what it scanned.

    It looks like one with a ``SchemaVersion`` (any: ``parse`` refuses one that is not 2)
    beside ``ArtifactName``, ``ArtifactType`` or ``Results``, or with a ``Results`` list of
    Trivy results (``Target``, ``Class``...); in any key order and at any size. A result of
    a package class, or any ``Vulnerabilities`` list, shows that vulnerabilities were looked
    for (Trivy omits ``Vulnerabilities`` from a package result where it found none).
    """
    document = sn.json_document(source)
    if document is sn.UNPARSED:
        if not sn.found_in_bytes(source, _SCHEMA, _TRIVY_KEYS):
            return None
        return Scan(
            sn.found_in_bytes(source, _VULNERABILITY_BYTES)
            or not sn.found_in_bytes(source, _CLASS),
            sn.found_in_bytes(source, _MISCONFIG_BYTES),
        )
    if not isinstance(document, dict):
        return None
    found = document.get("Results")
    listed = list(sn.objects(found))
    looks = ("SchemaVersion" in document and _REPORT_KEYS & document.keys()) or any(
        _RESULT_KEYS & result.keys() for result in listed
    )
    if not looks:
        return None
    if found is not None and not isinstance(found, list):
        return Scan(True, False)  # claimed, so that parse reports the wrong type
    classes = [r.get("Class") for r in listed]
    vulnerabilities = any("Vulnerabilities" in r for r in listed) or any(
        c in _PACKAGE_CLASSES for c in classes
    )
    misconfigurations = any("Misconfigurations" in r for r in listed) or "config" in classes
    if not any("Class" in r for r in listed):
        vulnerabilities = True  # no result at all, or results without a class
    # Results that are not objects: claimed, so that parse reports them.
    if len(listed) < len(found or []):
        vulnerabilities = True
    return Scan(vulnerabilities, misconfigurations)


def results(reader: jr.Reader) -> list[tuple[str, dict[str, Any]]]:
    """``(path, result)`` for each entry of ``Results``; a report whose ``SchemaVersion`` is
    not 2 is refused (another schema may put its findings elsewhere)."""
    document = reader.root()
    version = document.get("SchemaVersion")
    if version != 2 or isinstance(version, bool):
        shown = "missing" if version is None else repr(version)[:40]
        raise reader.source.error(
            f"not a {WHAT} that can be read: SchemaVersion is {shown}, expected 2",
            hint="write the report with a Trivy release that writes SchemaVersion 2 "
            "(trivy --format json), or name the format in the policy's input",
        )
    return list(reader.items(document.get("Results"), "Results"))


def _cvss(reader: jr.Reader, value: Any, path: str) -> float | None:
    by_source = reader.obj(value, path)
    scores: list[tuple[float | None, bool]] = []
    for name, entry in by_source.items():
        scores_of = reader.obj(entry, f"{path}.{name}")
        scores.append((jr.number(scores_of.get("V3Score")), False))
        scores.append((jr.number(scores_of.get("V40Score")), False))
        scores.append((jr.number(scores_of.get("V2Score")), True))
    return jr.best_cvss(scores)


class Trivy:
    """Trivy JSON vulnerabilities."""

    name = "trivy"
    kind = "vulnerabilities"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A Trivy report that scanned packages (or one with no results at all)."""
        scan = scan_of(source)
        return scan is not None and scan.vulnerabilities

    def parse(self, source: Source) -> list[Artifact]:
        """One item per vulnerability of every result."""
        reader = jr.Reader(source, WHAT)
        items: list[dict[str, Any]] = []
        for path, result in results(reader):
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
                        cvss=_cvss(reader, vuln.get("CVSS"), f"{vuln_path}.CVSS"),
                        state=None,
                        known_exploited=None,
                        source=source.display,
                    )
                )
        normalized = {"vulnerabilities": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = Trivy()
