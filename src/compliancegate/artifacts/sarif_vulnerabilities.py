"""SARIF 2.1.0 results whose rule carries a ``security-severity`` (Trivy, Grype, newer
OWASP dependency-check, CodeQL security queries), as ``vulnerabilities``.

The same file is also the ``sarif`` format (kind ``findings``); this format claims a log in
which a ``security-severity`` property occurs, and reads only the results that have one
(results of other rules stay findings only).

- ``severity`` is the ``security-severity`` on the CVSS v3 scale (``from_score``);
- ``id`` is the ``Vulnerability CVE-...`` the tool writes in the result's message or the
  rule's help (Trivy, Grype: Grype's rule ids join the CVE and the package), else the rule id;
- ``package``, ``version`` and ``fixed_version`` come from the ``Package:``,
  ``Installed Version:`` / ``Version:`` and ``Fixed Version:`` / ``Fix Version:`` lines of the
  message, else of the rule's help (Trivy and Grype write them); null where a tool gives none;
- ``cvss`` is an explicit CVSS v3 base score property (Trivy, dependency-check), else null:
  ``security-severity`` is not always a CVSS score;
- ``target`` is the result's first location, ``source_tool`` the run's tool.
"""

from __future__ import annotations

import re
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.sarif import (
    WHAT,
    Result,
    properties,
    results,
    sarif_document,
    security_severity,
)
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

_SECURITY_SEVERITY = re.compile(rb'"security-severity"\s*:')
# Trivy and Grype write "Vulnerability CVE-..." and "Name: value" lines; an id must look
# like an advisory id (CVE-, GHSA-, GO-, RUSTSEC-...) so that prose is not taken for one.
# The patterns stay linear on hostile text: no quantifier can run across lines (``\s``
# would, making a text of many blank lines quadratic) and values are stripped in Python.
_ID_LINE = re.compile(r"^[ \t]*Vulnerability:?[ \t]+([A-Z][A-Z0-9]*-[\w.:-]+)", re.MULTILINE)
_FIELD = re.compile(
    r"^[ \t]*(Package|Installed Version|Version|Fixed Version|Fix Version)[ \t]*:(.*)$",
    re.MULTILINE | re.IGNORECASE,
)
_FIELDS = {
    "package": "package",
    "installed version": "version",
    "version": "version",
    "fixed version": "fixed_version",
    "fix version": "fixed_version",
}


def _text_of(value: Any) -> str | None:
    """The ``text`` of a SARIF multiformat message string."""
    return jr.text(value.get("text")) if isinstance(value, dict) else None


def _fields(*texts: str | None) -> dict[str, str]:
    """``id``, ``package``, ``version`` and ``fixed_version`` from ``Name: value`` lines,
    the first text that gives a field winning."""
    found: dict[str, str] = {}
    for text in texts:
        id_match = _ID_LINE.search(text or "")
        if id_match and "id" not in found:
            found["id"] = id_match.group(1)
        for match in _FIELD.finditer(text or ""):
            key = _FIELDS[match.group(1).lower()]
            value = match.group(2).strip()
            if value and key not in found:
                found[key] = value
    return found


def _cvss(item: Result) -> float | None:
    scores: list[tuple[float | None, bool]] = []
    for bag in (properties(item.rule), properties(item.result)):
        scores.append((jr.number(bag.get("cvssv3_baseScore")), False))
    return jr.best_cvss(scores)


class SarifVulnerabilities:
    """SARIF results with a ``security-severity``, normalized as ``vulnerabilities``."""

    name = "sarif-vulnerabilities"
    kind = "vulnerabilities"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A SARIF log in which some rule or result carries ``security-severity``."""
        document = sarif_document(source)
        if document is None:
            return False
        if document is sn.UNPARSED:
            return sn.found_in_bytes(source, _SECURITY_SEVERITY)
        return sn.has_key(document, "security-severity")

    def parse(self, source: Source) -> list[Artifact]:
        """One item per result that has a security severity."""
        reader = jr.Reader(source, WHAT)
        items: list[dict[str, Any]] = []
        for item in results(reader):
            score = security_severity(item)
            if score is None:
                continue
            message = item.run.message(item.result, item.rule, item.path)
            fields = _fields(message, _text_of(item.rule.get("help")))
            target, _ = item.run.location(item.result, item.path)
            items.append(
                jr.vulnerability(
                    id=fields.get("id")
                    or jr.text(item.result.get("ruleId"))
                    or jr.text(item.rule.get("id")),
                    severity=sev.from_score(score),
                    package=fields.get("package"),
                    version=fields.get("version"),
                    fixed_version=jr.first_version(fields.get("fixed_version")),
                    title=jr.title(_text_of(item.rule.get("shortDescription")), message),
                    source_tool=item.tool,
                    target=target,
                    cvss=_cvss(item),
                    state=None,
                    known_exploited=None,
                    source=source.display,
                )
            )
        normalized = {"vulnerabilities": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = SarifVulnerabilities()
