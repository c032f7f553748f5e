"""The bundle's container: a reproducible ``.tar.gz``, written and read as streams.

Layout rules (what :func:`write_archive` writes and :func:`scan_archive` accepts):

- POSIX.1-2001 (PAX) tar inside one gzip member. Only regular files: no directory entries (a
  member's folders are implied by its name), no links, devices, fifos or sparse files.
- Members in the order of their names (code-point order, the same as UTF-8 byte order), each
  with mode 0644, uid and gid 0, empty user and group names and mtime 0. A name longer than
  the ustar field or not ASCII is carried by a PAX ``path`` record, a size of 8 GiB or more by
  a PAX ``size`` record; nothing else is ever written in a PAX header.
- The gzip header has mtime 0 and no file name, so the same members give the same bytes
  whatever order they were given in, the umask, the files' own times, owners and modes, or
  the time of day (with the same Python and zlib: another zlib may compress differently).
- Member names are relative POSIX paths that :func:`check_name` accepts: no ``..``, ``.`` or
  empty component, not absolute, no backslash, control character or bidirectional text
  control, at most 255 bytes a component and 1,024 in all; no name twice, and no name
  inside another member (``a`` and ``a/b``).

Reading never trusts :mod:`tarfile`'s iteration, which stops silently at a damaged or
truncated header and ignores whatever follows the end-of-archive blocks (so a member appended
after the end would go unnoticed). :func:`scan_archive` decompresses the gzip stream itself
(refusing a second gzip member or any byte after the first), reads each 512-byte header with
``tarfile.TarInfo.frombuf`` (checksum, numeric fields, ustar prefix), applies PAX ``path`` and
``size`` records itself, and requires two zero blocks at the end followed by nothing but zero
padding. Anything it does not understand is refused, never skipped.

:func:`extract_archive` (for an auditor, after verification) writes only the members it is
told to expect, each checked against its digest while written, into an empty folder, through
descriptors opened relative to that folder with ``O_NOFOLLOW``: a symbolic link planted in the
folder is never followed, nothing is overwritten, and a failure removes what was written.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from compliancegate.errors import CompliancegateError

CHUNK = 1024 * 1024
"""Bytes read, hashed and written at a time: large enough that hashing and compression, not
Python, dominate the time; small enough that memory stays flat whatever a member's size."""
BLOCK = tarfile.BLOCKSIZE
MAX_NAME_BYTES = 1024
MAX_COMPONENT_BYTES = 255
MAX_PAX_HEADER = 64 * 1024
"""A PAX header holds a name and a size: 64 KiB is far more than either needs."""
MAX_TRAILING_ZEROS = 1024 * 1024
"""Zero padding accepted after the end-of-archive blocks (tar pads to its record size)."""
PAX_FIELDS_IGNORED = frozenset(
    {"mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "comment"}
)
"""PAX records that say nothing about where a member goes or what it holds."""
_TYPE_NAMES = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.DIRTYPE: "a directory",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a fifo",
    tarfile.CONTTYPE: "a contiguous file",
    tarfile.GNUTYPE_SPARSE: "a GNU sparse file",
    tarfile.GNUTYPE_LONGNAME: "a GNU long-name header",
    tarfile.GNUTYPE_LONGLINK: "a GNU long-link header",
    tarfile.XGLTYPE: "a global PAX header",
}


_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ArchiveError(CompliancegateError):
    """An archive cannot be written or read: the message says what is wrong, and which member."""

    def __init__(self, message: str, *, file: str | None = None, member: str | None = None) -> None:
        super().__init__(message, file=file)
        self.member = member
        """The member concerned, when there is one."""


@dataclass(frozen=True)
class Member:
    """One file of an archive, from bytes in memory or a file on disk."""

    name: str
    """Its relative POSIX path in the archive, e.g. ``runs/abc/results.json``."""
    data: bytes | None = None
    """Its bytes, when it is in memory (exactly one of ``data`` and ``path``)."""
    path: Path | None = None
    """The file holding it, streamed when the archive is written (a symbolic link is followed;
    what it reaches must be a regular file, and the digest says whether it is the one judged)."""
    size: int | None = None
    """For a path member: the size expected (None: whatever the file has when it is opened)."""
    sha256: str | None = None
    """For a path member: the SHA-256 (hex) expected (None: not checked)."""


