"""lcov tracefiles (``lcov``, ``geninfo``, Istanbul/nyc, c8, coverage.py ``lcov``, grcov,
cargo-llvm-cov), normalized to the ``coverage`` kind.

A tracefile is a list of records, one per source file: ``SF:path``, then ``DA:line,hits``
for each instrumented line, ``BRDA:line,block,branch,taken`` for each branch, the summaries
``LF``/``LH`` (lines found/hit) and ``BRF``/``BRH`` (branches found/hit), and
``end_of_record``. Counts are computed from the ``DA`` and ``BRDA`` records, which are the
measurements; the summaries are used only for a file that has none (some tools write
summaries alone). A file named in several records (one per test name ``TN:``) is merged
line by line, so its lines are not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compliancegate.artifacts.numbers import whole_number
from compliancegate.artifacts.sniffing import first_line_of
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

KIND = "coverage"
_FIRST_RECORDS = ("TN:", "SF:")
_MAX_NUMBER_DIGITS = 18


class Lcov:
    """lcov tracefiles: ``.info`` or ``.lcov`` files starting with a ``TN:`` or ``SF:``."""

    name = "lcov"
    kind = KIND
    syntax = "text"

    def sniff(self, source: Source) -> bool:
        """The first record is a test name or a source file."""
        return first_line_of(source).startswith(_FIRST_RECORDS)

    def parse(self, source: Source) -> list[Artifact]:
        """One ``coverage`` document: totals and one entry per source file."""
        files: dict[str, _File] = {}
        current: _File | None = None
        start = 0
        for number, raw in enumerate(source.text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            key, _, value = line.partition(":")
            if key == "SF":
                if current is not None:
                    raise source.error(
                        f"SF:{value} starts before the record of {current.path} ended",
                        line=number,
                    )
                if not value:
                    raise source.error("SF: without a file name", line=number)
                current = files.setdefault(value, _File(value))
                start = number
            elif key == "end_of_record":
                if current is None:
                    raise source.error("end_of_record outside a record", line=number)
                current = None
            elif key == "BRDA":
                if current is None:
                    raise source.error("BRDA: outside an SF: record", line=number)
                _branch(current, value, source, number)
            elif key in _RECORDS:
                if current is None:
                    raise source.error(f"{key}: outside an SF: record", line=number)
                _RECORDS[key](current, _numbers(value, key, source, number))
            elif key == "TN" or (key.isalpha() and key.isupper()):
                continue  # test names, functions (FN, FNDA, FNF, FNH), VER and the like
            else:
                raise source.error(f"not an lcov record: {line[:60]!r}", line=number)
        if current is not None:
            raise source.error(
                f"truncated: the record of {current.path} has no end_of_record", line=start
            )
        if not files:
            raise source.error("no SF: record: an lcov tracefile names at least one file")
        totals = [f.totals() for f in files.values()]
        lines_valid = sum(t[0] for t in totals)
        lines_covered = sum(t[1] for t in totals)
        branches_valid = sum(t[2] for t in totals)
        branches_covered = sum(t[3] for t in totals)
        document = {
            "line_rate": round(lines_covered / lines_valid, 6) if lines_valid else None,
            "branch_rate": (
                round(branches_covered / branches_valid, 6) if branches_valid else None
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
    """What the records of one source file say."""

    path: str
    hits: dict[int, int] = field(default_factory=dict)
    branches: dict[tuple[int, str, str], bool] = field(default_factory=dict)
    """(line, block, branch) -> taken at least once."""
    found: int = 0
    hit: int = 0
    branches_found: int = 0
    branches_hit: int = 0

    def totals(self) -> tuple[int, int, int, int]:
        """(lines valid, lines covered, branches valid, branches covered)."""
        if self.hits:
            lines = (len(self.hits), sum(1 for h in self.hits.values() if h > 0))
        else:
            lines = (self.found, self.hit)
        if self.branches:
            branches = (len(self.branches), sum(self.branches.values()))
        else:
            branches = (self.branches_found, self.branches_hit)
        return (*lines, *branches)

    def item(self, display: str) -> dict[str, Any]:
        valid, covered, _, _ = self.totals()
        return {
            "path": self.path,
            "line_rate": round(covered / valid, 6) if valid else None,
            "lines_valid": valid,
            "lines_covered": covered,
            "source": display,
        }


def _numbers(value: str, key: str, source: Source, line: int) -> list[int | None]:
    """The comma-separated numbers of a record; ``-`` (branch never evaluated) is None.

    ``DA`` may carry a checksum after the hit count, which is not a number and is ignored.
    """
    parts = value.split(",")
    wanted = _ARITY[key]
    if len(parts) < wanted:
        raise source.error(f"{key}:{value[:60]} has fewer than {wanted} fields", line=line)
    numbers: list[int | None] = []
    for part in parts[:wanted]:
        numbers.append(_count(part.strip(), key, value, source, line))
    return numbers


def _count(text: str, key: str, value: str, source: Source, line: int) -> int | None:
    if text == "-" and key == "BRDA":
        return None
    if (number := whole_number(text)) is not None:
        return number
    if key == "DA" and text.startswith("-") and whole_number(text[1:]) is not None:
        # Some gcov versions wrote negative hit counts on overflow; the line was run.
        return 1
    raise source.error(f"{key}:{value[:60]}: {text[:20]!r} is not a count", line=line)


def _branch(file: _File, value: str, source: Source, line: int) -> None:
    """``BRDA:line,block,branch,taken``. Only the line and the taken count are numbers: the
    block and branch are ids, which coverage.py 7 writes as text (``jump to line 14``,
    ``exit the module``) and lcov 2 prefixes with ``e`` for exception branches. A branch id
    holding commas keeps them: the taken count is the last field."""
    parts = value.split(",")
    if len(parts) < 4:
        raise source.error(f"BRDA:{value[:60]} has fewer than 4 fields", line=line)
    number = _count(parts[0].strip(), "BRDA", value, source, line) or 0
    taken = _count(parts[-1].strip(), "BRDA", value, source, line)
    key = (number, parts[1].strip(), ",".join(parts[2:-1]).strip())
    file.branches[key] = file.branches.get(key, False) or bool(taken)


def _da(file: _File, n: list[int | None]) -> None:
    number, hits = n[0] or 0, n[1] or 0
    file.hits[number] = file.hits.get(number, 0) + hits


def _summary(name: str) -> Any:
    def record(file: _File, n: list[int | None]) -> None:
        setattr(file, name, getattr(file, name) + (n[0] or 0))

    return record


_ARITY = {"DA": 2, "LF": 1, "LH": 1, "BRF": 1, "BRH": 1}
_RECORDS = {
    "DA": _da,
    "LF": _summary("found"),
    "LH": _summary("hit"),
    "BRF": _summary("branches_found"),
    "BRH": _summary("branches_hit"),
}

FORMAT = Lcov()
