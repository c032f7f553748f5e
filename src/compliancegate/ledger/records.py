"""Ledger records: the envelope every line carries, and its canonical JSON form.

A record is one line of JSON Lines::

    {"at":"2026-11-21T12:00:00Z","data":{...},"kind":"run","prev":"<sha256>","seq":1,"v":1}

Keys are sorted, there is no whitespace and every non-ASCII character is escaped, so the same
record always has the same bytes: the chain hashes those exact bytes (``chain.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

LEDGER_VERSION = 1
"""The ``v`` of every record this version writes and the only one it reads."""


class RecordKind(StrEnum):
    """What a record says happened."""

    RUN = "run"
    """A ``check`` ran: time, commit, environment, pipeline, decision."""
    OPENED = "finding.opened"
    """A finding's life began: a violation first failed, or a finding was opened by hand."""
    RESOLVED = "finding.resolved"
    """A finding's life ended: the policy was evaluated and the violation was gone."""
    WAIVED = "finding.waived"
    """A waiver now covers the violation."""
    UNWAIVED = "finding.unwaived"
    """The waiver no longer covers it (expired or removed): the finding is open again."""
    BREACHED = "finding.breached"
    """A production release ran while this break-fix finding was open."""
    ACKED = "finding.acked"
    NOTED = "finding.noted"
    PLANNED = "finding.planned"
    RECOVERED = "ledger.recovered"
    """An interrupted append was set aside into a quarantine file."""
    OVERFLOW = "finding.overflow"
    """A run's violations of one policy past the cap: their count and digest, no text
    (``overflow.py``)."""


# Exact JSON types (``type(x) in ...``): faster than isinstance, and a bool is not an int.
_NONE: type = type(None)
_STR: frozenset[type] = frozenset({str})
_OPT_STR: frozenset[type] = frozenset({str, _NONE})
_INT: frozenset[type] = frozenset({int})
_OPT_INT: frozenset[type] = frozenset({int, _NONE})
_BOOL: frozenset[type] = frozenset({bool})
_LIST: frozenset[type] = frozenset({list})
_DICT: frozenset[type] = frozenset({dict})
_OPT_DICT: frozenset[type] = frozenset({dict, _NONE})

# The fields each kind's ``data`` must have, and their JSON types. A record that lacks one,
# or has it with another type, is reported by ``ledger verify`` as malformed.
_FIELDS: Mapping[RecordKind, Mapping[str, frozenset[type]]] = {
    RecordKind.RUN: {
        "op": _STR,
        "run_id": _STR,
        "environment": _OPT_STR,
        "commit": _OPT_STR,
        "branch": _OPT_STR,
        "pipeline": _OPT_STR,
        "decision": _STR,
        "fail_on": _STR,
        "tool_version": _STR,
        "policies": _INT,
        "evaluated": _INT,
        "violations": _INT,
        "changes": _DICT,
    },
    RecordKind.OPENED: {
        "finding": _STR,
        "fingerprint": _STR,
        "life": _INT,
        "op": _STR,
        "run_id": _OPT_STR,
        "manual": _BOOL,
        "policy": _OPT_STR,
        "title": _STR,
        "controls": _LIST,
        "severity": _STR,
        "kind": _OPT_STR,
        "file": _OPT_STR,
        "line": _OPT_INT,
        "clock": _DICT,
        "waiver": _OPT_DICT,
        "by": _OPT_STR,
    },
    RecordKind.RESOLVED: {"finding": _STR, "run_id": _OPT_STR, "by": _OPT_STR, "text": _OPT_STR},
    RecordKind.WAIVED: {"finding": _STR, "run_id": _STR, "waiver": _DICT},
    RecordKind.UNWAIVED: {"finding": _STR, "run_id": _STR},
    RecordKind.BREACHED: {"finding": _STR, "run_id": _STR, "reason": _STR},
    RecordKind.ACKED: {"finding": _STR, "op": _STR, "by": _STR, "text": _OPT_STR},
    RecordKind.NOTED: {"finding": _STR, "op": _STR, "by": _STR, "text": _STR},
    RecordKind.PLANNED: {
        "finding": _STR,
        "op": _STR,
        "by": _STR,
        "file": _STR,
        "sha256": _STR,
        "plan": _STR,
    },
    RecordKind.RECOVERED: {"file": _STR, "bytes": _INT, "sha256": _STR, "after": _INT},
    RecordKind.OVERFLOW: {
        "finding": _STR,
        "op": _STR,
        "run_id": _STR,
        "policy": _STR,
        "cap": _INT,
        "count": _INT,
        "waived": _INT,
        "fingerprints": _STR,
    },
}


