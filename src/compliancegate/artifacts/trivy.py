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
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

_SCHEMA_2 = re.compile(rb'"SchemaVersion"\s*:\s*2\b')
_TRIVY_KEYS = re.compile(rb'"(?:ArtifactName|ArtifactType|Results)"\s*:')
_CLASS = re.compile(rb'"Class"\s*:')
# A result of a package class, or any Vulnerabilities list, shows that vulnerabilities were
# looked for (Trivy omits "Vulnerabilities" from a package result where it found none).
_VULNERABILITY_SCAN = re.compile(rb'"Vulnerabilities"\s*:|"Class"\s*:\s*"(?:os-pkgs|lang-pkgs)"')
WHAT = "Trivy JSON report"


def is_report(source: Source) -> bool:
    """``SchemaVersion: 2`` and a Trivy key in the file's head (Trivy writes them first)."""
    return jr.head_matches(source, _SCHEMA_2, _TRIVY_KEYS)


def results(reader: jr.Reader) -> list[tuple[str, dict[str, Any]]]:
    """``(path, result)`` for each entry of ``Results``."""
    return list(reader.items(reader.root().get("Results"), "Results"))


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
        if not is_report(source):
            return False
        return jr.find_bytes(source, _VULNERABILITY_SCAN) or not jr.find_bytes(source, _CLASS)

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
