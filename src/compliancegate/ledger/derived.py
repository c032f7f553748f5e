"""The derived-state cache: the findings derived up to a head, so that a run replays only the
records after it.

The cache lives in the ledger's state folder (``placement.ledger_state``), outside the gated
checkout, beside the pending queue, in ``derived/``:

- ``state.json``: one line of header, then the *hot* part of the state (``StateBuilder.export``:
  what every run reads). The header names the ledger (its identity), the head the state was
  derived at (record number, hash, byte size), the SHA-256 of each 4 MiB block of the records
  file up to that head, the SHA-256 of the hot part and of each cold segment, the format and
  tool versions, and an HMAC-SHA256 over all of it with the queue's key (``queue.key``);
- ``cold-<sha256>.json``: segments of *cold* rows (lives resolved and runs recorded before the
  head), each a JSON array of rows, read only when something needs them (``findings list``, a note
  on a resolved finding). Each run that appends adds one small segment; past
  ``MAX_SEGMENTS`` they are merged into one.

Nothing in it is trusted: a cache that is missing, unreadable, malformed, of another format or
tool version, of another ledger, not signed by this runner's queue key, or whose head is no
longer a prefix of the ledger (a block of the records file up to it changed) is ignored, and
the store replays from the first record. A cold segment that fails its digest when it is read
makes the store replay from the first record too (``StaleState``). Writing the cache never
fails an operation.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate import __version__
from compliancegate.ledger.chain import ChainHead
from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.records import canonical, line_hash
from compliancegate.ledger.state import StaleState, StateBuilder

FORMAT = 1
"""Bumped whenever the cache's layout, or what is derived from records, changes."""
CACHE_DIR = "derived"
INDEX_FILE = "state.json"
BLOCK = 4 * 2**20
"""Bytes of the records file per prefix digest: appending rehashes only the last block."""
MAX_SEGMENTS = 32
"""Cold segments kept before they are merged into one."""
_DOMAIN = b"compliancegate derived state v1\n"
_STALE_SECONDS = 600.0
"""An unreferenced segment younger than this may belong to a concurrent writer's index."""

Reader = Callable[[int, int], bytes]
"""``read(offset, length)``: bytes of the records file (fewer at its end)."""
KeySource = Callable[[bool], "bytes | None"]
"""The queue key (created when the argument is True); None when there is none; may raise
``LedgerError`` (a key with loose permissions)."""


@dataclass(frozen=True)
class Resumed:
    """A state restored from the cache, and the head it was derived at."""

    state: StateBuilder
    head: ChainHead
    blocks: tuple[str, ...]
    """The digests of the records file's full blocks up to ``head`` (verified)."""
    anchor: str | None = None
    """What the store saved with it (the git store: the commit the state is at)."""


def prefix_blocks(read: Reader, size: int, known: Sequence[str] = ()) -> tuple[list[str], str]:
    """The SHA-256 of each full ``BLOCK`` of the first ``size`` bytes (the first ``known``
    ones taken as given) and of the partial block after them."""
    full = size // BLOCK
    blocks = list(known[:full])
    for index in range(len(blocks), full):
        blocks.append(hashlib.sha256(read(index * BLOCK, BLOCK)).hexdigest())
    tail = hashlib.sha256(read(full * BLOCK, size - full * BLOCK)).hexdigest()
    return blocks, tail


def byte_reader(data: bytes) -> Reader:
    """A ``Reader`` over bytes in memory."""
    return lambda offset, length: data[offset : offset + length]


def _last_line(read: Reader, size: int) -> bytes:
    """The last line of the first ``size`` bytes (which end with a newline)."""
    span = 4096
    while True:
        start = max(0, size - span)
        chunk = read(start, size - start)
        cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
        if cut >= 0 or start == 0:
            return chunk[cut + 1 : -1]
        span *= 4