@dataclass(frozen=True)
class Written:
    """One member as it was written."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Limits:
    """What an archive being read may hold at most."""

    members: int = 100_000
    """Number of members."""
    member_bytes: int = 4 * 1024**3
    """Size of one member."""
    total_bytes: int = 16 * 1024**3
    """Sum of the members' sizes."""
    kept_bytes: int = 256 * 1024**2
    """Sum of the sizes of the members kept in memory."""


@dataclass(frozen=True)
class Scanned:
    """One member as it was read."""

    name: str
    size: int
    sha256: str
    data: bytes | None
    """Its bytes, only when ``keep(name)`` said so."""


def check_name(name: str) -> str | None:
    """Why ``name`` is not a safe member name, or None.

    Refused: empty, absolute (``/x``, ``C:\\x``, ``C:x``, ``\\\\x``), any ``..``, ``.`` or empty
    component (``a//b``, ``./a``, ``a/``), backslashes, NUL or control characters (C0, DEL,
    C1), bidirectional text controls (U+202E and its kin), text that is not UTF-8, over 255
    bytes in a component or 1,024 in all.
    """
    if not name:
        return "the name is empty"
    if "\\" in name:
        return "the name contains a backslash"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        return "the name contains a control character"
    if any(c in _BIDI_CONTROLS for c in name):
        # A right-to-left override makes a listed name read as another one.
        return "the name contains a bidirectional text control"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    if name.startswith("/"):
        return "the name is absolute"
    if len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        return "the name starts with a drive letter"
    if len(encoded) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            shown = "an empty" if not part else f"a '{part}'"
            return f"the name has {shown} component"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return f"a component of the name is longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def _checked_names(members: Iterable[Member]) -> list[Member]:
    """The members sorted by name, once every name, duplicate and nesting has been checked."""
    chosen = sorted(members, key=lambda m: m.name)
    seen: set[str] = set()
    for member in chosen:
        why = check_name(member.name)
        if why:
            raise ArchiveError(f"member {member.name!r}: {why}", member=member.name)
        if (member.data is None) == (member.path is None):
            raise ArchiveError(
                f"member {member.name!r}: give exactly one of data and path", member=member.name
            )
        if member.name in seen:
            raise ArchiveError(
                f"member {member.name!r} is given twice; names in an archive are unique",
                member=member.name,
            )
        seen.add(member.name)
    _check_nesting(seen)
    return chosen


def _check_nesting(names: Iterable[str], file: str | None = None) -> None:
    names = set(names)
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in names:
                raise ArchiveError(
                    f"member {name!r} is inside member {folder!r}, which is a file",
                    file=file,
                    member=name,
                )


class _HashingReader:
    """A path member's bytes for tarfile: hashed as read, and exactly ``size`` of them."""

    def __init__(self, handle: BinaryIO, member: Member, size: int) -> None:
        self.handle = handle
        self.member = member
        self.size = size
        self.read_so_far = 0
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self.size - self.read_so_far if n < 0 else min(n, self.size - self.read_so_far)
        data = self.handle.read(want)
        if len(data) < want:
            raise ArchiveError(
                f"member {self.member.name!r}: {self.member.path} has fewer bytes than the "
                f"{self.size} expected: it changed after it was read",
                member=self.member.name,
            )
        self.read_so_far += len(data)
        self.hash.update(data)
        return data


