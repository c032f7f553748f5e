"""The bundle archive: the same members always give the same bytes; a file that changed after it
was judged, an unsafe or duplicate name never gets written; and every hostile archive (links,
devices, escaping names through PAX or GNU headers, truncation at any byte, anything after the
end, over a limit) is refused by name, never skipped the way ``tarfile`` skips it."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import random
import shutil
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.bundle import archive
from compliancegate.bundle.archive import (
    ArchiveError,
    Limits,
    Member,
    check_name,
    extract_archive,
    scan_archive,
    write_archive,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_bytes(
    *entries: tuple[tarfile.TarInfo, bytes | None], fmt: int = tarfile.PAX_FORMAT
) -> bytes:
    """A tar stream with exactly these headers, as a hostile producer would write it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def regular(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info, None


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def put(tmp_path: Path, data: bytes, name: str = "hostile.tar.gz") -> Path:
    target = tmp_path / name
    target.write_bytes(data)
    return target


def refused(path: Path, member: str | None = None, **kwargs: object) -> ArchiveError:
    with pytest.raises(ArchiveError) as caught:
        scan_archive(path, **kwargs)  # type: ignore[arg-type]
    if member is not None:
        assert repr(member) in str(caught.value), str(caught.value)
    return caught.value


MEMBERS = {
    "manifest.json": b'{"files": []}\n',
    "runs/abc/results.json": b"[1, 2, 3]\n" * 50,
    "runs/abc/report.sarif": b"",
    "policies/\u00e9t\u00e9.yaml": b"rules: []\n",
    "deep/" + "/".join(["d" * 60] * 4) + "/long-name.txt": b"long" * 300,
}


def write_files(folder: Path, mtime: int, mode: int) -> list[Member]:
    members = []
    for index, (name, data) in enumerate(sorted(MEMBERS.items())):
        if index % 2:
            members.append(Member(name, data=data))
            continue
        path = folder / f"file{index}"
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        path.chmod(mode)
        members.append(Member(name, path=path, size=len(data), sha256=sha(data)))
    return members


# --- Writing: reproducible --------------------------------------------------------------------


def test_same_members_give_the_same_bytes_whatever_the_order_umask_files_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = []
    for attempt, (umask, mtime, mode, now) in enumerate(
        [(0o022, 1_000_000, 0o600, 1.0e9), (0o077, 1_700_000_000, 0o755, 1.9e9)]
    ):
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        members = write_files(folder, mtime, mode)
        random.Random(attempt).shuffle(members)
        monkeypatch.setattr(time, "time", lambda now=now: now)
        old = os.umask(umask)
        try:
            write_archive(folder / "bundle.tar.gz", reversed(members) if attempt else members)
        finally:
            os.umask(old)
        outputs.append((folder / "bundle.tar.gz").read_bytes())
    assert outputs[0] == outputs[1]


def test_the_layout_is_pax_regular_files_sorted_0644_root_epoch_and_a_bare_gzip_header(
    tmp_path: Path,
) -> None:
    members = write_files(tmp_path, 1_234_567, 0o700)
    written = write_archive(tmp_path / "b.tar.gz", members)
    raw = (tmp_path / "b.tar.gz").read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] == 0, "no FNAME (or any other) gzip flag"
    assert raw[4:8] == b"\0\0\0\0", "gzip mtime 0"
    assert [w.name for w in written] == sorted(MEMBERS)
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(MEMBERS)
    for info in infos:
        assert info.type == tarfile.REGTYPE
        assert (info.mode, info.uid, info.gid, info.uname, info.gname, info.mtime) == (
            0o644,
            0,
            0,
            "",
            "",
            0,
        )
        assert set(info.pax_headers) <= {"path"}
    assert stat.S_IMODE((tmp_path / "b.tar.gz").stat().st_mode) == 0o644


def test_write_then_scan_gives_the_same_names_sizes_and_digests(tmp_path: Path) -> None:
    members = write_files(tmp_path, 0, 0o644)
    written = write_archive(tmp_path / "b.tar.gz", members)
    scanned = scan_archive(tmp_path / "b.tar.gz", keep=lambda n: n.endswith(".json"))
    assert [(s.name, s.size, s.sha256) for s in scanned] == [
        (w.name, w.size, w.sha256) for w in written
    ]
    assert [(w.name, w.size, w.sha256) for w in written] == [
        (name, len(MEMBERS[name]), sha(MEMBERS[name])) for name in sorted(MEMBERS)
    ]
    for item in scanned:
        assert item.data == (MEMBERS[item.name] if item.name.endswith(".json") else None)


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, archive.CHUNK - 1, archive.CHUNK + 1])
def test_path_members_of_every_size_around_blocks_and_chunks_round_trip(
    tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    written = write_archive(tmp_path / "b.tar.gz", [Member("f", path=tmp_path / "f")])
    assert written == [archive.Written("f", size, sha(data))]
    assert scan_archive(tmp_path / "b.tar.gz", keep=lambda n: True)[0].data == data


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "f")