class DerivedCache:
    """One ledger's derived-state cache (see the module docstring)."""

    def __init__(self, state: Path, identity: str, key: KeySource) -> None:
        """The cache in ``state``/``derived`` of the ledger ``identity``; ``key`` gives the
        queue key that signs it."""
        self.folder = state / CACHE_DIR
        self._identity = identity
        self._key = key
        self.why: str | None = None
        """Why the last ``resume`` found nothing usable (for tests and debugging)."""

    # ------------------------------------------------------------------- reading

    def resume(self, read: Reader, head: ChainHead, stamp: str | None = None) -> Resumed | None:
        """The cached state when its head is still a prefix of the ledger that ends at
        ``head``; None (and ``why``) when there is no usable cache. ``stamp`` says what the
        records are now (``save``); when it is the one saved with the cache, they are
        unchanged since, and the blocks up to its head are not hashed again."""
        try:
            return self._resume(read, head, stamp)
        except (OSError, LedgerError, ValueError, KeyError, TypeError, IndexError) as exc:
            self.why = f"unreadable ({exc})"
        except RecursionError:
            self.why = "unreadable (nested too deep)"
        return None

    def _miss(self, why: str) -> Resumed | None:
        self.why = why
        return None

    def _resume(self, read: Reader, head: ChainHead, stamp: str | None) -> Resumed | None:
        index = self.folder / INDEX_FILE
        try:
            size = index.stat().st_size
        except FileNotFoundError:
            return self._miss("no cache")
        # The hot part grows with the ledger, never past it by much: a file far larger is
        # not a cache, and is not read into memory.
        if size > _size_limit(head.size):
            return self._miss("far larger than the ledger")
        data = index.read_bytes()
        key = self._key(False)
        if key is None:
            return self._miss("no queue key to check it with")
        first, sep, hot_bytes = data.partition(b"\n")
        if not sep:
            return self._miss("no header")
        header = json.loads(first)
        if not isinstance(header, dict):
            return self._miss("malformed header")
        mac = header.pop("mac", None)
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, header)):
            return self._miss("not signed by this runner's queue key")
        if header.get("v") != FORMAT or header.get("tool") != __version__:
            return self._miss("another format or tool version")
        if header.get("identity") != self._identity:
            return self._miss("another ledger")
        raw = header["head"]
        cached = ChainHead(int(raw["seq"]), str(raw["hash"]), int(raw["size"]))
        if cached.seq < 1 or cached.seq > head.seq or cached.size > head.size:
            return self._miss("its head is past the ledger's end")
        if cached.seq == head.seq and cached != head:
            return self._miss("its head is not the ledger's")
        blocks = [str(b) for b in header["blocks"]]
        if len(blocks) != cached.size // BLOCK:
            return self._miss("malformed block list")
        unchanged = stamp is not None and header.get("stamp") == stamp
        if not unchanged and prefix_blocks(read, cached.size) != (blocks, header["tail"]):
            return self._miss("the records up to its head changed")
        if line_hash(_last_line(read, cached.size)) != cached.hash:
            return self._miss("the record at its head has another hash")
        if hashlib.sha256(hot_bytes).hexdigest() != header["hot"]:
            return self._miss("the hot part does not match its digest")
        segments = tuple(
            (str(name), str(digest), int(size)) for name, digest, size in header["segments"]
        )
        hot = _decode_hot(hot_bytes)
        state = StateBuilder.restore(hot, lambda: self._cold(segments), segments)
        if state.records != cached.seq or state.head != cached.hash:
            return self._miss("the state is not at its head")
        self.why = None
        anchor = header.get("anchor")
        return Resumed(state, cached, tuple(blocks), anchor if isinstance(anchor, str) else None)

    def _cold(self, segments: Sequence[tuple[str, str, int]]) -> list[Any]:
        rows: list[Any] = []
        for name, digest, size in segments:
            path = self._segment(name)
            try:
                # The size is signed with the header: nothing larger is read into memory.
                if path.stat().st_size != size:
                    raise StaleState(f"{name} is not {size} bytes")
                data = path.read_bytes()
            except OSError as exc:
                raise StaleState(f"cannot read {name}: {exc}") from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise StaleState(f"{name} does not match its digest")
            try:
                segment = json.loads(data)
            except (ValueError, RecursionError) as exc:
                raise StaleState(f"{name} is malformed ({exc})") from None
            if not isinstance(segment, list):
                raise StaleState(f"{name} is not a list of rows")
            rows.extend(segment)
        return rows

    def _segment(self, name: str) -> Path:
        if not (name.startswith("cold-") and name.endswith(".json") and "/" not in name):
            raise StaleState(f"{name!r} is not a segment name")
        return self.folder / name

    # ------------------------------------------------------------------- writing

    def save(
        self,
        state: StateBuilder,
        head: ChainHead,
        read: Reader,
        known: Sequence[str] = (),
        anchor: str | None = None,
        stamp: str | None = None,
    ) -> tuple[str, ...]:
        """Cache ``state``, derived at ``head`` of the records ``read`` gives (the first
        ``known`` block digests taken as given), with the store's ``anchor`` and the
        records' ``stamp`` (what changes whenever they do: the file's inode, size and times,
        taken before ``read`` is), as ``resume`` checks them; returns the full blocks'
        digests. Never raises: a cache that cannot be written is simply not there next
        time."""
        if head.seq < 1 or state.records != head.seq or state.head != head.hash:
            return tuple(known)
        try:
            return self._save(state, head, read, known, anchor, stamp)
        except (OSError, LedgerError, ValueError, StaleState):
            return tuple(known)

    def _save(
        self,
        state: StateBuilder,
        head: ChainHead,
        read: Reader,
        known: Sequence[str],
        anchor: str | None,
        stamp: str | None,
    ) -> tuple[str, ...]:
        key = self._key(True)
        if key is None:
            return tuple(known)
        hot, rows = state.export()
        base = state.cold_base
        segments: list[tuple[str, str, int]] = []
        if isinstance(base, tuple):
            segments = list(base)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if rows:
            segments.append(self._write_segment(_dump(rows)))
        if len(segments) > MAX_SEGMENTS:
            segments = [self._write_segment(_dump(self._cold(segments)))]
        hot_bytes = _encode_hot(hot)
        blocks, tail = prefix_blocks(read, head.size, known)
        header: dict[str, Any] = {
            "v": FORMAT,
            "tool": __version__,
            "identity": self._identity,
            "head": {"seq": head.seq, "hash": head.hash, "size": head.size},
            "blocks": blocks,
            "tail": tail,
            "hot": hashlib.sha256(hot_bytes).hexdigest(),
            "segments": [list(s) for s in segments],
            "anchor": anchor,
            "stamp": stamp,
        }
        header["mac"] = _mac(key, header)
        self._write(INDEX_FILE, canonical(header) + b"\n" + hot_bytes)
        self._collect({name for name, _, _ in segments})
        return tuple(blocks)

    def _write_segment(self, data: bytes) -> tuple[str, str, int]:
        digest = hashlib.sha256(data).hexdigest()
        name = f"cold-{digest}.json"
        if not (self.folder / name).exists():
            self._write(name, data)
        return name, digest, len(data)

    def _write(self, name: str, data: bytes) -> None:
        # Whole or not at all: a torn file would fail its digest anyway, but a reader should
        # not even see one.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _collect(self, keep: set[str]) -> None:
        """Remove segments no index names any more (old enough not to be a concurrent
        writer's that has not written its index yet)."""
        limit = time.time() - _STALE_SECONDS
        for path in self.folder.iterdir():
            name = path.name
            if name in keep or not (name.startswith(("cold-", ".tmp-"))):
                continue
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < limit:
                    path.unlink()