def _add_path_member(tar: tarfile.TarFile, member: Member) -> Written:
    assert member.path is not None
    name = member.name
    try:
        # O_NONBLOCK: opening a fifo must not hang; it is refused just below.
        fd = os.open(member.path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ArchiveError(
            f"member {name!r}: cannot open {member.path}: {exc.strerror or exc}", member=name
        ) from None
    with os.fdopen(fd, "rb", buffering=0) as raw:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArchiveError(f"member {name!r}: {member.path} is not a regular file", member=name)
        os.set_blocking(fd, True)
        size = info.st_size if member.size is None else member.size
        if info.st_size != size:
            raise ArchiveError(
                f"member {name!r}: {member.path} has {info.st_size} bytes, not the {size} "
                "expected: it changed after it was read",
                member=name,
            )
        handle = io.BufferedReader(raw, buffer_size=CHUNK)
        reader = _HashingReader(handle, member, size)
        tar.addfile(_tarinfo(name, size), reader)
        if handle.read(1):
            raise ArchiveError(
                f"member {name!r}: {member.path} has more than the {size} bytes expected: it "
                "changed after it was read",
                member=name,
            )
    digest = reader.hash.hexdigest()
    if member.sha256 is not None and digest != member.sha256:
        raise ArchiveError(
            f"member {name!r}: {member.path} has SHA-256 {digest}, not the {member.sha256} "
            "expected: it changed after it was read",
            member=name,
        )
    return Written(name, size, digest)


def _check_described(member: Member, size: int, digest: str) -> None:
    """A data member's bytes are what its size and digest, when given, say."""
    if member.size is not None and member.size != size:
        raise ArchiveError(
            f"member {member.name!r} has {size} bytes, not the {member.size} described",
            member=member.name,
        )
    if member.sha256 is not None and member.sha256 != digest:
        raise ArchiveError(
            f"member {member.name!r} has SHA-256 {digest}, not the {member.sha256} described",
            member=member.name,
        )


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = tarfile.REGTYPE
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def write_archive(target: Path, members: Iterable[Member], *, level: int = 6) -> list[Written]:
    """Write ``members``, sorted by name, into ``target`` (a ``.tar.gz``), reproducibly.

    Written through a temporary file in ``target``'s folder, then renamed over it: a failure
    leaves neither ``target`` nor the temporary file. Path members are streamed in chunks and
    hashed while written; one whose size or SHA-256 is not what the member says (it changed
    since it was judged) is an :class:`ArchiveError` naming it, as are unsafe or duplicate
    names (before anything is written). Returns each member's name, size and SHA-256 in
    archive order.
    """
    chosen = _checked_names(members)
    folder = target.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create a file in {folder}: {exc.strerror or exc}", file=str(target)
        ) from None
    written: list[Written] = []
    try:
        with os.fdopen(fd, "wb") as raw:
            os.fchmod(raw.fileno(), 0o644)
            # filename="" and mtime=0: the gzip header carries neither a name nor a time.
            with (
                gzip_writer(raw, level) as compressed,
                tarfile.TarFile(
                    fileobj=compressed,
                    mode="w",
                    format=tarfile.PAX_FORMAT,
                    encoding="utf-8",
                    copybufsize=CHUNK,
                ) as tar,
            ):
                for member in chosen:
                    if member.data is not None:
                        data = member.data
                        digest = hashlib.sha256(data).hexdigest()
                        _check_described(member, len(data), digest)
                        tar.addfile(_tarinfo(member.name, len(data)), io.BytesIO(data))
                        written.append(Written(member.name, len(data), digest))
                    else:
                        written.append(_add_path_member(tar, member))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, target)
    except ArchiveError as exc:
        _remove(temporary)
        if exc.file is None:
            exc.file = str(target)
        raise
    except OSError as exc:
        _remove(temporary)
        raise ArchiveError(
            f"cannot write the archive: {exc.strerror or exc}", file=str(target)
        ) from None
    except BaseException:
        _remove(temporary)
        raise
    _sync_folder(folder)
    return written


