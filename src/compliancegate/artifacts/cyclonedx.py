"""CycloneDX JSON BOMs (spec 1.2 to 1.6): the components, as an ``sbom``.

One BOM can also carry vulnerabilities (Trivy and Grype write the components and what they
found in them into one file); those are the ``cyclonedx-vex`` format (kind
``vulnerabilities``, in ``cyclonedx_vex.py``), and a file holding both is claimed by both
(see ``registry.formats_for``): ``input: sbom`` reads its components and
``input: vulnerabilities`` its vulnerabilities. This format claims every BOM except a
VEX-only one (vulnerabilities and no component), which describes no software.

Components are flattened (nested ``components`` included, parents first); ``name`` is the
BOM's subject (``metadata.component``), which is not itself one of the components.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_BOM_FORMAT = re.compile(rb'"bomFormat"\s*:')
VULNERABILITIES = re.compile(rb'"vulnerabilities"\s*:\s*\[\s*\{')
_COMPONENTS = re.compile(rb'"components"\s*:\s*\[\s*\{')
_NAMES = (".cdx.json", ".bom.json")
WHAT = "CycloneDX BOM"


def bom_fields(source: Source) -> tuple[bool, bool] | None:
    """Whether a file looks like a CycloneDX JSON BOM: None when not, else whether it has
    (components, vulnerabilities).

    It looks like one with a ``bomFormat`` key (any value: ``parse`` refuses one that is not
    ``CycloneDX``), a ``specVersion`` beside BOM content, or a CycloneDX file name
    (``*.cdx.json``, ``*.bom.json``); in any key order and at any size.
    """
    document = sn.json_document(source)
    if document is sn.UNPARSED:
        if not (sn.found_in_bytes(source, _BOM_FORMAT) or sn.name_ends(source, *_NAMES)):
            return None
        return sn.found_in_bytes(source, _COMPONENTS), sn.found_in_bytes(source, VULNERABILITIES)
    if not isinstance(document, dict):
        return (True, False) if sn.name_ends(source, *_NAMES) else None
    looks = (
        "bomFormat" in document
        or ("specVersion" in document and _BOM_KEYS & document.keys())
        or sn.name_ends(source, *_NAMES)
    )
    if not looks:
        return None
    return sn.present(document.get("components")), sn.present(document.get("vulnerabilities"))


_BOM_KEYS = {"components", "metadata", "vulnerabilities", "dependencies", "serialNumber"}


def bom_root(reader: jr.Reader) -> dict[str, Any]:
    """The BOM's top-level object, refused when ``bomFormat`` is not ``CycloneDX``."""
    document = reader.root()
    bom_format = document.get("bomFormat")
    if bom_format != "CycloneDX":
        shown = "missing" if bom_format is None else f"{jr.json_type(bom_format)} {bom_format!r}"
        raise reader.source.error(
            f'not a {WHAT}: bomFormat is {shown[:80]}, expected "CycloneDX"',
            hint='CycloneDX JSON starts with "bomFormat": "CycloneDX"; name the format '
            "in the policy's input if this is another kind of file",
        )
    return document


