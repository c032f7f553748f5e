"""The hash chain: every record carries the SHA-256 of the previous record's exact bytes.

Editing a record changes its bytes, so the next record's ``prev`` no longer matches;
deleting, inserting or reordering records breaks the ``seq`` numbering or a ``prev``. The
last record has no successor to vouch for it: the stores anchor it separately (the file
store's ``head.json``, the git store's commit history).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from compliancegate.ledger.interface import ChainError
from compliancegate.ledger.records import (
    Entry,
    Record,
    RecordFormatError,
    decode,
    encode,
    line_hash,
)

GENESIS = "0" * 64
"""The ``prev`` of the first record."""

TAMPER_HINT = "the ledger was edited, or records were deleted, inserted or reordered"


@dataclass(frozen=True)
class ChainHead:
    """Where the chain ends: the last record's number and hash, and the bytes up to it."""

    seq: int
    hash: str
    size: int
    """Bytes of the records file through the last record's newline."""


EMPTY = ChainHead(0, GENESIS, 0)
"""The head of an empty ledger."""


@dataclass(frozen=True)
class Linked:
    """Entries chained onto a head: their records, the bytes to append and the new head."""

    records: tuple[Record, ...]
    data: bytes
    head: ChainHead


def link(head: ChainHead, entries: Sequence[Entry]) -> Linked:
    """Chain ``entries`` after ``head``; nothing is written."""
    records: list[Record] = []
    parts: list[bytes] = []
    prev, seq, size = head.hash, head.seq, head.size
    for entry in entries:
        seq += 1
        line = encode(seq, prev, entry)
        digest = line_hash(line)
        records.append(Record(seq, prev, entry.kind, entry.at, entry.data, digest))
        parts.append(line)
        parts.append(b"\n")
        size += len(line) + 1
        prev = digest
    return Linked(tuple(records), b"".join(parts), ChainHead(seq, prev, size))


class ChainWalk:
    """Reads records in order, checking each one's format, number and link.

    Iterate it for the records; ``head`` is the head after the last one yielded. A line
    without its newline at the very end is not a record but a torn tail: it is left in
    ``tail`` for the store to judge (an interrupted append, or damage).
    """

    def __init__(
        self, lines: Iterable[bytes], file: str | None = None, start: ChainHead = EMPTY
    ) -> None:
        """``lines``: the records file split after each newline (``IO.readline`` style);
        ``start``: the head they follow (a bundle holds a segment of the ledger)."""
        self._lines = lines
        self._file = file
        self._start = start
        self.head = start
        self.tail = b""

    def __iter__(self) -> Iterator[Record]:
        start = self._start
        prev, seq, size = start.hash, start.seq, start.size
        for raw in self._lines:
            if self.tail:
                # Only the very last piece may lack a newline; anything after it is damage.
                raise self._error(
                    seq + 1, "a record is cut short before the end", seq + 1 - start.seq
                )
            if not raw.endswith(b"\n"):
                self.tail = raw
                continue
            number = seq + 1
            row = number - start.seq
            line = raw[:-1]
            try:
                record = decode(line)
            except RecordFormatError as exc:
                raise self._error(number, f"malformed: {exc}", row) from None
            if record.seq != number:
                raise self._error(
                    number,
                    f"line {row} holds record {record.seq}, expected {number}",
                    row,
                )
            if record.prev != prev:
                if number == 1:
                    raise self._error(number, "its prev is not the genesis value", row)
                raise self._error(
                    number,
                    f"its prev is not the SHA-256 of record {seq}: record {seq} or this one "
                    "was edited, or a record between them deleted",
                    row,
                )
            prev, seq, size = record.hash, number, size + len(raw)
            self.head = ChainHead(seq, prev, size)
            yield record

    def _error(self, seq: int, message: str, line: int) -> ChainError:
        return ChainError(message, seq=seq, file=self._file, line=line, hint=TAMPER_HINT)
