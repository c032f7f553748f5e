"""SPDX 2.2 and 2.3 JSON documents: the packages, as an ``sbom``.

The document's subject, the package or packages it ``DESCRIBES`` (the scanned folder or
image), is left out of ``components``, as CycloneDX keeps its subject in
``metadata.component`` apart from the components: a policy such as "every component has a
version and a purl" then gives the same verdict on both formats of one SBOM. If the document
describes every package it holds, none is left out. ``name`` is the described package's
name when there is one, else the document's.

Licenses come from ``licenseConcluded`` then ``licenseDeclared`` (``NOASSERTION`` and
``NONE`` mean none); an expression is kept whole and also split into its license ids.
``type`` is ``primaryPackagePurpose`` in CycloneDX's spelling (``LIBRARY`` is ``library``,
``OPERATING-SYSTEM`` is ``operating-system``); the purl is the ``PACKAGE-MANAGER`` external
reference of type ``purl``; the supplier is the name in ``Organization: Name (email)``.
"""

from __future__ import annotations

import re
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_SPDX_VERSION = re.compile(rb'"spdxVersion"\s*:')
_BOM_FORMAT = re.compile(rb'"bomFormat"\s*:')
_VERSION_2 = re.compile(r"SPDX-2\.\d+")
_WHAT = "SPDX 2 document"


def _looks_like_spdx(source: Source) -> bool:
    """An ``spdxVersion`` key (any value: ``parse`` refuses what is not SPDX 2), an SPDX 3
    JSON-LD ``@context`` (refused too), or an ``*.spdx.json`` name; never a CycloneDX BOM."""
    document = sn.json_document(source)
    if document is sn.UNPARSED:
        if sn.found_in_bytes(source, _BOM_FORMAT):
            return False
        return sn.found_in_bytes(source, _SPDX_VERSION) or sn.name_ends(source, ".spdx.json")
    if not isinstance(document, dict):
        return sn.name_ends(source, ".spdx.json")
    if "bomFormat" in document:
        return False
    context = document.get("@context")
    spdx_3 = isinstance(context, str) and "spdx.org" in context
    return "spdxVersion" in document or spdx_3 or sn.name_ends(source, ".spdx.json")


def _spdx_2_root(reader: jr.Reader) -> dict[str, Any]:
    document = reader.root()
    version = document.get("spdxVersion")
    if not (isinstance(version, str) and _VERSION_2.fullmatch(version.strip())):
        shown = "missing" if version is None else repr(version)[:40]
        raise reader.source.error(
            f"not an {_WHAT}: spdxVersion is {shown}, expected SPDX-2.x",
            hint="SPDX 2.2 and 2.3 JSON are read (SPDX 3 JSON-LD, tag-value and RDF are not); "
            "write the SBOM as SPDX 2.3 JSON or CycloneDX JSON",
        )
    return document


def _supplier(value: Any) -> str | None:
    """The name in ``Organization: Name (email)``, ``Person: ...`` or ``Tool: ...``."""
    found = jr.text(value)
    if found is None or found.upper() in ("NOASSERTION", "NONE"):
        return None
    kind, colon, rest = found.partition(":")
    if not colon or kind.strip() not in ("Organization", "Person", "Tool"):
        return found
    name = rest.strip()
    if name.endswith(")") and "(" in name:
        name = name[: name.rindex("(")].rstrip()
    return name or found


def _purl(reader: jr.Reader, value: Any, path: str) -> str | None:
    for _, ref in reader.items(value, path):
        category = (jr.text(ref.get("referenceCategory")) or "").upper().replace("_", "-")
        if category == "PACKAGE-MANAGER" and jr.text(ref.get("referenceType")) == "purl":
            locator = jr.text(ref.get("referenceLocator"))
            if locator:
                return locator
    return None


def _hashes(reader: jr.Reader, value: Any, path: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for _, item in reader.items(value, path):
        alg = jr.hash_name(item.get("algorithm"))
        content = jr.text(item.get("checksumValue"))
        if alg and content:
            hashes[alg] = content.lower()
    return hashes


def _described(reader: jr.Reader, document: dict[str, Any]) -> set[str]:
    """SPDX ids the document describes: ``documentDescribes`` and ``DESCRIBES`` /
    ``DESCRIBED_BY`` relationships with the document."""
    own_id = jr.text(document.get("SPDXID")) or "SPDXRef-DOCUMENT"
    described: set[str] = set()
    listed = document.get("documentDescribes")
    if listed is not None and not isinstance(listed, list):
        raise reader.error("documentDescribes", "a list", listed)
    described.update(found for found in map(jr.text, listed or []) if found)
    for _, rel in reader.items(document.get("relationships"), "relationships"):
        kind = jr.text(rel.get("relationshipType"))
        element, related = jr.text(rel.get("spdxElementId")), jr.text(rel.get("relatedSpdxElement"))
        if kind == "DESCRIBES" and element == own_id and related:
            described.add(related)
        elif kind == "DESCRIBED_BY" and related == own_id and element:
            described.add(element)
    return described


class Spdx:
    """SPDX 2.x JSON packages, normalized as an ``sbom``."""

    name = "spdx"
    kind = "sbom"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """Looks like an SPDX document (see ``_looks_like_spdx``)."""
        return _looks_like_spdx(source)

    def parse(self, source: Source) -> list[Artifact]:
        """One ``sbom`` document: the described package's name and every other package."""
        reader = jr.Reader(source, _WHAT)
        document = _spdx_2_root(reader)
        packages = list(reader.items(document.get("packages"), "packages"))
        described = _described(reader, document)
        subjects = [p for _, p in packages if jr.text(p.get("SPDXID")) in described]
        if len(subjects) < len(packages):
            kept = [(path, p) for path, p in packages if jr.text(p.get("SPDXID")) not in described]
        else:  # everything is "described": the document has no separate subject
            kept, subjects = packages, []
        items = []
        for path, package in kept:
            licenses = [
                *jr.license_entries(package.get("licenseConcluded")),
                *jr.license_entries(package.get("licenseDeclared")),
            ]
            purpose = jr.text(package.get("primaryPackagePurpose"))
            items.append(
                jr.component(
                    name=jr.text(package.get("name")),
                    version=jr.version_text(package.get("versionInfo")),
                    purl=_purl(reader, package.get("externalRefs"), f"{path}.externalRefs"),
                    type=purpose.lower().replace("_", "-") if purpose else None,
                    licenses=list(dict.fromkeys(licenses)),
                    supplier=_supplier(package.get("supplier")),
                    hashes=_hashes(reader, package.get("checksums"), f"{path}.checksums"),
                    source=source.display,
                )
            )
        version = jr.text(document.get("spdxVersion"))
        subject_name = jr.text(subjects[0].get("name")) if len(subjects) == 1 else None
        normalized = {
            "format": "spdx",
            "spec_version": version.removeprefix("SPDX-") if version else None,
            "name": subject_name or jr.text(document.get("name")),
            "components": items,
        }
        return [Artifact(source.display, self.name, self.kind, self.syntax, normalized)]


FORMAT = Spdx()