@pytest.mark.parametrize(
    "change",
    ["same size, other bytes", "one byte more", "one byte less", "emptied"],
)
def test_a_file_changed_after_it_was_described_is_refused_and_nothing_is_left(
    tmp_path: Path, change: str
) -> None:
    original = b"judged bytes " * 100
    path = tmp_path / "f"
    path.write_bytes(original)
    member = Member("evidence/f", path=path, size=len(original), sha256=sha(original))
    changed = {
        "same size, other bytes": original[:-1] + b"!",
        "one byte more": original + b"!",
        "one byte less": original[:-1],
        "emptied": b"",
    }[change]
    path.write_bytes(changed)
    with pytest.raises(ArchiveError) as caught:
        write_archive(tmp_path / "b.tar.gz", [Member("a", data=b"a"), member])
    assert "'evidence/f'" in str(caught.value)
    assert "changed after it was read" in str(caught.value)
    assert caught.value.member == "evidence/f"
    assert leftovers(tmp_path) == []


def test_a_file_growing_beyond_an_unstated_size_is_caught_by_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    write_archive(tmp_path / "ok.tar.gz", [Member("f", path=path, sha256=sha(b"abc"))])
    path.write_bytes(b"abcd")
    with pytest.raises(ArchiveError, match="SHA-256"):
        write_archive(tmp_path / "b.tar.gz", [Member("f", path=path, sha256=sha(b"abc"))])
    assert leftovers(tmp_path) == ["ok.tar.gz"]


def test_a_path_member_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ArchiveError, match=r"'p'.*not a regular file"):
        write_archive(tmp_path / "b.tar.gz", [Member("p", path=tmp_path / "fifo")])
    with pytest.raises(ArchiveError, match="cannot open"):
        write_archive(tmp_path / "b.tar.gz", [Member("m", path=tmp_path / "missing")])
    assert leftovers(tmp_path) == ["fifo"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([Member("a", b"1"), Member("a", b"2")], "given twice"),
        ([Member("a", b"1"), Member("a/b", b"2")], "inside member 'a'"),
        ([Member("../x", b"1")], "'..'"),
        ([Member("x")], "exactly one of data and path"),
        ([Member("x", b"1", path=Path("/etc/hostname"))], "exactly one of data and path"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(
    tmp_path: Path, members: list[Member], message: str
) -> None:
    with pytest.raises(ArchiveError, match=message):
        write_archive(tmp_path / "b.tar.gz", members)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (Member("d", b"abc", size=4), "has 3 bytes, not the 4 described"),
        (Member("d", b"abc", sha256=sha(b"abd")), "not the"),
    ],
)
def test_a_data_member_unlike_its_description_is_refused(
    tmp_path: Path, member: Member, message: str
) -> None:
    with pytest.raises(ArchiveError, match=message):
        write_archive(tmp_path / "b.tar.gz", [member])
    assert list(tmp_path.iterdir()) == []
    write_archive(tmp_path / "b.tar.gz", [Member("d", b"abc", size=3, sha256=sha(b"abc"))])


def test_a_failed_write_leaves_an_existing_target_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "b.tar.gz").write_bytes(b"previous")
    with pytest.raises(ArchiveError):
        write_archive(tmp_path / "b.tar.gz", [Member("f", path=tmp_path / "missing")])
    assert (tmp_path / "b.tar.gz").read_bytes() == b"previous"
    assert leftovers(tmp_path) == ["b.tar.gz"]


def test_a_target_in_a_missing_folder_is_an_archive_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="cannot create a file in"):
        write_archive(tmp_path / "no" / "b.tar.gz", [Member("f", b"")])


# --- Names ------------------------------------------------------------------------------------

UNSAFE = [
    "",
    "/",
    "/etc/passwd",
    "//server/share",
    "\\\\server\\share",
    "C:\\x",
    "C:x",
    "c:/x",
    "a\\b",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    ".",
    "./a",
    "a/.",
    "a//b",
    "a/",
    "a\x00b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x1bb",
    "a\x7fb",
    "a\x85b",
    "invoice\u202etxt.exe",
    "\u2066a",
    "\udcff",
    "x" * 256,
    "\u00e9" * 128,
    "/".join(["a" * 200] * 6),
]


