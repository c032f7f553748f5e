"""One file being read as an artifact: its bytes, read once under a size limit, and each
syntax-level parse (JSON, YAML, TOML, XML) done at most once and cached.

Several formats can share one source (a SARIF file is also ``json``), so the expensive part,
turning bytes into a tree, happens once however many formats and policies look at it.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from compliancegate.errors import ArtifactError, CompliancegateError
from compliancegate.loading.safe_yaml import YamlDocument, load_documents

HEAD_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Largest artifact read by default; set ``limits.max_artifact_bytes`` in the config to change."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a parser builds a large tree (and while
    ``check`` runs as a whole: ``cli/check.py``).

    A parsed document is acyclic, yet every few hundred allocations the collector rescans
    the young objects, which costs about half the time of reading a 50,000-component SBOM;
    reference counting still frees everything as usual. Afterwards the new objects are
    moved to the oldest generation (``freeze`` then ``unfreeze``, two list splices): left
    young, the first allocation after the pause would scan every node of the tree at once
    (0.17 s for that SBOM), and the next collections again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the stat must not block the open
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)
_FILE_TYPES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(mode: int) -> str:
    for test, what in _FILE_TYPES:
        if test(mode):
            return what
    return "not a regular file"


class Source:
    """A file read as an artifact; every accessor raises ``ArtifactError`` naming the file.

    Only a regular file is read: a FIFO, a device or a socket is refused before it is
    opened (reading one would hang or never end), a file larger than ``max_bytes`` before it
    is read, and a file given a ``refusal`` (a link leading out of the release) never.
    """

    def __init__(
        self,
        path: Path,
        display: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        now: dt.datetime | None = None,
        refusal: ArtifactError | None = None,
    ) -> None:
        self.path = path
        self.display = display
        self.max_bytes = max_bytes
        self.now = now
        """The run's clock, for content that must not lie in the future (evidence's
        ``collected_at``); None: the wall clock when it is read."""
        self._refusal = refusal
        self.also_judged: list[tuple[str, str]] = []
        """(display path, SHA-256) of other files this artifact's verdict rests on, hashed
        whole while it was parsed (the file an evidence sidecar attests): a bundle carries
        them with the artifact."""

    def error(
        self, message: str, *, line: int | None = None, hint: str | None = None
    ) -> ArtifactError:
        """An ``ArtifactError`` about this file."""
        return ArtifactError(message, file=self.display, line=line, hint=hint)

    def _refuse(self, what: str) -> ArtifactError:
        return self.error(
            f"is {what}; only regular files are read as artifacts",
            hint="remove it from the release folder, or list it under exclude: in "
            "compliancegate.yaml",
        )

    def _too_large(self, size: int) -> ArtifactError:
        return self.error(
            f"larger than the {self.max_bytes:,}-byte artifact limit ({size:,} bytes)",
            hint="raise limits.max_artifact_bytes in compliancegate.yaml if this is expected",
        )

    def _open_read(self, limit: int, *, whole: bool = True) -> bytes:
        """Read up to ``limit`` bytes of a regular file; ``whole``: the file is to be read
        entirely, so one over ``max_bytes`` is refused before reading."""
        if self._refusal is not None:
            raise self._refusal
        try:
            mode = os.stat(self.path).st_mode
            if stat.S_ISDIR(mode):
                raise self.error("is a directory, expected a file")
            if not stat.S_ISREG(mode):
                raise self._refuse(_not_regular(mode))
            with os.fdopen(os.open(self.path, _OPEN_FLAGS), "rb") as handle:
                # Checked again on what was opened: the path may have changed since the stat.
                status = os.fstat(handle.fileno())
                if not stat.S_ISREG(status.st_mode):
                    raise self._refuse(_not_regular(status.st_mode))
                if whole and status.st_size > self.max_bytes:
                    raise self._too_large(status.st_size)
                return handle.read(limit)
        except FileNotFoundError:
            raise self.error("no such file") from None
        except PermissionError:
            raise self.error(
                "permission denied", hint="make the file readable by the user running the gate"
            ) from None
        except OSError as exc:
            raise self.error(f"cannot read: {exc.strerror or exc}") from None

    @cached_property
    def _read(self) -> bytes | ArtifactError:
        # Read once, the refusal included: detection and every parse ask again.
        try:
            data = self._open_read(self.max_bytes + 1)
        except ArtifactError as exc:
            return exc
        if len(data) > self.max_bytes:  # grew since the stat
            return self._too_large(len(data))
        return data

    @cached_property
    def _head(self) -> bytes | ArtifactError:
        if "_read" in self.__dict__:
            read = self._read
            return read if isinstance(read, ArtifactError) else read[:HEAD_BYTES]
        try:
            return self._open_read(HEAD_BYTES, whole=False)
        except ArtifactError as exc:
            return exc

    def check(self) -> None:
        """Raise the ``ArtifactError`` that keeps this file from being read at all, if any
        (not a regular file, a link out of the release, unreadable), reading only its head.
        The size limit applies when the whole file is read (``data``)."""
        self.head  # noqa: B018

    @property
    def head(self) -> bytes:
        """The first 64 KiB, for a quick look at a file's syntax without reading all of it
        (a large binary in the release is not read); refused as ``data`` is, except for the
        size limit."""
        head = self._head
        if isinstance(head, ArtifactError):
            raise head
        return head

    @property
    def data(self) -> bytes:
        """The whole file, refused when it is not a regular file or larger than
        ``max_bytes``."""
        read = self._read
        if isinstance(read, ArtifactError):
            raise read
        return read

    @property
    def read_sha256(self) -> str | None:
        """SHA-256 (hex) of the bytes this run read and evaluated, or None when the file was
        never read whole (an auditor's digest must be of what was judged, not of the file
        as it is later)."""
        read = self.__dict__.get("_read")
        if not isinstance(read, bytes):
            return None
        import hashlib

        return hashlib.sha256(read).hexdigest()

    @cached_property
    def text(self) -> str:
        """The file as UTF-8 text (a BOM is dropped); binary content is refused."""
        return self._decoded()

    def _decoded(self) -> str:
        data = self.data
        if b"\x00" in data[:HEAD_BYTES]:
            raise self.error("binary content (NUL bytes), expected text")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self.error(f"not UTF-8 text (invalid byte at offset {exc.start})") from None

    @property
    def json(self) -> Any:
        """The file parsed as one JSON document (parsed once: its refusal too, which every
        format's detection asks about again)."""
        parsed = self._json
        if isinstance(parsed, ArtifactError):
            raise parsed
        return parsed

    @property
    def json_parsed(self) -> bool:
        """Whether ``json`` has been asked for already (its answer, a document or a refusal,
        costs nothing more)."""
        return "_json" in self.__dict__

    def forget_json(self) -> None:
        """Free the parsed JSON tree (``json`` parses the same bytes again if asked)."""
        self.__dict__.pop("_json", None)

    @cached_property
    def _json(self) -> Any:
        try:
            # The decoded text is not kept (unless another reader asked for it): a second
            # copy of a 200 MB report would stay in memory for the whole run.
            text = self.__dict__.get("text") or self._decoded()
            if not text.strip():
                raise self.error("empty file, expected JSON")
            return parse_json(text, self)
        except ArtifactError as exc:
            return exc

    @cached_property
    def yaml(self) -> list[YamlDocument]:
        """Every document of the file parsed as YAML, with line marks."""
        try:
            return load_documents(self.text, self.display)
        except ArtifactError:
            raise
        except CompliancegateError as exc:
            raise self.error(exc.message, line=exc.line, hint=exc.hint) from None

    @cached_property
    def toml(self) -> Any:
        """The file parsed as TOML, dates and times turned into ISO 8601 strings."""
        import tomllib

        try:
            return _iso_dates(tomllib.loads(self.text))
        except tomllib.TOMLDecodeError as exc:
            raise self.error(f"invalid TOML: {exc}") from None
        except RecursionError:
            raise self.error("TOML nesting too deep") from None
        except ValueError:  # an integer beyond Python's 4,300-digit conversion limit
            raise self.error("invalid TOML: a number too long to read") from None

    @cached_property
    def xml(self) -> Any:
        """The root element, parsed with defusedxml (no entity expansion, no external
        resources, so entity bombs and XXE fail here)."""
        import xml.etree.ElementTree as ET

        data = self.data
        if _plain_xml(data):
            try:
                # No DTD in a UTF-8 document: nothing for defusedxml to refuse, and the C
                # tree builder is five times faster than its pure-Python one.
                return ET.fromstring(data)  # noqa: S314 - no DTD: see _plain_xml
            except ET.ParseError as exc:
                line = exc.position[0] if exc.position else None
                raise self.error(f"invalid XML: {exc}", line=line) from None

        import defusedxml
        import defusedxml.ElementTree

        try:
            return defusedxml.ElementTree.fromstring(data)
        except defusedxml.DefusedXmlException as exc:
            raise self.error(
                f"refused hostile XML: {type(exc).__name__}",
                hint="entity declarations and external references are not allowed in artifacts",
            ) from None
        except ET.ParseError as exc:
            line = exc.position[0] if exc.position else None
            raise self.error(f"invalid XML: {exc}", line=line) from None
        except LookupError as exc:  # <?xml encoding="..."?> names no codec Python knows
            raise self.error(f"invalid XML: {exc}") from None


_XML_DECLARATION = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")
_UTF8_NAMES = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})