def gzip_writer(raw: IO[bytes], level: int) -> gzip.GzipFile:
    """A gzip stream into ``raw`` whose header has mtime 0 and no file name."""
    return gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=raw, mtime=0)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class _Gunzip:
    """Exactly one gzip member of a file, decompressed on demand, nothing after it."""

    def __init__(self, handle: BinaryIO, file: str) -> None:
        self.handle = handle
        self.file = file
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # Decompressed bytes not yet read, from ``start``: tar reads 512 bytes at a time, and
        # asking zlib for so little would copy its unconsumed input on every call.
        self.buffer = bytearray()
        self.start = 0
        self.started = False
        self.exhausted = False

    def _fail(self, message: str) -> ArchiveError:
        return ArchiveError(message, file=self.file)

    def _inflate(self, limit: int) -> bytes:
        """Up to ``limit`` more decompressed bytes (possibly none: call again)."""
        if self.inflate.unconsumed_tail:
            source = self.inflate.unconsumed_tail
        else:
            source = self.handle.read(CHUNK)
            if not self.started:
                self.started = True
                if not source:
                    raise self._fail("the file is empty, not a gzip archive")
                if not source.startswith(b"\x1f\x8b"):
                    raise self._fail("not a gzip file (a bundle is a .tar.gz)")
            if not source:
                self.exhausted = True
                return b""
        try:
            out = self.inflate.decompress(source, limit)
        except zlib.error as exc:
            raise self._fail(f"the gzip data is corrupt: {exc}") from None
        if self.inflate.unused_data:
            raise self._fail(
                "bytes follow the end of the gzip stream (a second gzip member, or data "
                "appended to the archive)"
            )
        return out

    def _more(self) -> bool:
        return not self.inflate.eof and not self.exhausted

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the stream (complete or cut)."""
        if n >= CHUNK:
            # Member data: what is buffered, then straight from zlib.
            with memoryview(self.buffer) as view, view[self.start :] as part:
                parts = [bytes(part)]
            self.buffer.clear()
            self.start = 0
            have = len(parts[0])
            while have < n and self._more():
                out = self._inflate(n - have)
                parts.append(out)
                have += len(out)
            return b"".join(parts)
        while len(self.buffer) - self.start < n and self._more():
            if self.start:
                del self.buffer[: self.start]
                self.start = 0
            self.buffer += self._inflate(CHUNK)
        end = min(self.start + n, len(self.buffer))
        with memoryview(self.buffer) as view, view[self.start : end] as part:
            out = bytes(part)
        self.start = end
        return out

    def finish(self) -> None:
        """Fail unless the gzip stream ended, with its checksum, and the file ended with it."""
        if not self.inflate.eof:
            raise self._fail("the archive is truncated: the gzip stream is cut short")
        if self.start != len(self.buffer) or self.inflate.unused_data or self.handle.read(1):
            raise self._fail(
                "bytes follow the end of the gzip stream (a second gzip member, or data "
                "appended to the archive)"
            )


@dataclass(frozen=True)
class _Entry:
    name: str
    size: int
    chunks: Iterator[bytes]


def _pax_records(data: bytes, file: str, near: str) -> dict[str, str]:
    """The records of a PAX extended header, strictly: ``LEN key=value\\n`` each."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos:] == b"\0" * (len(data) - pos):
            break
        space = data.find(b" ", pos, pos + 20)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        record = data[pos : pos + length]
        if length <= 0 or len(record) != length or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError(f"malformed PAX header {near}", file=file)
        key, _, value = record[space - pos + 1 : -1].partition(b"=")
        try:
            field, text = key.decode("utf-8"), value.decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"a PAX header {near} is not UTF-8", file=file) from None
        if field in records:
            # tar tools disagree on which one wins: an archive that reads differently in
            # another tool is refused.
            raise ArchiveError(f"the PAX header {near} sets {field!r} twice", file=file)
        records[field] = text
        pos += length
    return records