@pytest.mark.parametrize("name", UNSAFE)
def test_every_unsafe_name_is_refused(name: str) -> None:
    assert check_name(name) is not None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("C:\\x", "backslash"),
        ("C:x", "drive letter"),
        ("a/../b", "'..' component"),
        ("./a", "'.' component"),
        ("a//b", "empty component"),
        ("a\x00", "control character"),
        ("x" * 256, "component of the name is longer than 255"),
    ],
)
def test_the_reason_says_what_is_wrong(name: str, reason: str) -> None:
    assert reason in (check_name(name) or "")


@pytest.mark.parametrize(
    "name", ["a", "a/b", "\u00e9t\u00e9/\u00fc.json", "x" * 255, ".hidden", "a..b", "...", "a b"]
)
def test_ordinary_names_are_accepted(name: str) -> None:
    assert check_name(name) is None


def test_the_length_limits_are_exact() -> None:
    assert check_name("x" * 255) is None
    assert check_name("x" * 256) is not None
    at_limit = "/".join(["y" * 203] * 5)  # 5 * 203 + 4 = 1,019
    assert check_name(at_limit + "/abcd") is None  # 1,024 bytes
    assert check_name(at_limit + "/abcde") is not None  # 1,025 bytes


@settings(max_examples=400)
@given(
    st.text(
        alphabet=st.sampled_from(["a", "b", ".", "/", "\\", ":", "C", "\u00e9", "\x00", " "]),
        max_size=12,
    )
)
def test_an_accepted_name_is_its_own_normal_form_and_stays_inside(name: str) -> None:
    if check_name(name) is not None:
        return
    assert posixpath.normpath(name) == name
    assert not PurePosixPath(name).is_absolute()
    assert not PureWindowsPath(name).anchor and not PureWindowsPath(name).drive
    assert ".." not in name.split("/")
    assert "\\" not in name and "\x00" not in name


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=5, unique=True))
def test_accepted_names_survive_the_round_trip(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    names = [n for n in names if check_name(n) is None]
    # A name that is another's folder cannot be a file too.
    names = [n for n in names if not any(o.startswith(n + "/") for o in names)]
    if not names:
        return
    target = tmp_path_factory.mktemp("names") / "b.tar.gz"
    write_archive(target, [Member(n, n.encode()) for n in names])
    scanned = scan_archive(target, keep=lambda n: True)
    assert [(s.name, s.data) for s in scanned] == [(n, n.encode()) for n in sorted(names)]


# --- Reading: hostile archives ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        (special("link", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        (special("link", tarfile.LNKTYPE, "other"), "hard link"),
        (special("link", tarfile.DIRTYPE), "directory"),
        (special("link", tarfile.FIFOTYPE), "fifo"),
        (special("link", tarfile.CHRTYPE), "character device"),
        (special("link", tarfile.BLKTYPE), "block device"),
        (special("link", tarfile.CONTTYPE), "contiguous"),
        (special("link", tarfile.GNUTYPE_SPARSE), "sparse"),
    ],
)
def test_a_member_that_is_not_a_regular_file_is_refused_by_name(
    tmp_path: Path, entry: tuple[tarfile.TarInfo, None], kind: str
) -> None:
    path = put(tmp_path, gz(tar_bytes(regular("first"), entry)))
    error = refused(path, "link")
    assert kind in str(error)
    assert error.member == "link"


def test_a_gnu_long_name_header_is_refused_naming_the_long_name(tmp_path: Path) -> None:
    name = "n" * 150
    path = put(tmp_path, gz(tar_bytes(regular(name), fmt=tarfile.GNU_FORMAT)))
    assert "GNU long-name" in str(refused(path, name))


def test_a_gnu_long_link_is_refused(tmp_path: Path) -> None:
    path = put(
        tmp_path,
        gz(tar_bytes(special("l", tarfile.SYMTYPE, "t" * 150), fmt=tarfile.GNU_FORMAT)),
    )
    assert "GNU long-link" in str(refused(path))


def test_pax_sparse_records_are_refused(tmp_path: Path) -> None:
    info, data = regular("sparse", b"abc")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
    path = put(tmp_path, gz(tar_bytes((info, data))))
    assert "sparse" in str(refused(path, "sparse"))


def test_a_pax_linkpath_on_a_regular_file_is_refused(tmp_path: Path) -> None:
    info, data = regular("f", b"abc")
    info.pax_headers = {"linkpath": "/etc/passwd"}
    path = put(tmp_path, gz(tar_bytes((info, data))))
    assert "linkpath" in str(refused(path, "f"))


