"""Cobertura XML coverage reports (coverage.py, Cobertura, gcovr, JaCoCo converters...),
normalized to the ``coverage`` kind.

The totals a policy compares with a threshold come from the root element's attributes, the
numbers the producer itself printed; where the root lacks them (Cobertura 1.9 writes only
``line-rate`` and ``branch-rate``), the line and branch counts are computed from the
``<line>`` elements. The per-file list is always computed from the ``<line>`` elements of
each ``<class>`` (several classes may share one file, as a Java inner class does), never
from ``<method>`` lines, which repeat the class's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from compliancegate.artifacts.numbers import whole_number
from compliancegate.artifacts.raw_xml import local_name
from compliancegate.artifacts.sniffing import xml_root_of
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

KIND = "coverage"

_CONDITION = re.compile(r"\((\d+)/(\d+)\)")
"""``condition-coverage="50% (1/2)"``: branches taken of branches possible."""


class Cobertura:
    """Cobertura XML: a ``<coverage>`` root with ``line-rate`` or ``<packages>``."""

    name = "cobertura"
    kind = KIND
    syntax = "xml"

    def sniff(self, source: Source) -> bool:
        """A ``<coverage>`` root carrying Cobertura's rate attributes (Clover's root is also
        ``<coverage>``, without them)."""
        root = xml_root_of(source)
        if root is None or root[0] != "coverage":
            return False
        return "line-rate" in root[1] or "lines-valid" in root[1] or b"<packages" in source.data

    def parse(self, source: Source) -> list[Artifact]:
        """One ``coverage`` document: totals and one entry per source file."""
        root = source.xml
        if not isinstance(root.tag, str) or local_name(root.tag) != "coverage":
            raise source.error("not Cobertura XML: the root element is not <coverage>")
        files = _files(root, source)
        lines_valid = _count(root, "lines-valid", source)
        lines_covered = _count(root, "lines-covered", source)
        if lines_valid is None or lines_covered is None:
            lines_valid = sum(f.lines_valid for f in files.values())
            lines_covered = sum(f.lines_covered for f in files.values())
        branches_valid = _count(root, "branches-valid", source)
        branches_covered = _count(root, "branches-covered", source)
        if branches_valid is None or branches_covered is None:
            branches_valid = sum(f.branches_valid for f in files.values())
            branches_covered = sum(f.branches_covered for f in files.values())
        if lines_covered > lines_valid or branches_covered > branches_valid:
            raise source.error("more lines or branches covered than there are")
        line_rate = _rate(root, "line-rate", source)
        branch_rate = _rate(root, "branch-rate", source)
        document = {
            # No lines (or no branch measurement: coverage.py without --branch writes
            # branch-rate="0") is "not measured", not 0% and not 100%.
            "line_rate": (None if not lines_valid else _or(line_rate, lines_covered / lines_valid)),
            "branch_rate": (
                None if not branches_valid else _or(branch_rate, branches_covered / branches_valid)
            ),
            "lines_valid": lines_valid,
            "lines_covered": lines_covered,
            "branches_valid": branches_valid,
            "branches_covered": branches_covered,
            "files": [f.item(source.display) for f in files.values()],
        }
        return [Artifact(source.display, self.name, self.kind, self.syntax, document, line=1)]


@dataclass
class _File:
    """Line hits and branch counts of one source file, keyed by line number."""

    path: str
    hits: dict[int, int] = field(default_factory=dict)
    branches: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def lines_valid(self) -> int:
        return len(self.hits)

    @property
    def lines_covered(self) -> int:
        return sum(1 for h in self.hits.values() if h > 0)

    @property
    def branches_valid(self) -> int:
        return sum(total for _, total in self.branches.values())

    @property
    def branches_covered(self) -> int:
        return sum(taken for taken, _ in self.branches.values())

    def item(self, display: str) -> dict[str, Any]:
        return {
            "path": self.path,
            "line_rate": (
                round(self.lines_covered / self.lines_valid, 6) if self.lines_valid else None
            ),
            "lines_valid": self.lines_valid,
            "lines_covered": self.lines_covered,
            "source": display,
        }


def _files(root: Any, source: Source) -> dict[str, _File]:
    """Every ``<class>``'s own ``<lines>``, merged per file name (a line reported twice,
    by two classes of one file, counts once, with its highest hit count)."""
    files: dict[str, _File] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or local_name(element.tag) != "class":
            continue
        path = element.get("filename") or element.get("name") or ""
        entry = files.setdefault(path, _File(path))
        for lines in element:
            if not isinstance(lines.tag, str) or local_name(lines.tag) != "lines":
                continue
            for line in lines:
                if not isinstance(line.tag, str) or local_name(line.tag) != "line":
                    continue
                number = _int(line.get("number"), "line number", source)
                hits = _int(line.get("hits") or "0", f"hits of line {number}", source)
                entry.hits[number] = max(hits, entry.hits.get(number, 0))
                condition = _CONDITION.search(line.get("condition-coverage") or "")
                if line.get("branch") == "true" and condition:
                    taken = _int(condition.group(1), f"branches of line {number}", source)
                    total = _int(condition.group(2), f"branches of line {number}", source)
                    if taken > total:
                        raise source.error(f"line {number} of {path}: {taken} of {total} branches")
                    known = entry.branches.get(number, (0, 0))
                    entry.branches[number] = max(known, (taken, total))
    return files


def _int(text: str | None, what: str, source: Source) -> int:
    # Hit counts can be large, but a count with hundreds of digits is a malformed or hostile
    # file (and int() of a huge string is slow).
    number = whole_number(text)
    if number is None:
        raise source.error(f"{what} is not a whole number: {(text or '').strip()[:40]!r}")
    return number


def _count(root: Any, attribute: str, source: Source) -> int | None:
    text = root.get(attribute)
    return None if text is None else _int(text, attribute, source)


def _rate(root: Any, attribute: str, source: Source) -> float | None:
    text = root.get(attribute)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise source.error(f"{attribute} is not a number: {text[:40]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise source.error(f"{attribute} {text[:40]!r} is not a rate between 0 and 1")
    return value


def _or(given: float | None, computed: float) -> float:
    return given if given is not None else round(computed, 6)


FORMAT = Cobertura()
