"""Any XML document, as a JSON-shaped tree (the xmltodict convention).

An element becomes ``{"@attr": ..., "#text": ..., "child": ...}``; a child element that
repeats becomes a list (use JMESPath's ``to_array()`` where it may repeat); an element with
neither attributes nor children becomes its text. Namespaces are dropped from names
(``{urn:x}item`` becomes ``item``) because policies name elements, not namespace URIs.
"""

from __future__ import annotations

from typing import Any

from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact


def local_name(tag: str) -> str:
    """``{namespace}name`` without its namespace."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def element_to_data(element: Any) -> Any:
    """Convert an ElementTree element into the JSON-shaped form described above."""
    node: dict[str, Any] = {f"@{local_name(k)}": v for k, v in element.attrib.items()}
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        name = local_name(child.tag)
        value = element_to_data(child)
        if name in node:
            existing = node[name]
            if isinstance(existing, list) and getattr(existing, "_repeated", False):
                existing.append(value)
            else:
                node[name] = _Repeated([existing, value])
        else:
            node[name] = value
    text = (element.text or "").strip()
    if not node:
        return text or None
    if text:
        node["#text"] = text
    return _plain(node)


class _Repeated(list[Any]):
    """Marks a list made from repeated elements (as opposed to a value that is a list)."""

    _repeated = True


def _plain(node: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, _Repeated) else v for k, v in node.items()}


class RawXml:
    """XML handed to policies as a tree, parsed with defusedxml."""

    name = "xml"
    kind = RAW_KIND
    syntax = "xml"

    def sniff(self, source: Source) -> bool:
        """The raw format is the fallback for its syntax."""
        return True

    def parse(self, source: Source) -> list[Artifact]:
        """One artifact: ``{root_name: tree}``."""
        root = source.xml
        try:
            document = {local_name(root.tag): element_to_data(root)}
        except RecursionError:
            raise source.error("XML nesting too deep") from None
        return [Artifact(source.display, self.name, self.kind, self.syntax, document, line=1)]


FORMAT = RawXml()