def test_a_global_pax_header_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"path": "x"}
    ) as tar:
        info, data = regular("f")
        tar.addfile(info, io.BytesIO(data))
    assert "global PAX header" in str(refused(put(tmp_path, gz(out.getvalue()))))


@pytest.mark.parametrize(
    ("name", "pax_path", "shown"),
    [
        ("../x", None, "../x"),
        ("/etc/x", None, "/etc/x"),
        ("a/./b", None, "a/./b"),
        ("C:\\x", None, "C:\\x"),
        ("safe", "a/../../x", "a/../../x"),
        ("safe", "/etc/cron.d/x", "/etc/cron.d/x"),
        ("safe", "a\x00b", "a\x00b"),
    ],
)
def test_an_unsafe_name_is_refused_after_pax_headers_apply(
    tmp_path: Path, name: str, pax_path: str | None, shown: str
) -> None:
    info, data = regular(name)
    if pax_path is not None:
        info.pax_headers = {"path": pax_path}
    path = put(tmp_path, gz(tar_bytes((info, data))))
    assert "unsafe name" in str(refused(path, shown))


def test_a_ustar_prefix_is_applied_before_the_name_is_checked(tmp_path: Path) -> None:
    info, data = regular("../" + "p" * 120 + "/x")
    path = put(tmp_path, gz(tar_bytes((info, data), fmt=tarfile.USTAR_FORMAT)))
    assert "unsafe name" in str(refused(path))


@pytest.mark.parametrize("size", ["+6", "6.0", "\u0666", " 6", "-1", ""])
def test_a_pax_size_that_is_not_plain_decimal_is_refused(tmp_path: Path, size: str) -> None:
    info, data = regular("f", b"abcdef")
    info.pax_headers = {"size": size}
    assert "bad PAX size" in str(refused(put(tmp_path, gz(tar_bytes((info, data)))), "f"))


def test_a_pax_size_is_the_size_read(tmp_path: Path) -> None:
    info, data = regular("f", b"abcdef")
    info.pax_headers = {"size": "6"}
    assert scan_archive(put(tmp_path, gz(tar_bytes((info, data)))))[0].size == 6


@pytest.mark.parametrize(
    "records",
    [
        b"10 path=a\n10 path=b\n",
        b"5 a=b\n",
        b"x path=a\n",
        b"12 path=a\n",
        b"9 path=a",
        b"9 patha\n\n",
        b"\xff",
    ],
)
def test_a_malformed_pax_header_is_refused(tmp_path: Path, records: bytes) -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = len(records)
    raw = header.tobuf(tarfile.USTAR_FORMAT) + records + b"\0" * (-len(records) % 512)
    info, data = regular("f")
    raw += info.tobuf(tarfile.USTAR_FORMAT) + data + b"\0" * 511 + b"\0" * 1024
    assert "PAX header" in str(refused(put(tmp_path, gz(raw))))


def test_a_duplicate_name_is_refused(tmp_path: Path) -> None:
    path = put(tmp_path, gz(tar_bytes(regular("a", b"1"), regular("b"), regular("a", b"2"))))
    assert "twice" in str(refused(path, "a"))


def test_a_member_inside_another_member_is_refused(tmp_path: Path) -> None:
    path = put(tmp_path, gz(tar_bytes(regular("a/b"), regular("a"))))
    assert "inside member 'a'" in str(refused(path, "a/b"))


def good_archive(tmp_path: Path) -> bytes:
    members = [
        Member("a.json", b"{}"),
        Member("b/c.txt", os.urandom(700)),
        Member("d", b"x" * 1500),
    ]
    write_archive(tmp_path / "good.tar.gz", members)
    return (tmp_path / "good.tar.gz").read_bytes()


def test_the_archive_cut_at_every_byte_is_refused(tmp_path: Path) -> None:
    whole = good_archive(tmp_path)
    scan_archive(tmp_path / "good.tar.gz")
    for cut in range(len(whole)):
        path = put(tmp_path, whole[:cut], "cut.tar.gz")
        with pytest.raises(ArchiveError):
            scan_archive(path)


