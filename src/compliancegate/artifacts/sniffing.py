"""Cheap content checks shared by format detectors: they look at the first bytes of a file
(``Source.head``) without parsing it, so detection stays fast on large files and never trips
over a file that is malformed further on.
"""

from __future__ import annotations

import re

_BOM = b"\xef\xbb\xbf"

# The prolog an XML document may have before its root element: declaration, comments,
# processing instructions, whitespace and a DOCTYPE (with or without an internal subset).
_XML_PROLOG = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>)*",
    re.DOTALL,
)
_XML_START_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:\s[^<>]*)?)/?>")
_XML_ATTRIBUTE = re.compile(rb"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def xml_root(head: bytes) -> tuple[str, dict[str, str]] | None:
    """The local name and attributes of the root element's start tag, if ``head`` holds it.

    Namespace prefixes are dropped (``<ns:testsuite>`` gives ``testsuite``). None when the
    head does not start like XML or the start tag is cut off by the head's end.
    """
    data = head[len(_BOM) :] if head.startswith(_BOM) else head
    prolog = _XML_PROLOG.match(data)
    start = prolog.end() if prolog else 0
    match = _XML_START_TAG.match(data, start)
    if match is None:
        return None
    attributes: dict[str, str] = {}
    for attr in _XML_ATTRIBUTE.finditer(match.group(2)):
        value = attr.group(2) if attr.group(2) is not None else attr.group(3)
        attributes[attr.group(1).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return match.group(1).decode("ascii"), attributes


def first_line(head: bytes) -> str:
    """The first line of ``head`` that is not blank, stripped (a BOM dropped)."""
    data = head[len(_BOM) :] if head.startswith(_BOM) else head
    for line in data.splitlines():
        text = line.strip()
        if text:
            return text.decode("utf-8", "replace")
    return ""
