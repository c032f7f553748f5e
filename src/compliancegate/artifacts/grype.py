"""Grype JSON reports (``grype -o json``): the matches, as ``vulnerabilities``.

Each ``matches[]`` entry is one item: ``id`` the vulnerability's id (a CVE or GHSA), package
and version the matched ``artifact``, severity Grype's word (``Negligible`` is low).
``fixed_version`` is set only when Grype says the flaw is fixed (``fix.state: fixed``): the
version Grype suggests for the installed release line where it gives one, else the first of
``fix.versions``. ``cvss`` is the highest v3 (or v4) base score of the vulnerability, or of
its related records (the NVD entry of a distribution advisory) when it has none;
``known_exploited`` is true when Grype lists the vulnerability in ``knownExploited`` (CISA
KEV). ``target`` is what was scanned: the image or path the user gave.
"""

from __future__ import annotations

import re
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_MATCHES = re.compile(rb'"matches"\s*:\s*\[')
_GRYPE = re.compile(rb'"name"\s*:\s*"grype"|"matchDetails"\s*:|"relatedVulnerabilities"\s*:')
_MATCH_KEYS = {"matchDetails", "relatedVulnerabilities"}
_WHAT = "Grype JSON report"


def _looks_like_grype(source: Source) -> bool:
    """A ``matches`` key beside Grype's ``descriptor`` (``name: grype``), or matches with
    Grype's own fields (``matchDetails``, ``relatedVulnerabilities``, or a
    ``vulnerability`` with an ``artifact``); in any key order and at any size."""
    document = sn.json_document(source)
    if document is sn.UNPARSED:
        return sn.found_in_bytes(source, _MATCHES, _GRYPE)
    if not isinstance(document, dict) or "matches" not in document:
        return False
    descriptor = document.get("descriptor")
    if isinstance(descriptor, dict) and descriptor.get("name") == "grype":
        return True
    matches = document.get("matches")
    if matches is not None and not isinstance(matches, list):
        return isinstance(descriptor, dict)  # claimed, so that parse reports the wrong type
    return any(
        _MATCH_KEYS & match.keys() or {"vulnerability", "artifact"} <= match.keys()
        for match in sn.objects(matches)
    )


def _scores(reader: jr.Reader, value: Any, path: str) -> list[tuple[float | None, bool]]:
    scores: list[tuple[float | None, bool]] = []
    for item_path, entry in reader.items(value, path):
        metrics = reader.obj(entry.get("metrics"), f"{item_path}.metrics")
        version = jr.version_text(entry.get("version")) or ""
        scores.append((jr.number(metrics.get("baseScore")), version.startswith("2")))
    return scores


def _target(value: Any) -> str | None:
    # An image or directory source gives an object (userInput is what the user typed); a
    # file or SBOM source may give a plain string.
    if isinstance(value, dict):
        return jr.text(value.get("userInput")) or jr.text(value.get("name"))
    return jr.text(value)


class Grype:
    """Grype JSON matches."""

    name = "grype"
    kind = "vulnerabilities"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """Looks like a Grype report (see ``_looks_like_grype``)."""
        return _looks_like_grype(source)

    def parse(self, source: Source) -> list[Artifact]:
        """One item per match."""
        reader = jr.Reader(source, _WHAT)
        document = reader.root()
        scanned = reader.obj(document.get("source"), "source")
        target = _target(scanned.get("target"))
        items: list[dict[str, Any]] = []
        for path, match in reader.items(document.get("matches"), "matches"):
            vuln = reader.obj(match.get("vulnerability"), f"{path}.vulnerability")
            artifact = reader.obj(match.get("artifact"), f"{path}.artifact")
            related = list(
                reader.items(match.get("relatedVulnerabilities"), f"{path}.relatedVulnerabilities")
            )
            scores = _scores(reader, vuln.get("cvss"), f"{path}.vulnerability.cvss")
            if jr.best_cvss(scores) is None:
                for related_path, record in related:
                    scores.extend(_scores(reader, record.get("cvss"), f"{related_path}.cvss"))
            kev = vuln.get("knownExploited")
            items.append(
                jr.vulnerability(
                    id=jr.text(vuln.get("id")),
                    severity=sev.from_word(vuln.get("severity")),
                    package=jr.text(artifact.get("name")),
                    version=jr.version_text(artifact.get("version")),
                    fixed_version=self._fixed_version(reader, vuln, match, path),
                    title=jr.title(
                        vuln.get("description"), *(r.get("description") for _, r in related)
                    ),
                    source_tool="grype",
                    target=target,
                    cvss=jr.best_cvss(scores),
                    state=None,
                    known_exploited=True if isinstance(kev, list) and kev else None,
                    source=source.display,
                )
            )
        normalized = {"vulnerabilities": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]

    @staticmethod
    def _fixed_version(
        reader: jr.Reader, vuln: dict[str, Any], match: dict[str, Any], path: str
    ) -> str | None:
        fix = reader.obj(vuln.get("fix"), f"{path}.vulnerability.fix")
        if jr.text(fix.get("state")) != "fixed":
            return None
        for detail_path, detail in reader.items(match.get("matchDetails"), f"{path}.matchDetails"):
            suggested = reader.obj(detail.get("fix"), f"{detail_path}.fix").get("suggestedVersion")
            if jr.version_text(suggested):
                return jr.version_text(suggested)
        versions = fix.get("versions")
        if versions is not None and not isinstance(versions, list):
            raise reader.error(f"{path}.vulnerability.fix.versions", "a list", versions)
        for version in versions or []:
            found = jr.version_text(version)
            if found:
                return found
        return None


FORMAT = Grype()