def test_the_tar_cut_at_every_block_and_inside_members_is_refused(tmp_path: Path) -> None:
    """Each cut recompressed as a complete gzip stream: only the tar layer is short, the case
    ``tarfile`` itself passes silently at header boundaries. Only cutting the zero padding
    after the two end-of-archive blocks leaves a whole archive."""
    whole = gzip.decompress(good_archive(tmp_path))
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
        last = max(m.offset_data + m.size + (-m.size % 512) for m in tar.getmembers())
    end = last + 1024
    assert whole[last:].count(0) == len(whole) - last
    cuts = sorted(set(range(0, len(whole) + 1, 512)) | set(range(0, end + 1, 97)))
    for cut in cuts:
        path = put(tmp_path, gz(whole[:cut]), "cut.tar.gz")
        if cut >= end:
            assert len(scan_archive(path)) == 3
            continue
        error = refused(path)
        assert "truncated" in str(error) or "cut short" in str(error), (cut, str(error))


def test_tarfile_alone_would_accept_a_tar_cut_at_a_header(tmp_path: Path) -> None:
    """Why scan_archive reads the tar itself: this is what it must not do."""
    whole = gzip.decompress(good_archive(tmp_path))
    with tarfile.open(fileobj=io.BytesIO(gz(whole[: 512 + 512])), mode="r|gz") as tar:
        assert [m.name for m in tar] == ["a.json"]
    path = put(tmp_path, gz(whole[:1024]), "cut.tar.gz")
    assert "truncated" in str(refused(path))


def test_a_member_cut_short_names_it(tmp_path: Path) -> None:
    whole = gzip.decompress(good_archive(tmp_path))
    # a.json: header + 1 block; b/c.txt header at 1024, data from 1536
    path = put(tmp_path, gz(whole[: 1536 + 100]), "cut.tar.gz")
    error = refused(path, "b/c.txt")
    assert "cut short" in str(error)
    assert error.member == "b/c.txt"


def test_a_second_gzip_member_is_refused(tmp_path: Path) -> None:
    whole = good_archive(tmp_path)
    extra = gz(tar_bytes(regular("evil", b"added later")))
    assert "second gzip member" in str(refused(put(tmp_path, whole + extra)))
    # gzip.open would have concatenated them.
    assert b"added later" in gzip.decompress(whole + extra)


@pytest.mark.parametrize("tail", [b"\x01", b"garbage", b"\0" * 10 + b"\x1f\x8b"])
def test_bytes_after_the_gzip_stream_are_refused(tmp_path: Path, tail: bytes) -> None:
    refused(put(tmp_path, good_archive(tmp_path) + tail))


def test_non_zero_bytes_after_the_end_blocks_are_refused(tmp_path: Path) -> None:
    whole = gzip.decompress(good_archive(tmp_path))
    assert "after the end of the archive" in str(
        refused(put(tmp_path, gz(whole + b"\0" * 512 + b"junk")))
    )


def test_a_member_appended_after_the_end_of_archive_blocks_is_refused(tmp_path: Path) -> None:
    whole = gzip.decompress(good_archive(tmp_path))
    appended = whole + tar_bytes(regular("evil", b"hidden"))
    with tarfile.open(fileobj=io.BytesIO(gz(appended))) as tar:
        assert "evil" not in tar.getnames()  # tarfile never sees it
    assert "after the end" in str(refused(put(tmp_path, gz(appended))))
    # Right after the two zero blocks, not only after the record padding.
    end = len(whole.rstrip(b"\0"))
    end += -end % 512 + 1024
    refused(put(tmp_path, gz(whole[:end] + tar_bytes(regular("evil")))))


def test_a_member_after_a_single_zero_block_is_refused(tmp_path: Path) -> None:
    raw = tar_bytes(regular("a"))
    body = raw[:1024] + b"\0" * 512 + tar_bytes(regular("evil"))
    assert "zero block" in str(refused(put(tmp_path, gz(body))))