def _entries(stream: _Gunzip, file: str, limits: Limits) -> Iterator[_Entry]:
    """Each member of the tar stream in order, checked; the caller reads each one's chunks
    before asking for the next. Ends only after a proper end of archive."""
    names: set[str] = set()
    count = 0
    total = 0
    previous = "the start of the archive"

    def read_exact(n: int, where: str) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise ArchiveError(f"the archive is truncated {where}", file=file)
        return data

    def skip_padding(size: int, where: str) -> None:
        pad = -size % BLOCK
        if pad and read_exact(pad, where).count(0) != pad:
            raise ArchiveError(f"non-zero bytes in the padding {where}", file=file)

    while True:
        block = stream.read(BLOCK)
        if len(block) != BLOCK:
            raise ArchiveError(
                f"the archive is truncated after {previous} (no end-of-archive blocks)",
                file=file,
            )
        if block.count(0) == BLOCK:
            break
        pax: dict[str, str] = {}
        info = _header(block, file, previous, first=count == 0 and not names)
        if info.type == tarfile.XHDTYPE:
            near = f"after {previous}"
            if not 0 <= info.size <= MAX_PAX_HEADER:
                raise ArchiveError(
                    f"a PAX header {near} is too large ({info.size} bytes)", file=file
                )
            data = read_exact(info.size, f"in a PAX header {near}")
            skip_padding(info.size, f"of a PAX header {near}")
            pax = _pax_records(data, file, near)
            block = read_exact(BLOCK, f"after a PAX header {near}")
            if block.count(0) == BLOCK:
                raise ArchiveError(f"a PAX header {near} describes no member", file=file)
            info = _header(block, file, previous, first=False)
        name = pax.get("path", info.name)
        size = info.size
        if "size" in pax:
            if not (pax["size"].isascii() and pax["size"].isdigit()):
                raise ArchiveError(
                    f"member {name!r}: bad PAX size {pax['size']!r}", file=file, member=name
                )
            size = int(pax["size"])
        where = f"member {name!r}"
        if info.type == tarfile.XHDTYPE:
            raise ArchiveError(f"{where}: two PAX headers in a row", file=file, member=name)
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            kind = _TYPE_NAMES.get(info.type, f"of tar type {info.type!r}")
            target = f" (to {info.linkname!r})" if info.linkname else ""
            if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                # Its data is the name (or link target) of the next member: show it.
                held = stream.read(min(max(size, 0), MAX_PAX_HEADER))
                shown = held.rstrip(b"\0").decode("utf-8", "replace")
                name = shown or name
                where = f"member {name!r}"
                target = ""
            raise ArchiveError(
                f"{where} is {kind}{target}; a bundle holds regular files only",
                file=file,
                member=name,
            )
        unknown = sorted(set(pax) - {"path", "size"} - PAX_FIELDS_IGNORED)
        if unknown:
            what = (
                "a GNU sparse file"
                if any(k.startswith("GNU.sparse") for k in unknown)
                else "unsupported"
            )
            raise ArchiveError(
                f"{where}: PAX header field(s) {', '.join(unknown)} ({what}); a bundle holds "
                "plain regular files only",
                file=file,
                member=name,
            )
        if info.linkname:
            raise ArchiveError(
                f"{where} is a regular file with a link target {info.linkname!r}",
                file=file,
                member=name,
            )
        why = check_name(name)
        if why:
            raise ArchiveError(f"{where}: unsafe name: {why}", file=file, member=name)
        if name in names:
            raise ArchiveError(f"{where} appears twice in the archive", file=file, member=name)
        names.add(name)
        count += 1
        if count > limits.members:
            raise ArchiveError(
                f"{where}: the archive has more than {limits.members} members",
                file=file,
                member=name,
            )
        if size < 0:
            raise ArchiveError(f"{where}: negative size", file=file, member=name)
        if size > limits.member_bytes:
            raise ArchiveError(
                f"{where} is {size} bytes, over the limit of {limits.member_bytes} for one member",
                file=file,
                member=name,
            )
        total += size
        if total > limits.total_bytes:
            raise ArchiveError(
                f"{where}: the members add up to more than the limit of {limits.total_bytes} bytes",
                file=file,
                member=name,
            )
        chunks = _chunks(stream, file, name, size)
        yield _Entry(name, size, chunks)
        for _ in chunks:  # whatever the caller left unread
            pass
        skip_padding(size, f"after {where}")
        previous = where
    # The first end block is read; the second must follow, then only zero padding.
    end = stream.read(BLOCK)
    if len(end) != BLOCK:
        raise ArchiveError(
            "the archive is truncated: the second end-of-archive block is missing", file=file
        )
    if end.count(0) != BLOCK:
        raise ArchiveError(
            f"data after a zero block following {previous}: a member after the end of the "
            "archive, which tar tools would skip",
            file=file,
        )
    padding = 0
    while True:
        tail = stream.read(CHUNK)
        if not tail:
            break
        padding += len(tail)
        if tail.count(0) != len(tail):
            raise ArchiveError(
                f"data after the end of the archive (after {previous}): a member or bytes "
                "appended after the end-of-archive blocks, which tar tools would skip",
                file=file,
            )
        if padding > MAX_TRAILING_ZEROS:
            raise ArchiveError(
                f"more than {MAX_TRAILING_ZEROS} bytes of padding after the end of the archive",
                file=file,
            )
    stream.finish()
    _check_nesting(names, file)