def _plain_xml(data: bytes) -> bool:
    """Whether ``data`` is XML without a document type declaration, in UTF-8 (or ASCII):
    then an entity can be neither declared nor fetched, which is all defusedxml guards
    against, and the standard library's C parser reads it the same. Any other encoding (one
    in which ``<!DOCTYPE`` is not those ASCII bytes, UTF-16, EBCDIC) and anything naming a
    DTD or an entity, even in a comment, goes to defusedxml."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data or b"\x00" in data[:HEAD_BYTES]:
        return False
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return False
    declared = _XML_DECLARATION.match(body)
    return declared is None or declared.group(1).lower() in _UTF8_NAMES


def _iso_dates(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _iso_dates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_iso_dates(v) for v in node]
    if isinstance(node, dt.datetime | dt.date | dt.time):
        return node.isoformat()
    return node


def parse_json(text: str, source: Source, *, what: str = "JSON", line: int | None = None) -> Any:
    """Parse JSON text read from ``source`` (the whole file, a JSON Lines line or a decoded
    envelope payload); every failure is an ``ArtifactError`` naming the file and ``what``.

    Duplicate keys and ``NaN``/``Infinity`` literals are refused (see ``strict_json``).
    """
    from compliancegate.artifacts import strict_json

    try:
        with collector_paused():
            return strict_json.loads(text)
    except json.JSONDecodeError as exc:
        problem = "truncated" if exc.pos >= len(text.rstrip()) else "invalid"
        raise source.error(
            f"{problem} {what}: {exc.msg} (column {exc.colno})", line=line or exc.lineno
        ) from None
    except strict_json.Refused as exc:
        where = line
        if where is None and exc.pos is not None:
            where = strict_json.line_of(text, exc.pos)
        raise source.error(
            f"refused {what}: {exc.message}",
            line=where,
            hint="fix the producer or the file: compliancegate does not guess which value "
            "was meant",
        ) from None
    except RecursionError:
        raise source.error(f"{what} nesting too deep", line=line) from None
    except ValueError:  # an integer literal beyond Python's 4,300-digit conversion limit
        raise source.error(f"invalid {what}: a number too long to read", line=line) from None