def test_padding_after_a_member_must_be_zeros(tmp_path: Path) -> None:
    raw = bytearray(tar_bytes(regular("a", b"x")))
    raw[600] = 1
    assert "padding" in str(refused(put(tmp_path, gz(bytes(raw))), "a"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 a zip file", "not a gzip file"),
        (b"plain text", "not a gzip file"),
        (gz(b"just some text, not tar" * 40), "not a tar archive"),
        (gz(b""), "truncated"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xde\xad" * 20, "corrupt"),
        (tar_bytes(regular("a")), "not a gzip file"),
    ],
)
def test_what_is_not_a_tar_gz_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    assert message in str(refused(put(tmp_path, data)))


def test_a_corrupt_gzip_checksum_is_refused(tmp_path: Path) -> None:
    whole = bytearray(good_archive(tmp_path))
    whole[-8] ^= 0xFF  # CRC32
    assert "corrupt" in str(refused(put(tmp_path, bytes(whole))))


def test_what_is_not_a_regular_file_is_an_archive_error(tmp_path: Path) -> None:
    refused(tmp_path)
    refused(tmp_path / "missing.tar.gz")
    os.mkfifo(tmp_path / "fifo")  # opening it for reading must not wait for a writer
    assert "not a regular file" in str(refused(tmp_path / "fifo"))
    assert "not a regular file" in str(refused(Path("/dev/zero")))


def test_an_archive_split_across_two_gzip_members_is_refused(tmp_path: Path) -> None:
    """gzip tools join the members into one valid tar; a bundle is exactly one member."""
    whole = gzip.decompress(good_archive(tmp_path))
    joined = gz(whole[:1536]) + gz(whole[1536:])
    with tarfile.open(fileobj=io.BytesIO(joined)) as tar:
        assert len(tar.getnames()) == 3
    assert "second gzip member" in str(refused(put(tmp_path, joined)))


def test_a_bad_header_checksum_after_the_first_member_is_refused(tmp_path: Path) -> None:
    raw = bytearray(tar_bytes(regular("a"), regular("b")))
    raw[1024 + 10] ^= 0x55
    assert "damaged tar header after member 'a'" in str(refused(put(tmp_path, gz(bytes(raw)))))


# --- Limits: just below passes, just above fails ----------------------------------------------


def archive_of(tmp_path: Path, sizes: list[int]) -> Path:
    target = tmp_path / "limits.tar.gz"
    write_archive(target, [Member(f"m{i:03}", b"z" * size) for i, size in enumerate(sizes)])
    return target


@pytest.mark.parametrize("count", [1, 5, 20])
def test_the_member_count_limit(tmp_path: Path, count: int) -> None:
    path = archive_of(tmp_path, [1] * count)
    assert len(scan_archive(path, limits=Limits(members=count))) == count
    assert "more than" in str(refused(path, f"m{count - 1:03}", limits=Limits(members=count - 1)))


@pytest.mark.parametrize("size", [0, 1, 512, 5000])
def test_the_member_size_limit(tmp_path: Path, size: int) -> None:
    path = archive_of(tmp_path, [size, 1])
    scan_archive(path, limits=Limits(member_bytes=size if size else 1))
    if size > 1:
        assert "for one member" in str(refused(path, "m000", limits=Limits(member_bytes=size - 1)))


@pytest.mark.parametrize("sizes", [[1, 1], [100, 200, 300], [4096, 1, 0]])
def test_the_total_size_limit(tmp_path: Path, sizes: list[int]) -> None:
    path = archive_of(tmp_path, sizes)
    scan_archive(path, limits=Limits(total_bytes=sum(sizes)))
    last = max(i for i, s in enumerate(sizes) if s)
    assert "add up" in str(refused(path, f"m{last:03}", limits=Limits(total_bytes=sum(sizes) - 1)))


@pytest.mark.parametrize("sizes", [[1, 1], [100, 200, 300], [4096, 7]])
def test_the_kept_size_limit(tmp_path: Path, sizes: list[int]) -> None:
    path = archive_of(tmp_path, sizes)
    everything = scan_archive(path, keep=lambda n: True, limits=Limits(kept_bytes=sum(sizes)))
    assert [len(s.data or b"") for s in everything] == sizes
    error = refused(
        path, f"m{len(sizes) - 1:03}", keep=lambda n: True, limits=Limits(kept_bytes=sum(sizes) - 1)
    )
    assert "members to read" in str(error)
    # Members not kept do not count.
    scan_archive(path, keep=lambda n: n == "m000", limits=Limits(kept_bytes=sizes[0]))


def test_a_huge_declared_size_is_refused_before_any_data_is_read(tmp_path: Path) -> None:
    info = tarfile.TarInfo("huge")
    info.size = 5 * 1024**3
    raw = info.tobuf(tarfile.PAX_FORMAT)  # a header claiming 5 GiB, and no data at all
    error = refused(put(tmp_path, gz(raw)), "huge")
    assert "for one member" in str(error)


# --- Extracting --------------------------------------------------------------------------------


def written_archive(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    members = {"a.json": b"{}", "b/c/d.txt": b"deep", "b/e": b"e" * 3000}
    target = tmp_path / "b.tar.gz"
    write_archive(target, [Member(n, d) for n, d in members.items()])
    return target, {n: sha(d) for n, d in members.items()}


def tree(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): stat.S_IMODE(p.lstat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


def test_extract_writes_only_under_the_folder_with_fixed_modes(tmp_path: Path) -> None:
    path, expected = written_archive(tmp_path)
    (tmp_path / "canary").write_text("untouched")
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(0o077)
    try:
        extract_archive(path, out, expected)
    finally:
        os.umask(old)
    assert tree(out) == {
        "a.json": 0o644,
        "b": 0o755,
        "b/c": 0o755,
        "b/c/d.txt": 0o644,
        "b/e": 0o644,
    }
    assert (out / "b/c/d.txt").read_bytes() == b"deep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "canary", "out"]
    assert (tmp_path / "canary").read_text() == "untouched"


def test_extract_refuses_a_folder_that_is_not_empty_or_not_a_folder(tmp_path: Path) -> None:
    path, expected = written_archive(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".keep").write_text("")
    with pytest.raises(ArchiveError, match="not empty"):
        extract_archive(path, out, expected)
    with pytest.raises(ArchiveError, match="not a folder"):
        extract_archive(path, path, expected)
    (tmp_path / "link").symlink_to(out)
    with pytest.raises(ArchiveError, match="not a folder"):
        extract_archive(path, tmp_path / "link", expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("digest", "has SHA-256"),
        ("missing", "missing from the archive: 'zzz'"),
        ("extra", "'b/e' is in the archive but not expected"),
    ],
)
def test_extract_removes_what_it_wrote_when_the_archive_is_not_what_was_expected(
    tmp_path: Path, change: str, message: str
) -> None:
    path, expected = written_archive(tmp_path)
    expected = dict(expected)
    if change == "digest":
        expected["b/e"] = sha(b"something else")
    elif change == "missing":
        expected["zzz"] = sha(b"")
    else:
        del expected["b/e"]
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ArchiveError, match=message):
        extract_archive(path, out, expected)
    assert list(out.iterdir()) == []


def test_extract_refuses_a_hostile_member_and_removes_the_members_before_it(tmp_path: Path) -> None:
    raw = tar_bytes(regular("a/ok", b"fine"), special("a/link", tarfile.SYMTYPE, "/etc"))
    path = put(tmp_path, gz(raw))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ArchiveError, match="'a/link' is a symbolic link"):
        extract_archive(path, out, {"a/ok": sha(b"fine"), "a/link": sha(b"")})
    assert list(out.iterdir()) == []