def _header(block: bytes, file: str, previous: str, *, first: bool) -> tarfile.TarInfo:
    try:
        return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as exc:
        if first:
            raise ArchiveError(
                f"not a tar archive inside the gzip stream ({exc})", file=file
            ) from None
        raise ArchiveError(f"a damaged tar header after {previous} ({exc})", file=file) from None


def _chunks(stream: _Gunzip, file: str, name: str, size: int) -> Iterator[bytes]:
    left = size
    while left:
        data = stream.read(min(left, CHUNK))
        if not data:
            raise ArchiveError(
                f"member {name!r} is cut short: the archive is truncated ({size - left} of "
                f"{size} bytes)",
                file=file,
                member=name,
            )
        left -= len(data)
        yield data


@contextlib.contextmanager
def _open_stream(path: Path) -> Iterator[_Gunzip]:
    try:
        # O_NONBLOCK: opening a fifo must not hang; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ArchiveError(
            f"cannot read the archive: {exc.strerror or exc}", file=str(path)
        ) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchiveError("the archive is not a regular file", file=str(path))
        os.set_blocking(fd, True)
        yield _Gunzip(handle, str(path))


def scan_archive(
    path: Path,
    keep: Callable[[str], bool] = lambda n: False,
    limits: Limits = Limits(),
    visit: Callable[[str], Callable[[bytes], None] | None] | None = None,
) -> list[Scanned]:
    """Every member's name, size and SHA-256 in archive order, and the bytes of those ``keep``
    selects, reading the archive as a stream and writing nothing to disk.

    ``visit(name)`` may return a function that is given the member's bytes as soon as they
    are read, and they are not kept: memory then stays that of one member, however many
    such members there are (a bundle's runs). Each is still at most ``limits.kept_bytes``.

    :class:`ArchiveError` (naming the member where there is one) for anything but the layout
    the module docstring describes: not gzip or not tar, truncated anywhere, a member that is
    not a regular file, an unsafe or duplicate name, over a limit, or anything after the end.
    """
    file = str(path)
    scanned: list[Scanned] = []
    kept = 0
    try:
        with _open_stream(path) as stream:
            for entry in _entries(stream, file, limits):
                digest = hashlib.sha256()
                parts: list[bytes] | None = None
                consumer = visit(entry.name) if visit is not None else None
                keeping = consumer is None and keep(entry.name)
                if keeping or consumer is not None:
                    size = kept + entry.size if keeping else entry.size
                    if size > limits.kept_bytes:
                        raise ArchiveError(
                            f"member {entry.name!r}: the members to read add up to more than "
                            f"the limit of {limits.kept_bytes} bytes",
                            file=file,
                            member=entry.name,
                        )
                    kept = size if keeping else kept
                    parts = []
                for chunk in entry.chunks:
                    digest.update(chunk)
                    if parts is not None:
                        parts.append(chunk)
                data = None if parts is None else b"".join(parts)
                if consumer is not None and data is not None:
                    consumer(data)
                    data = None
                scanned.append(Scanned(entry.name, entry.size, digest.hexdigest(), data))
    except OSError as exc:
        raise ArchiveError(f"cannot read the archive: {exc.strerror or exc}", file=file) from None
    return scanned