def _encode_hot(hot: dict[str, Any]) -> bytes:
    """The hot part: one JSON line, then the long newline-joined string fields (operation
    ids, fingerprints) as raw UTF-8, their byte lengths in the JSON: no escaping to do or
    undo on the way in or out."""
    raw: dict[str, int] = {}
    parts: list[bytes] = []
    small = dict(hot)
    for name, value in hot.items():
        if isinstance(value, str) and len(value) > 64:
            data = value.encode("utf-8", "surrogatepass")
            raw[name] = len(data)
            parts.append(data)
            del small[name]
    line = json.dumps({**small, "raw": raw}, separators=(",", ":")).encode("ascii")
    return line + b"\n" + b"".join(parts)


def _decode_hot(data: bytes) -> dict[str, Any]:
    line, _, rest = data.partition(b"\n")
    hot = json.loads(line)
    if not isinstance(hot, dict) or not isinstance(hot.get("raw"), dict):
        raise ValueError("the hot part is not an object with raw fields")
    position = 0
    for name, size in hot.pop("raw").items():
        if not isinstance(size, int) or size < 0 or position + size > len(rest):
            raise ValueError(f"raw field {name} overruns the hot part")
        hot[name] = rest[position : position + size].decode("utf-8", "surrogatepass")
        position += size
    if position != len(rest):
        raise ValueError("bytes after the raw fields")
    return hot


def _size_limit(records: int) -> int:
    """The largest ``state.json`` read for a records file of ``records`` bytes."""
    return 4 * records + 16 * 2**20


def _dump(rows: list[Any]) -> bytes:
    return json.dumps(rows, separators=(",", ":"), allow_nan=False).encode("ascii")


def _mac(key: bytes, header: dict[str, Any]) -> str:
    return hmac.new(key, _DOMAIN + canonical(header), hashlib.sha256).hexdigest()