def test_extract_never_writes_through_a_symlinked_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link planted in the folder after it was found empty (a race) is never followed."""
    path, expected = written_archive(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "b").symlink_to(outside)
    monkeypatch.setattr(archive, "_check_empty", lambda folder: None)
    with pytest.raises(ArchiveError, match=r"'b/c/d\.txt'.*refusing to write through it"):
        extract_archive(path, out, expected)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["b"]  # its own file removed, the link left
    assert (out / "b").is_symlink()


def test_extract_never_overwrites_or_follows_a_planted_file_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, expected = written_archive(tmp_path)
    target = tmp_path / "victim"
    target.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").symlink_to(target)
    monkeypatch.setattr(archive, "_check_empty", lambda folder: None)
    with pytest.raises(ArchiveError, match="cannot create"):
        extract_archive(path, out, expected)
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("keep", [0.1, 0.3, 0.5])
def test_extract_of_a_truncated_archive_leaves_nothing(tmp_path: Path, keep: float) -> None:
    path, expected = written_archive(tmp_path)
    whole = gzip.decompress(path.read_bytes())
    cut = put(tmp_path, gz(whole[: int(len(whole) * keep)]), "cut.tar.gz")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ArchiveError, match=r"truncated|cut short"):
        extract_archive(cut, out, expected)
    assert list(out.iterdir()) == []


# --- Other tools ------------------------------------------------------------------------------

needs_tar = pytest.mark.skipif(shutil.which("tar") is None, reason="no tar command")


@needs_tar
def test_gnu_tar_reads_what_write_archive_writes(tmp_path: Path) -> None:
    members = write_files(tmp_path, 0, 0o644)
    write_archive(tmp_path / "b.tar.gz", members)
    listing = subprocess.run(
        ["tar", "-tzf", str(tmp_path / "b.tar.gz")], capture_output=True, text=True, check=True
    )
    assert listing.stdout.splitlines() == sorted(MEMBERS)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xzf", str(tmp_path / "b.tar.gz"), "-C", str(out)], check=True)
    for name, data in MEMBERS.items():
        assert (out / name).read_bytes() == data


@needs_tar
def test_a_gnu_tar_pax_archive_of_files_is_read_and_one_with_folders_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"hi\n")
    (tmp_path / "g").write_bytes(b"yo\n")
    common = ["tar", "--format=pax", "-C", str(tmp_path), "-czf"]
    subprocess.run([*common, str(tmp_path / "files.tgz"), "--no-recursion", "d/f", "g"], check=True)
    scanned = scan_archive(tmp_path / "files.tgz")
    assert [(s.name, s.sha256) for s in scanned] == [("d/f", sha(b"hi\n")), ("g", sha(b"yo\n"))]
    subprocess.run([*common, str(tmp_path / "tree.tgz"), "d"], check=True)
    assert "is a directory" in str(refused(tmp_path / "tree.tgz", "d"))


# --- Fuzzing: damage anywhere is an ArchiveError or a still-valid archive, never a crash -------

FUZZ_BASE: dict[str, bytes] = {}


def fuzz_base(tmp_path: Path) -> bytes:
    if "tar" not in FUZZ_BASE:
        info, data = regular("p" * 120 + "/\u00e9", b"pax named")
        FUZZ_BASE["tar"] = tar_bytes(regular("a", b"one"), (info, data), regular("c", b"x" * 700))
    return FUZZ_BASE["tar"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10_239), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_damaged_tar_bytes_never_crash_the_reader(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[int, int]], in_gzip: bool
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    raw = fuzz_base(folder)
    layer = bytearray(gz(raw) if in_gzip else raw)
    for position, value in changes:
        layer[position % len(layer)] = value
    data = bytes(layer) if in_gzip else gz(bytes(layer))
    path = put(folder, data)
    try:
        scanned = scan_archive(path)
    except ArchiveError:
        return
    for item in scanned:
        assert check_name(item.name) is None


def test_a_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    raw = bytearray(tar_bytes(regular("abc")))
    raw[1] = 0xFF  # name field: b"a\xffc"
    checksum = sum(raw[:148]) + 8 * 32 + sum(raw[156:512])
    raw[148:156] = b"%06o\0 " % checksum
    assert "UTF-8" in str(refused(put(tmp_path, gz(bytes(raw)))))


@pytest.mark.parametrize("change", ["grows", "shrinks"])
def test_a_file_changing_while_it_is_being_archived_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Another process writes to the file after its size was taken, during the copy."""
    data = os.urandom(3 * archive.CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    original = archive._HashingReader.read

    def racing_read(self: archive._HashingReader, n: int = -1) -> bytes:
        if self.read_so_far == 0:
            with path.open("r+b") as handle:
                if change == "grows":
                    handle.seek(0, os.SEEK_END)
                    handle.write(b"appended")
                else:
                    handle.truncate(len(data) // 2)
        return original(self, n)

    monkeypatch.setattr(archive._HashingReader, "read", racing_read)
    with pytest.raises(ArchiveError, match="changed after it was read") as caught:
        write_archive(tmp_path / "b.tar.gz", [Member("evidence/f", path=path)])
    assert caught.value.member == "evidence/f"
    assert leftovers(tmp_path) == []


def test_a_regular_file_with_a_link_target_is_refused(tmp_path: Path) -> None:
    info, data = regular("f", b"abc")
    info.linkname = "/etc/passwd"
    path = put(tmp_path, gz(tar_bytes((info, data), fmt=tarfile.USTAR_FORMAT)))
    assert "link target '/etc/passwd'" in str(refused(path, "f"))


def test_visited_members_are_handed_over_and_not_kept(tmp_path: Path) -> None:
    """``visit`` gets each selected member's bytes as it is read; they are not kept, and the
    limit applies to each such member, not to their sum (a bundle of many runs)."""
    target = tmp_path / "v.tar.gz"
    write_archive(target, [Member(f"runs/{n}/run.json", data=b"x" * 80) for n in range(5)])
    seen: dict[str, bytes] = {}

    def visit(name: str) -> Callable[[bytes], None] | None:
        return lambda data: seen.__setitem__(name, data)

    scanned = scan_archive(target, visit=visit, limits=Limits(kept_bytes=100))
    assert sorted(seen) == [m.name for m in scanned] and all(m.data is None for m in scanned)
    assert set(seen.values()) == {b"x" * 80}
    with pytest.raises(ArchiveError, match="limit"):
        scan_archive(target, keep=lambda name: True, limits=Limits(kept_bytes=100))
    big = tmp_path / "big.tar.gz"
    write_archive(big, [Member("runs/a/run.json", data=b"x" * 101)])
    with pytest.raises(ArchiveError, match="limit"):
        scan_archive(big, visit=visit, limits=Limits(kept_bytes=100))