def components(reader: jr.Reader, document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(JSON path, component)`` for every component, nested ``components`` included, in
    document order (a parent before its children). A stack of iterators rather than
    recursion, so that a deeply nested hostile BOM cannot exhaust the stack."""
    pending = [reader.items(document.get("components"), "components")]
    while pending:
        try:
            path, item = next(pending[-1])
        except StopIteration:
            pending.pop()
            continue
        yield path, item
        if item.get("components") is not None:
            pending.append(reader.items(item["components"], f"{path}.components"))


def _licenses(reader: jr.Reader, value: Any, path: str) -> list[str]:
    entries: list[str] = []
    for item_path, choice in reader.items(value, path):
        if "expression" in choice:
            entries.extend(jr.license_entries(choice.get("expression")))
            continue
        license_ = reader.obj(choice.get("license"), f"{item_path}.license")
        # An id or a free-text name is one license; only `expression` is an SPDX expression
        # ("GNU General Public License, version 2 with the Classpath exception" is a name).
        single = jr.text(license_.get("id")) or jr.text(license_.get("name"))
        if single and single.upper() not in ("NOASSERTION", "NONE"):
            entries.append(single)
    return list(dict.fromkeys(entries))


def metadata_of(reader: jr.Reader, document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    metadata = reader.obj(document.get("metadata"), "metadata")
    return metadata, reader.obj(metadata.get("component"), "metadata.component")


class CycloneDx:
    """CycloneDX JSON components, normalized as an ``sbom``."""

    name = "cyclonedx"
    kind = "sbom"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A BOM that is not VEX-only (vulnerabilities and no component)."""
        fields = bom_fields(source)
        if fields is None:
            return False
        has_components, has_vulnerabilities = fields
        return has_components or not has_vulnerabilities

    def parse(self, source: Source) -> list[Artifact]:
        """One ``sbom`` document: the BOM's subject and every component.

        The fields are those ``jr.component`` builds, read as ``components`` walks the
        components and ``_licenses`` their licenses, inlined, with the JSON paths built only
        for an error: an SBOM lists up to hundreds of thousands of components.
        ``tests/artifacts/test_normalizer_differential.py`` proves the values the same.
        """
        reader = jr.Reader(source, WHAT)
        document = bom_root(reader)
        _, subject = metadata_of(reader, document)
        items: list[dict[str, Any]] = []
        append = items.append
        display = source.display
        hash_names: dict[str, str | None] = {}
        # Depth first, parents before children, as ``components`` walks: a stack of
        # (list, next index, JSON path of the list) rather than recursion.
        top = document.get("components")
        pending: list[tuple[list[Any], int, str]] = []
        if top is not None:
            if type(top) is not list:
                raise reader.error("components", "a list", top)
            pending.append((top, 0, "components"))
        while pending:
            listed, index, list_path = pending[-1]
            if index >= len(listed):
                pending.pop()
                continue
            pending[-1] = (listed, index + 1, list_path)
            item = listed[index]
            if type(item) is not dict:
                raise reader.error(f"{list_path}[{index}]", "an object", item)
            get = item.get
            value = get("name")
            name = (value.strip() or None) if type(value) is str else None
            value = get("version")
            version = (value.strip() or None) if type(value) is str else jr.version_text(value)
            value = get("purl")
            purl = (value.strip() or None) if type(value) is str else None
            value = get("type")
            type_ = (value.strip() or None) if type(value) is str else None
            value = get("licenses")
            licenses = (
                [] if value is None else _licenses(reader, value, f"{list_path}[{index}].licenses")
            )
            value = get("supplier")
            supplier = None
            if type(value) is dict:
                found = value.get("name")
                supplier = (found.strip() or None) if type(found) is str else None
            if supplier is None:
                found = get("publisher")
                supplier = (found.strip() or None) if type(found) is str else None
            value = get("hashes")
            hashes: dict[str, str] = {}
            if value is not None:
                if type(value) is not list:
                    raise reader.error(f"{list_path}[{index}].hashes", "a list", value)
                for position, entry in enumerate(value):
                    if type(entry) is not dict:
                        path = f"{list_path}[{index}].hashes[{position}]"
                        raise reader.error(path, "an object", entry)
                    alg = entry.get("alg")
                    if type(alg) is str:
                        known = hash_names.get(alg, _UNSEEN)
                        if known is _UNSEEN:
                            known = hash_names[alg] = jr.hash_name(alg)
                        alg = known
                    else:
                        alg = None
                    content = entry.get("content")
                    content = (content.strip() or None) if type(content) is str else None
                    if alg and content:
                        hashes[alg] = content.lower()
            append(
                {
                    "name": name,
                    "version": version,
                    "purl": purl,
                    "type": type_,
                    "licenses": licenses,
                    "supplier": supplier,
                    "hashes": hashes,
                    "source": display,
                }
            )
            children = get("components")
            if children is not None:
                if type(children) is not list:
                    path = f"{list_path}[{index}].components"
                    raise reader.error(path, "a list", children)
                pending.append((children, 0, f"{list_path}[{index}].components"))
        normalized = {
            "format": "cyclonedx",
            "spec_version": jr.version_text(document.get("specVersion")),
            "name": jr.text(subject.get("name")),
            "components": items,
        }
        return [Artifact(display, self.name, self.kind, self.syntax, normalized)]


_UNSEEN: Any = object()


FORMAT = CycloneDx()