class RecordFormatError(ValueError):
    """A line is not a well-formed record (the caller adds which record it is)."""


@dataclass(frozen=True)
class Entry:
    """A record before it is chained: what happened and when."""

    kind: RecordKind
    at: dt.datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Record:
    """A chained record as read back from the ledger."""

    seq: int
    """Position in the ledger, from 1."""
    prev: str
    """SHA-256 (hex) of the previous record's exact bytes; the genesis value for record 1."""
    kind: RecordKind
    at: dt.datetime
    data: Mapping[str, Any]
    hash: str
    """SHA-256 (hex) of this record's exact bytes (its line without the newline)."""


def format_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> dt.datetime:
    """The aware UTC datetime of a ``format_time`` string; ``ValueError`` when it is not one.

    Cached: every record of a run carries the same time, and due dates repeat.
    """
    if not text.endswith("Z"):
        raise ValueError(f"{text!r} is not a UTC time ending in Z")
    return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.UTC)


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def encode(seq: int, prev: str, entry: Entry) -> bytes:
    """The line (without its newline) of ``entry`` chained as record ``seq`` after ``prev``."""
    return canonical(
        {
            "v": LEDGER_VERSION,
            "seq": seq,
            "prev": prev,
            "kind": entry.kind.value,
            "at": format_time(entry.at),
            "data": dict(entry.data),
        }
    )


def line_hash(line: bytes) -> str:
    """SHA-256 (hex) of a record's exact bytes."""
    return hashlib.sha256(line).hexdigest()


def decode(line: bytes) -> Record:
    """Parse and check one line (without its newline); ``RecordFormatError`` if malformed."""
    try:
        # Records are ASCII: decoding first spares json its encoding detection.
        raw = json.loads(line.decode("ascii"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a line nested thousands deep, from a hostile remote.
        raise RecordFormatError(f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise RecordFormatError("not a JSON object")
    if raw.get("v") != LEDGER_VERSION:
        raise RecordFormatError(f"unknown record version {raw.get('v')!r}")
    if set(raw) != {"v", "seq", "prev", "kind", "at", "data"}:
        raise RecordFormatError(f"unexpected envelope keys {sorted(raw)}")
    seq, prev, kind, at, data = raw["seq"], raw["prev"], raw["kind"], raw["at"], raw["data"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise RecordFormatError(f"seq {seq!r} is not a positive integer")
    if not isinstance(prev, str) or len(prev) != 64:
        raise RecordFormatError("prev is not a SHA-256 hex digest")
    try:
        record_kind = RecordKind(kind)
    except ValueError:
        raise RecordFormatError(f"unknown kind {kind!r}") from None
    try:
        moment = parse_time(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise RecordFormatError(f"at {at!r} is not an ISO 8601 UTC time")
    if not isinstance(data, dict):
        raise RecordFormatError("data is not an object")
    for key, types in _FIELDS[record_kind].items():
        if key not in data:
            raise RecordFormatError(f"{kind} record lacks data.{key}")
        if type(data[key]) not in types:
            raise RecordFormatError(f"data.{key} of a {kind} record has the wrong type")
    return Record(seq, prev, record_kind, moment, data, line_hash(line))
