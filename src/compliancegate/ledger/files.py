"""The on-disk ledger: ``records.jsonl``, ``head.json`` and ``quarantine/`` in one folder.

``records.jsonl`` holds the chained records, one per line. ``head.json`` anchors its end
(number, hash and byte size of the last record), so that an edit of the last record, a
deleted last line or a record appended by anything but compliancegate is detected too.

Appending is crash-safe, all records of one operation or none:

1. ``head.json`` is replaced (write, fsync, rename) by one that also names the *intent*:
   where the records file will end once the new records are written;
2. the records are appended and fsynced;
3. ``head.json`` is replaced by one that ends at the new last record, with no intent.

A process killed during step 2 leaves a torn tail that the intent covers. The next writer
(under the lock) finishes the append when the tail is complete, or else moves the tail into
``quarantine/`` and records that it did (``ledger.recovered``): nothing before it is lost.
Bytes after the head with no intent were not written by compliancegate: ``ledger verify``
fails on them and no writer appends after them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from compliancegate.ledger.chain import EMPTY, TAMPER_HINT, ChainHead, ChainWalk, Linked
from compliancegate.ledger.interface import ChainError, LedgerError, LedgerUnavailable
from compliancegate.ledger.lock import locked
from compliancegate.ledger.records import Entry, RecordKind, canonical, line_hash
from compliancegate.ledger.state import StateBuilder, StateError

RECORDS_FILE = "records.jsonl"
HEAD_FILE = "head.json"
LOCK_FILE = "lock"
QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True)
class Head:
    """The content of ``head.json``."""

    chain: ChainHead
    """Where the records file ends."""
    intent: ChainHead | None = None
    """Where it will end once the append in progress is written (None: none in progress)."""


EMPTY_HEAD = Head(EMPTY)


def _head_json(head: ChainHead) -> dict[str, Any]:
    return {"seq": head.seq, "hash": head.hash, "size": head.size}


def encode_head(head: Head) -> bytes:
    """``head.json``'s bytes."""
    intent = None if head.intent is None else _head_json(head.intent)
    return canonical({"v": 1, **_head_json(head.chain), "intent": intent}) + b"\n"


def _chain_head(raw: Any) -> ChainHead:
    seq, digest, size = raw["seq"], raw["hash"], raw["size"]
    if not (isinstance(seq, int) and isinstance(size, int) and seq >= 0 and size >= 0):
        raise ValueError("seq and size must be counts")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("hash must be a SHA-256 hex digest")
    return ChainHead(seq, digest, size)