def extract_archive(
    path: Path, folder: Path, expected: Mapping[str, str], limits: Limits = Limits()
) -> None:
    """Write the members of the archive named in ``expected`` (name -> SHA-256) into
    ``folder``, which must exist and be empty, each checked while written.

    A digest mismatch, a member missing from the archive or one not in ``expected`` is an
    :class:`ArchiveError`, and everything written is removed. Nothing is ever written outside
    ``folder``: folders are created one component at a time relative to the one above,
    never through a symbolic link, files with ``O_CREAT|O_EXCL|O_NOFOLLOW``; files 0644,
    folders 0755.
    """
    file = str(path)
    _check_empty(folder)
    try:
        root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ArchiveError(f"cannot open {folder}: {exc.strerror or exc}", file=file) from None
    created_files: list[tuple[str, ...]] = []
    created_dirs: list[tuple[str, ...]] = []
    try:
        seen: set[str] = set()
        with _open_stream(path) as stream:
            for entry in _entries(stream, file, limits):
                want = expected.get(entry.name)
                if want is None:
                    raise ArchiveError(
                        f"member {entry.name!r} is in the archive but not expected",
                        file=file,
                        member=entry.name,
                    )
                seen.add(entry.name)
                parts = tuple(entry.name.split("/"))
                parent = _make_parents(root, parts[:-1], created_dirs, folder, entry.name, file)
                try:
                    digest = _write_file(parent, parts, entry, created_files, folder, file)
                finally:
                    os.close(parent)
                if digest != want:
                    raise ArchiveError(
                        f"member {entry.name!r} has SHA-256 {digest}, not the {want} expected",
                        file=file,
                        member=entry.name,
                    )
        missing = sorted(set(expected) - seen)
        if missing:
            raise ArchiveError(
                f"member(s) missing from the archive: {', '.join(map(repr, missing))}",
                file=file,
                member=missing[0],
            )
    except BaseException:
        _undo(root, created_files, created_dirs)
        raise
    finally:
        os.close(root)


def _check_empty(folder: Path) -> None:
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise ArchiveError("not a folder", file=str(folder))
        with os.scandir(folder) as entries:
            if any(True for _ in entries):
                raise ArchiveError(
                    "the folder to extract into is not empty",
                    file=str(folder),
                )
    except OSError as exc:
        raise ArchiveError(
            f"cannot use the folder: {exc.strerror or exc}", file=str(folder)
        ) from None


def _open_dir(root: int, parts: tuple[str, ...]) -> int:
    """A descriptor of the folder ``parts`` under ``root``, never through a symlink."""
    fd = os.dup(root)
    try:
        for part in parts:
            below = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_parents(
    root: int,
    parts: tuple[str, ...],
    created: list[tuple[str, ...]],
    folder: Path,
    name: str,
    file: str,
) -> int:
    fd = os.dup(root)
    try:
        for depth, part in enumerate(parts, 1):
            made = False
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            else:
                made = True
                created.append(parts[:depth])
            try:
                below = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                shown = folder.joinpath(*parts[:depth])
                raise ArchiveError(
                    f"member {name!r}: {shown} is not a folder (a symbolic link or a file?): "
                    f"{exc.strerror or exc}; refusing to write through it",
                    file=file,
                    member=name,
                ) from None
            if made:
                os.fchmod(below, 0o755)  # the umask may have removed bits
            os.close(fd)
            fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_file(
    parent: int,
    parts: tuple[str, ...],
    entry: _Entry,
    created: list[tuple[str, ...]],
    folder: Path,
    file: str,
) -> str:
    try:
        fd = os.open(
            parts[-1],
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
            0o644,
            dir_fd=parent,
        )
    except OSError as exc:
        raise ArchiveError(
            f"member {entry.name!r}: cannot create {folder.joinpath(*parts)}: "
            f"{exc.strerror or exc}",
            file=file,
            member=entry.name,
        ) from None
    created.append(parts)
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, 0o644)
        for chunk in entry.chunks:
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _undo(root: int, files: list[tuple[str, ...]], dirs: list[tuple[str, ...]]) -> None:
    """Remove what an extraction wrote, through descriptors, never following a link."""
    for parts in files:
        with contextlib.suppress(OSError):
            parent = _open_dir(root, parts[:-1])
            try:
                os.unlink(parts[-1], dir_fd=parent)
            finally:
                os.close(parent)
    for parts in reversed(dirs):
        with contextlib.suppress(OSError):
            parent = _open_dir(root, parts[:-1])
            try:
                os.rmdir(parts[-1], dir_fd=parent)
            finally:
                os.close(parent)
