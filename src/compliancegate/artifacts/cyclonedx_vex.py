"""The ``vulnerabilities`` array of a CycloneDX JSON BOM (spec 1.4 to 1.6): a scanner's
results (Trivy, Grype) or VEX statements about a product, as ``vulnerabilities``.

The components of the same file are the ``cyclonedx`` format (kind ``sbom``); a file holding
both is claimed by both formats (see ``registry.formats_for``). This format claims a BOM
whose ``vulnerabilities`` array holds at least one entry: an empty array does not count,
because Trivy writes ``"vulnerabilities": []`` into SBOMs it made without scanning for
vulnerabilities, and such a file must not stand in for a scan. Force
``format: cyclonedx-vex`` to read a BOM that was scanned and found nothing.

Severity is the highest of the ``ratings`` (each rating's word, else its score); ``cvss``
the highest CVSS score among them; package and version come from the component that
``affects[].ref`` names (its ``bom-ref``), else from the reference when it is a package URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts.cyclonedx import WHAT, bom_fields, bom_root, components, metadata_of
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

_RECOMMENDED_VERSION = re.compile(r"\bto version\s+([^\s,;]+)", re.IGNORECASE)


def _purl_name_version(purl: str) -> tuple[str | None, str | None]:
    """Name and version from a package URL (``pkg:npm/%40scope/name@1.0?x=y#sub``)."""
    if not purl.startswith("pkg:"):
        return None, None
    body = purl[4:].split("#", 1)[0].split("?", 1)[0]
    path, _, version = body.rpartition("@") if "@" in body else (body, "", "")
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if not name or name == path.strip("/"):  # only a type, no name
        return None, None
    return unquote(name) or None, unquote(version) or None


def _tool_name(reader: jr.Reader, metadata: dict[str, Any]) -> str:
    """The producer named in ``metadata.tools``: a list of tools up to spec 1.4, an object
    of ``components`` and ``services`` from 1.5. ``cyclonedx`` when none is named."""
    tools = metadata.get("tools")
    if isinstance(tools, dict):
        listed = [
            *reader.items(tools.get("components"), "metadata.tools.components"),
            *reader.items(tools.get("services"), "metadata.tools.services"),
        ]
    else:
        listed = list(reader.items(tools, "metadata.tools"))
    for _, tool in listed:
        name = jr.text(tool.get("name"))
        if name:
            return name
    return "cyclonedx"


def _rating_severity(rating: dict[str, Any]) -> str:
    # The producer's word when it is one we know, else its score on the CVSS v3 scale.
    word = sev.from_word(rating.get("severity"))
    return word if word != sev.UNKNOWN else sev.from_score(rating.get("score"))


def _rating_score(rating: dict[str, Any]) -> tuple[float | None, bool] | None:
    # Only CVSS ratings are CVSS scores (OWASP risk ratings and SSVC are not); a score
    # without a method is taken as CVSS, the common case in older BOMs.
    method = jr.text(rating.get("method"))
    if method is not None and not method.upper().startswith("CVSS"):
        return None
    return jr.number(rating.get("score")), method is not None and method.upper() == "CVSSV2"


def _ref_index(reader: jr.Reader, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``bom-ref`` to component, the BOM's subject included (VEX statements about a product
    point at ``metadata.component``)."""
    index: dict[str, dict[str, Any]] = {}
    _, subject = metadata_of(reader, document)
    for item in [subject, *(c for _, c in components(reader, document))]:
        ref = jr.text(item.get("bom-ref"))
        if ref:
            index.setdefault(ref, item)
    return index


def _affected(ref: str | None, index: dict[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    """Package and version of an ``affects`` reference: the component it names, else the
    package URL it is, else unknown (a BOM-link into another BOM names no package here)."""
    if ref is None:
        return None, None
    component = index.get(ref)
    if component is None and "#" in ref:  # BOM-link: urn:cdx:serial/version#bom-ref
        component = index.get(ref.rsplit("#", 1)[1])
    if component is not None:
        name = jr.text(component.get("name"))
        version = jr.version_text(component.get("version"))
        purl = jr.text(component.get("purl"))
        if (name is None or version is None) and purl is not None:
            purl_name, purl_version = _purl_name_version(purl)
            name, version = name or purl_name, version or purl_version
        return name, version
    return _purl_name_version(ref)


def _fixed_version(recommendation: Any) -> str | None:
    """The version a recommendation names (Trivy: ``Upgrade pkg to version 1.2.3``); None
    when it names none. CycloneDX has no structured fixed-version field, and an
    ``unaffected`` version range does not say which release fixed the flaw."""
    found = jr.text(recommendation)
    match = _RECOMMENDED_VERSION.search(found) if found else None
    return match.group(1).rstrip(".") if match else None


class CycloneDxVex:
    """The ``vulnerabilities`` of a CycloneDX BOM (scanner results or VEX statements)."""

    name = "cyclonedx-vex"
    kind = "vulnerabilities"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A BOM whose ``vulnerabilities`` array holds at least one entry."""
        fields = bom_fields(source)
        return fields is not None and fields[1]

    def parse(self, source: Source) -> list[Artifact]:
        """One item per vulnerability and affected component (a vulnerability affecting no
        named component is one item without a package)."""
        reader = jr.Reader(source, WHAT)
        document = bom_root(reader)
        metadata, subject = metadata_of(reader, document)
        tool = _tool_name(reader, metadata)
        target = jr.text(subject.get("name"))
        index = _ref_index(reader, document)
        items: list[dict[str, Any]] = []
        for path, vuln in reader.items(document.get("vulnerabilities"), "vulnerabilities"):
            ratings = [r for _, r in reader.items(vuln.get("ratings"), f"{path}.ratings")]
            scores = [s for s in map(_rating_score, ratings) if s is not None]
            analysis = reader.obj(vuln.get("analysis"), f"{path}.analysis")
            affects = reader.items(vuln.get("affects"), f"{path}.affects")
            refs = [jr.text(a.get("ref")) for _, a in affects] or [None]
            for ref in dict.fromkeys(refs):
                package, version = _affected(ref, index)
                items.append(
                    jr.vulnerability(
                        id=jr.text(vuln.get("id")),
                        severity=jr.highest_severity(map(_rating_severity, ratings)),
                        package=package,
                        version=version,
                        fixed_version=_fixed_version(vuln.get("recommendation")),
                        title=jr.title(vuln.get("description"), vuln.get("detail")),
                        source_tool=tool,
                        target=target,
                        cvss=jr.best_cvss(scores),
                        state=jr.text(analysis.get("state")),
                        known_exploited=None,
                        source=source.display,
                    )
                )
        normalized = {"vulnerabilities": items, "sources": [source.display]}
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = CycloneDxVex()
