"""Content checks shared by format detectors.

Detection must be exact for any key order and any size: producers put their markers
anywhere (``jq -S`` sorts keys, Bandit writes SARIF's ``version`` last, cyclonedx-py
``bomFormat`` last). So a JSON file is detected from its parsed document, which is parsed
once (``Source.json`` is cached) and then read by the format that claims it; only a file
that is not one JSON document (truncated, JSON Lines, not UTF-8) is looked at as bytes, in
the whole file. An XML file is detected from its root element's start tag, wherever the
prolog ends; a text file (lcov) from its first record.

Detection claims what *looks like* a format, and the format's parser then refuses what is
not exactly it, with the reason: a report that cannot be read is an error for the policies
of its kind, never a raw document that no such policy sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from compliancegate.artifacts.source import HEAD_BYTES, Source
from compliancegate.errors import ArtifactError


class _Unparsed:
    """The content of a file that is not one JSON document."""

    def __repr__(self) -> str:
        return "UNPARSED"


UNPARSED: Any = _Unparsed()


def json_document(source: Source) -> Any:
    """The file parsed as one JSON document, or ``UNPARSED`` when its content is not one
    (the caller then looks for markers in its bytes). A file that cannot be read at all
    (not a regular file, over the size limit) raises ``ArtifactError``."""
    source.data  # noqa: B018 - raises when the file cannot be read at all
    try:
        return source.json
    except ArtifactError:
        return UNPARSED


def found_in_bytes(source: Source, *patterns: re.Pattern[bytes]) -> bool:
    """Whether every pattern occurs somewhere in the file (for content that did not parse)."""
    try:
        data = source.data
    except ArtifactError:
        return False
    return all(p.search(data) for p in patterns)


def has_key(document: Any, key: str) -> bool:
    """Whether ``key`` is a key of any object anywhere in ``document`` (iterative: a deeply
    nested hostile document cannot exhaust the stack)."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if key in node:
                return True
            pending.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            pending.extend(v for v in node if isinstance(v, dict | list))
    return False


def objects(value: Any) -> Iterator[dict[str, Any]]:
    """The objects of ``value`` when it is a list; nothing otherwise."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def present(value: Any) -> bool:
    """Whether a report's list field says there is something: a non-empty list, or a value
    of the wrong type (claimed, so that its parser reports the error)."""
    if isinstance(value, list):
        return bool(value)
    return value is not None


def name_ends(source: Source, *suffixes: str) -> bool:
    """Whether the file's name ends with one of ``suffixes`` (case-insensitive)."""
    return source.path.name.lower().endswith(suffixes)


def xml_root_of(source: Source) -> tuple[str, dict[str, str]] | None:
    """The root element of an XML file (see ``xml_root``), looked for in the first 64 KiB
    and, when the prolog (comments, a DOCTYPE) runs past them, in the whole file."""
    head = source.head
    root = xml_root(head)
    if root is None and len(head) >= HEAD_BYTES:
        root = xml_root(source.data)
    return root


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


def first_line_of(source: Source) -> str:
    """The first line of the file that is not blank, however many blank lines come first."""
    head = source.head
    line = first_line(head)
    if not line and len(head) >= HEAD_BYTES:
        line = first_line(source.data)
    return line