def decode_head(data: bytes, file: str) -> Head:
    """Parse ``head.json``; a malformed one is a ``ChainError`` (the anchor was damaged)."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("v") != 1:
            raise ValueError("not a version 1 head")
        intent = raw["intent"]
        return Head(_chain_head(raw), None if intent is None else _chain_head(intent))
    except (ValueError, KeyError, TypeError) as exc:
        raise ChainError(f"head.json is malformed ({exc})", seq=0, file=file) from None


def replay(
    lines: Iterable[bytes], head: Head, builder: StateBuilder, file: str, start: ChainHead = EMPTY
) -> None:
    """Check the records in ``lines`` (exactly the bytes ``head`` covers after ``start``, the
    head ``builder`` is at) and take each into ``builder``; ``ChainError`` at the first record
    that is malformed, out of place, unlinked, contradicts the ones before, or is not the one
    the head names."""
    walk = ChainWalk(lines, file, start)
    for record in walk:
        try:
            builder.apply(record)
        except StateError as exc:
            raise ChainError(
                f"contradicts the records before it: {exc}",
                seq=record.seq,
                file=file,
                line=record.seq,
                hint=TAMPER_HINT,
            ) from None
    end = walk.head
    if walk.tail or end.seq < head.chain.seq:
        raise ChainError(
            f"missing or cut short: the ledger ends after record {end.seq} but its head "
            f"names record {head.chain.seq}",
            seq=end.seq + 1,
            file=file,
            line=end.seq + 1,
            hint=TAMPER_HINT,
        )
    if end != head.chain:
        raise ChainError(
            "is not the last record the ledger's head names: it was edited",
            seq=end.seq,
            file=file,
            line=end.seq,
            hint=TAMPER_HINT,
        )


def _limited_lines(handle: IO[bytes], size: int) -> Iterator[bytes]:
    """The lines of the first ``size`` bytes of ``handle``, read one at a time."""
    remaining = size
    while remaining > 0:
        line = handle.readline(remaining)
        if not line:
            return
        remaining -= len(line)
        yield line


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (the one place records reach the disk; the crash
    tests replace it to cut an append short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(folder: Path) -> None:
    # A rename or a new file is durable only once its directory entry is.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LedgerFolder:
    """One ledger folder. Reading needs no lock; ``recover`` and ``write`` need ``lock()``."""

    def __init__(self, folder: Path) -> None:
        """The ledger in ``folder`` (created by the first write)."""
        self.folder = folder
        self.records_path = folder / RECORDS_FILE
        self.head_path = folder / HEAD_FILE
        self.quarantine = folder / QUARANTINE_DIR

    @property
    def display(self) -> str:
        """The records file as named in messages."""
        return str(self.records_path)

    def lock(
        self, *, shared: bool = False, timeout: float = 60.0
    ) -> contextlib.AbstractContextManager[None]:
        """The folder's writer lock (created with the folder when missing)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger folder: {exc.strerror or exc}", file=str(self.folder)
            ) from None
        return locked(self.folder / LOCK_FILE, shared=shared, timeout=timeout)

    def version(self) -> tuple[object, ...] | None:
        """What tells the folder's content apart cheaply: ``head.json``'s bytes and the
        records file's size, times and inode; None when there is nothing to tell by."""
        try:
            head = self.head_path.read_bytes()
            info = self.records_path.stat()
        except OSError:
            return None
        return (head, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)

    def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the records file from ``offset``."""
        with self.records_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def exists(self) -> bool:
        """Whether anything was ever written here."""
        return self.head_path.exists() or self.records_path.exists()

    def _size(self) -> int:
        try:
            return self.records_path.stat().st_size
        except FileNotFoundError:
            return 0

    def read_head(self) -> Head:
        """The head; ``EMPTY_HEAD`` for a ledger never written."""
        try:
            data = self.head_path.read_bytes()
        except FileNotFoundError:
            if self._size():
                raise ChainError(
                    "head.json is missing, so the last record cannot be vouched for",
                    seq=0,
                    file=str(self.head_path),
                    hint=TAMPER_HINT,
                ) from None
            return EMPTY_HEAD
        except OSError as exc:
            raise LedgerError(f"cannot read: {exc.strerror}", file=str(self.head_path)) from None
        return decode_head(data, str(self.head_path))

    def load(
        self, builder: StateBuilder, head: Head | None = None, start: ChainHead = EMPTY
    ) -> Head:
        """Replay the records ``head`` (by default ``head.json``) covers after ``start``
        (where ``builder`` is) into ``builder``; returns the head."""
        head = self.read_head() if head is None else head
        if head.chain.seq == 0 and head.chain.size == 0:
            return head
        try:
            with self.records_path.open("rb") as handle:
                handle.seek(start.size)
                lines = _limited_lines(handle, head.chain.size - start.size)
                replay(lines, head, builder, self.display, start)
        except FileNotFoundError:
            replay((), head, builder, self.display, start)
        except OSError as exc:
            raise LedgerError(f"cannot read: {exc.strerror}", file=self.display) from None
        return head

    # ------------------------------------------------------------------- writing (locked)

    def recover(self, now: dt.datetime) -> list[Entry]:
        """Deal with an append a crash interrupted (call under the lock, before loading).

        Finishes it when all its bytes are there, else sets its torn tail aside into
        ``quarantine/`` and returns the ``ledger.recovered`` record to append. A ledger
        whose file does not end where its head says, with no append in progress, was changed
        by something else: ``ChainError``, and nothing is appended to it.
        """
        head = self.read_head()
        size = self._size()
        if head.intent is None:
            if size == head.chain.size:
                return []
            if size > head.chain.size:
                raise ChainError(
                    f"{size - head.chain.size} bytes follow record {head.chain.seq}, the last "
                    "one the ledger's head names: they were not appended by compliancegate",
                    seq=head.chain.seq + 1,
                    file=self.display,
                    line=head.chain.seq + 1,
                    hint="run compliancegate ledger verify",
                )
            raise ChainError(
                f"the records file is {head.chain.size - size} bytes shorter than its head says",
                seq=head.chain.seq,
                file=self.display,
                hint="records were deleted; run compliancegate ledger verify",
            )
        if size < head.chain.size:
            raise ChainError(
                "the records file is shorter than its head says",
                seq=head.chain.seq,
                file=self.display,
                hint="records were deleted; run compliancegate ledger verify",
            )
        try:
            with self.records_path.open("rb") as handle:
                handle.seek(head.chain.size)
                tail = handle.read()
        except FileNotFoundError:  # killed before the first append created the file
            tail = b""
        intent = head.intent
        if size == intent.size and tail.endswith(b"\n"):
            last = tail[:-1].rsplit(b"\n", 1)[-1]
            if line_hash(last) == intent.hash:
                # Every byte reached the disk; only the head was not moved.
                self._write_head(Head(intent))
                return []
        if not tail:
            # Killed before writing a byte: there is nothing to set aside.
            self._write_head(Head(head.chain))
            return []
        name = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-after-{head.chain.seq}.part"
        self.quarantine.mkdir(exist_ok=True)
        part = self.quarantine / name
        with part.open("wb") as handle:
            handle.write(tail)
            handle.flush()
            os.fsync(handle.fileno())
        with self.records_path.open("r+b") as handle:
            handle.truncate(head.chain.size)
            handle.flush()
            os.fsync(handle.fileno())
        self._write_head(Head(head.chain))
        data = {
            "file": f"{QUARANTINE_DIR}/{name}",
            "bytes": len(tail),
            "sha256": hashlib.sha256(tail).hexdigest(),
            "after": head.chain.seq,
        }
        return [Entry(RecordKind.RECOVERED, now, data)]

    def write(self, head: Head, linked: Linked) -> None:
        """Append ``linked`` (chained onto ``head``) with the intent protocol (call under
        the lock, after ``recover``)."""
        if not linked.data:
            return
        try:
            self._write_head(Head(head.chain, linked.head))
            fd = os.open(self.records_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                write_all(fd, linked.data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._write_head(Head(linked.head))
        except OSError as exc:
            # The intent stays in the head: the next writer sets the torn tail aside.
            raise LedgerUnavailable(
                f"cannot write the ledger: {exc.strerror or exc}", file=self.display
            ) from None

    def _write_head(self, head: Head) -> None:
        tmp = self.folder / (HEAD_FILE + ".tmp")
        with tmp.open("wb") as handle:
            handle.write(encode_head(head))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.head_path)
        _fsync_dir(self.folder)

    # ------------------------------------------------------------------- verifying

    def inspect(self, builder: StateBuilder) -> tuple[ChainError | None, list[str]]:
        """Verify the folder: every record, the head and whatever follows it.

        Returns the first problem (None when the ledger verifies) and notes on things that
        are not failures (an interrupted append the next writer will set aside).
        """
        notes: list[str] = []
        try:
            head = self.load(builder)
            extra = self._size() - head.chain.size
            if head.intent is not None:
                notes.append(
                    f"an append after record {head.chain.seq} was interrupted ({max(extra, 0)} "
                    "bytes written); the next write finishes it or sets it aside"
                )
            elif extra > 0:
                raise ChainError(
                    f"{extra} bytes follow record {head.chain.seq}, the last one the ledger's "
                    "head names: they were not appended by compliancegate",
                    seq=head.chain.seq + 1,
                    file=self.display,
                    line=head.chain.seq + 1,
                    hint=TAMPER_HINT,
                )
        except ChainError as exc:
            return exc, notes
        if self.quarantine.is_dir():
            parts = sorted(p.name for p in self.quarantine.iterdir())
            if parts:
                notes.append(
                    f"{len(parts)} interrupted append(s) set aside in {self.quarantine} "
                    "(each has a ledger.recovered record)"
                )
        return None, notes
