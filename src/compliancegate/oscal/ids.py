"""The identifiers, times and text every OSCAL document we write is made of.

Everything here is a pure function of its inputs, so the same run and the same ledger give
the same document byte for byte: UUIDs are version 5 (name-based, SHA-1) under one project
namespace, times come from the run or the ledger and never from the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import regex

from compliancegate.reporters._common import replace_surrogates

OSCAL_VERSION = "1.1.2"
"""The OSCAL model version the documents say they conform to. NIST's 1.2.1 schemas, which
ship in ``oscal/schemas``, validate 1.1.x documents as well (the oscal-content examples are
1.1.2)."""

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://compliancegate.dev/ns/oscal")
"""The uuid5 namespace of every UUID the project writes into OSCAL."""

PROP_NS = "https://compliancegate.dev/ns/oscal"
"""The namespace of the project's own ``props`` (OSCAL reserves un-namespaced names)."""

# OSCAL control ids are tokens, lower case in NIST's catalogs: "si-2", "ac-2.1". The
# classes are the schema's own (\p{L}, \p{N}), through the regex module, because Python's
# \w and \d disagree with them on characters such as "¼" (a number, not a digit).
_ENHANCEMENT = regex.compile(r"\(([\p{L}\p{N}]+)\)")
_NOT_TOKEN = regex.compile(r"[^\p{L}\p{N}.\-]")
_TOKEN_START = regex.compile(r"^\p{L}")


def oscal_uuid(*parts: str) -> str:
    """A version 5 UUID for ``parts`` (joined with NUL, so ``("ab", "c")`` and ``("a",
    "bc")`` differ): the same parts always give the same UUID.

    RFC 4122's name-based SHA-1 UUID, computed here because ``uuid.uuid5`` refuses names
    with lone surrogates (file names that are not UTF-8); for every other name it is equal.
    """
    name = "\x00".join(parts).encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(NAMESPACE.bytes + name, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def control_id(ref: str) -> str:
    """The catalog form of a ``STANDARD:CONTROL`` reference: ``nist-800-53-r5:SI-2`` is
    ``si-2``, an enhancement ``AC-2(1)`` is ``ac-2.1`` (NIST's OSCAL SP 800-53 catalog).

    Characters an NCName cannot hold become ``-``; a leading digit gets a ``_`` (no other
    underscore survives, so the two cannot collide). ``ValueError`` when nothing is left.
    """
    control = ref.split(":", 1)[1] if ":" in ref else ref
    text = _ENHANCEMENT.sub(lambda m: "." + m.group(1), control.strip().lower())
    text = _NOT_TOKEN.sub("-", text).strip("-.")
    if not text:
        raise ValueError(f"control {ref!r} has no id OSCAL can name")
    if not _TOKEN_START.match(text):
        text = "_" + text
    return text


def timestamp(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with whole seconds and a ``Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)
    return moment.isoformat() + "Z"


def line(text: str, fallback: str = "(empty)") -> str:
    """``text`` as an OSCAL markup-line: one line, no lone surrogates, never empty."""
    # Every line breaker (LINE_BREAKERS) is whitespace to str.split, which so also folds
    # them: no pass over the characters in Python (a report may hold a million messages).
    cleaned = " ".join(replace_surrogates(text).split())
    return cleaned or fallback


def string(text: str, fallback: str = "(empty)") -> str:
    """``text`` as an OSCAL string (no leading or trailing whitespace, never empty)."""
    return line(text, fallback)


def multiline(text: str, fallback: str = "(empty)") -> str:
    """``text`` as OSCAL markup-multiline: any text, lone surrogates replaced."""
    cleaned = replace_surrogates(text).strip()
    return cleaned or fallback


# Inline Markdown a message could otherwise use (as the Markdown reporter escapes it): code
# spans, emphasis, links and images, raw HTML, tables, math, mentions and references.
MARKDOWN_SPECIAL = "\\`*_[]|~$@#<>&!"
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# Escaped with a backslash, or as an entity: one table for str.translate (one pass in C).
_INERT = str.maketrans({ch: _ENTITIES.get(ch, "\\" + ch) for ch in MARKDOWN_SPECIAL})


def inert(text: str) -> str:
    """Untrusted text (a violation message, a file name, a title) as one line of inert
    Markdown, for OSCAL's markup fields: GRC tools render them, and raw HTML or a link in
    an artifact must not become markup in an auditor's browser. Nothing is cut."""
    return line(text).translate(_INERT)


def prop(name: str, value: str) -> dict[str, str]:
    """One of the project's ``props``: ``name`` in the project namespace."""
    return {"name": name, "ns": PROP_NS, "value": string(value)}
